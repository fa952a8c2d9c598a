using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

/// Turns the JSON lines bench/run.sh appended during a run into the Markdown report and its JSON twin.
/// Every ratio divides a flow's median throughput by the mean of the floor measured before and after the
/// flows, at the same concurrency, in the same run. A floor whose two measurements differ by more than
/// 15 % makes the run invalid (the machine's load changed under us).
static class Report
{
    const double MaxFloorDrift = 0.15;
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static int Write(string inPath, string mdPath, string jsonPath)
    {
        var records = File.ReadLines(inPath).Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var meta = records.Where(r => Kind(r) == "meta").SelectMany(r => r.Where(kv => kv.Key != "kind"))
            .GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value?.ToString() ?? "");
        var defs = records.Where(r => Kind(r) == "flowdef").ToList();
        var floors = records.Where(r => Kind(r) == "floor").ToList();
        var flows = records.Where(r => Kind(r) == "flow").ToList();
        // Variant runs (BENCH_POOLER, BENCH_REPLICAS) add columns: the pooler's CPU per request (counted in the
        // CPU ratio too) and the WAL written per request.
        var extras = new[] { ("pooler_us", "pooler CPU µs/req"), ("wal_bytes", "WAL B/req") }
            .Where(x => flows.Any(r => r[x.Item1] is not null)).ToList();
        var extraHeads = string.Concat(extras.Select(x => $" {x.Item2} |"));
        var extraRule = string.Concat(extras.Select(_ => "---:|"));

        // Floors: (name, conns) -> before/after.
        var floorStats = floors.GroupBy(r => (Name: Str(r, "name"), Conns: Int(r, "conns")))
            .ToDictionary(g => g.Key, g => new FloorStat(
                g.Where(r => Str(r, "phase") == "before").Select(r => Num(r, "rps")).DefaultIfEmpty(double.NaN).Average(),
                g.Where(r => Str(r, "phase") == "after").Select(r => Num(r, "rps")).DefaultIfEmpty(double.NaN).Average(),
                g.Select(r => Num(r, "server_us")).Where(v => v > 0).DefaultIfEmpty(double.NaN).Average(),
                g.Select(r => Num(r, "pg_us")).Where(v => v > 0).DefaultIfEmpty(double.NaN).Average(),
                g.Select(r => Num(r, "p99")).DefaultIfEmpty(double.NaN).Average()));
        var invalidFloors = floorStats.Where(kv => kv.Value.Drift > MaxFloorDrift).Select(kv => kv.Key).ToList();

        var md = new StringBuilder();
        var json = new JsonObject { ["meta"] = JsonSerializer.SerializeToNode(meta), ["valid"] = invalidFloors.Count == 0 };
        md.AppendLine($"# Benchmark run {Get(meta, "date")}").AppendLine();
        md.AppendLine("Numbers from a shared 2-vCPU machine where other engineers' builds run at the same time: read the **ratios** " +
                      "(flow ÷ floor measured in the same run, at the same concurrency) and the CPU time per request, not the absolute rates. " +
                      "*ratio* = flow rps ÷ floor rps; *CPU ratio* = the floor's CPU per operation ÷ the flow's (server + PostgreSQL) CPU per request " +
                      "(for pgbench floors the floor's CPU is PostgreSQL's only), the steadier of the two on a noisy machine.").AppendLine();
        md.AppendLine("| | |").AppendLine("|---|---|");
        foreach (var (k, v) in meta.Where(kv => kv.Key != "date" && kv.Value.Length > 0)) md.AppendLine($"| {k} | {v} |");
        md.AppendLine();
        md.AppendLine(invalidFloors.Count == 0
            ? $"**Run valid**: every floor measured before and after the flows agreed within {MaxFloorDrift:P0}."
            : $"**Run INVALID**: floors that moved more than {MaxFloorDrift:P0} between before and after: " +
              string.Join(", ", invalidFloors.Select(f => $"{f.Name}@{f.Conns}")) + ". The machine's load changed during the run.");
        md.AppendLine();

        // Flow results: (name, conns) -> reps.
        var flowStats = flows.GroupBy(r => (Name: Str(r, "name"), Conns: Int(r, "conns")))
            .ToDictionary(g => g.Key, g => g.ToList());
        double Median(IEnumerable<double> xs)
        {
            var s = xs.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToList();
            return s.Count == 0 ? double.NaN : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
        }
        double FloorValue(string floor, int conns) =>
            floorStats.TryGetValue((floor, conns), out var f) ? f.Mean
            : floorStats.TryGetValue((floor, 0), out var f0) ? f0.Mean : double.NaN;

        var summary = new StringBuilder();
        summary.AppendLine($"| flow | conns | rps | p50 ms | p99 ms | server CPU µs/req | PG CPU µs/req |{extraHeads} floor | ratio | target |");
        summary.AppendLine($"|---|---:|---:|---:|---:|---:|---:|{extraRule}---|---:|---|");
        var detail = new StringBuilder();
        var jsonFlows = new JsonArray();
        foreach (var def in defs)
        {
            var name = Str(def, "name");
            var floor = Str(def, "floor");
            var target = Num(def, "target");
            var also = Str(def, "also").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (Str(def, "pending").Length > 0)
            {
                detail.AppendLine($"### {name} (pending)").AppendLine().AppendLine($"{Str(def, "desc")}. Not measured: {Str(def, "pending")}.").AppendLine();
                jsonFlows.Add(new JsonObject { ["name"] = name, ["pending"] = Str(def, "pending") });
                continue;
            }
            detail.AppendLine($"### {name}").AppendLine();
            // A replica's share (flow@rN, BENCH_REPLICAS) has no floor of its own.
            detail.AppendLine($"{Str(def, "desc")}." + (floor.Length > 0 ? $" Floor: `{floor}`; target ratio ≥ {target:P0}." : "") +
                              (also.Length > 0 ? " Also compared with: " + string.Join(", ", also.Select(a => $"`{a}`")) + "." : ""));
            detail.AppendLine();
            detail.AppendLine($"| conns | reps | rps median [min–max] | p50 ms | p90 ms | p99 ms | server CPU µs/req | PG CPU µs/req |{extraHeads} RSS MB idle / peak | errors | floor rps (before / after) | ratio | CPU ratio | " +
                              string.Join(" | ", also.Select(a => $"÷ {a}")) + (also.Length > 0 ? " |" : ""));
            detail.AppendLine($"|---:|---:|---:|---:|---:|---:|---:|---:|{extraRule}---:|---|---:|---:|---:|" + string.Concat(also.Select(_ => "---:|")));
            foreach (var ((fname, conns), reps) in flowStats.Where(kv => kv.Key.Name == name).OrderBy(kv => kv.Key.Conns))
            {
                var rps = Median(reps.Select(r => Num(r, "rps")));
                double floorRps;
                string floorText;
                if (floor == "solo")
                {
                    // Mixed load: the throughput the solo runs at this concurrency predict for the mix.
                    var parts = Str(def, "mix").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(':')).ToList();
                    var totalWeight = parts.Sum(p => double.Parse(p[1], Inv));
                    var denom = parts.Sum(p => double.Parse(p[1], Inv) / totalWeight /
                        Median(flowStats.GetValueOrDefault((p[0], conns), []).Select(r => Num(r, "rps"))));
                    floorRps = 1 / denom;
                    floorText = $"{F(floorRps)} (solo mix)";
                }
                else
                {
                    floorRps = FloorValue(floor, conns);
                    var fs = floorStats.GetValueOrDefault((floor, conns)) ?? floorStats.GetValueOrDefault((floor, 0));
                    floorText = fs is null ? "–" : $"{F(fs.Before)} / {F(fs.After)}" + (fs.Drift > MaxFloorDrift ? " ⚠" : "");
                }
                var ratio = rps / floorRps;
                // CPU ratio: the floor's measured CPU per operation over the flow's (server + PostgreSQL) per request.
                var fcpu = floorStats.GetValueOrDefault((floor, conns)) ?? floorStats.GetValueOrDefault((floor, 0));
                var floorCpu = fcpu is null ? double.NaN : Nz(fcpu.ServerUs) + Nz(fcpu.PgUs);
                var statuses = new SortedDictionary<string, long>();
                foreach (var r in reps)
                    foreach (var (code, count) in r["statuses"]?.AsObject() ?? [])
                        statuses[code] = statuses.GetValueOrDefault(code) + (long)count!.GetValue<double>();
                var errors = string.Join(" ", statuses.Where(s => !s.Key.StartsWith('2')).Select(s => $"{s.Key}×{s.Value}"));
                var socketErrors = reps.Sum(r => Num(r, "socket_errors"));
                if (socketErrors > 0) errors += $" socket×{socketErrors}";
                if (errors.Length == 0) errors = "0";
                var alsoRatios = also.Select(a => rps / FloorValue(a, conns)).ToList();
                var p50 = Median(reps.Select(r => Num(r, "p50")));
                var p99 = Median(reps.Select(r => Num(r, "p99")));
                var serverUs = Median(reps.Select(r => Num(r, "server_us")));
                var pgUs = Median(reps.Select(r => Num(r, "pg_us")));
                var poolerUs = Median(reps.Select(r => Num(r, "pooler_us")));
                var cpuRatio = floorCpu / (Nz(serverUs) + Nz(pgUs) + Nz(poolerUs));
                var extraCells = string.Concat(extras.Select(x => $" {F(Median(reps.Select(r => Num(r, x.Item1))))} |"));
                detail.AppendLine($"| {conns} | {reps.Count} | {F(rps)} [{F(reps.Min(r => Num(r, "rps")))}–{F(reps.Max(r => Num(r, "rps")))}] | " +
                                  $"{F(p50)} | {F(Median(reps.Select(r => Num(r, "p90"))))} | {F(p99)} | {F(serverUs)} | {F(pgUs)} |{extraCells} " +
                                  $"{F(Median(reps.Select(r => Num(r, "rss_mb"))))} / {F(reps.Max(r => Num(r, "hwm_mb")))} | {errors} | {floorText} | **{R(ratio)}** | {R(cpuRatio)} | " +
                                  string.Join(" | ", alsoRatios.Select(R)) + (also.Length > 0 ? " |" : ""));
                var targetCell = floor.Length == 0 ? "–" : $"≥ {target:P0}{(ratio >= target ? " ✓" : " ✗")}";
                summary.AppendLine($"| {name} | {conns} | {F(rps)} | {F(p50)} | {F(p99)} | {F(serverUs)} | {F(pgUs)} |{extraCells} {(floor.Length == 0 ? "–" : floor)} | **{R(ratio)}** | {targetCell} |");
                jsonFlows.Add(new JsonObject
                {
                    ["name"] = name, ["conns"] = conns, ["reps"] = reps.Count, ["rps"] = J(rps), ["p50_ms"] = J(p50), ["p99_ms"] = J(p99),
                    ["server_cpu_us"] = J(serverUs), ["pg_cpu_us"] = J(pgUs), ["pooler_cpu_us"] = J(poolerUs), ["peak_rss_mb"] = J(reps.Max(r => Num(r, "hwm_mb"))),
                    ["statuses"] = JsonSerializer.SerializeToNode(statuses), ["floor"] = floor, ["floor_rps"] = J(floorRps),
                    ["ratio"] = J(ratio), ["cpu_ratio"] = J(cpuRatio), ["target"] = target, ["met"] = ratio >= target,
                    ["also"] = new JsonObject(also.Zip(alsoRatios).Select(p => KeyValuePair.Create(p.First, (JsonNode?)J(p.Second)))),
                });
            }
            detail.AppendLine();
        }

        md.AppendLine("## Summary").AppendLine().Append(summary).AppendLine();
        md.AppendLine("## Flows").AppendLine().Append(detail);
        md.AppendLine("## Floors").AppendLine();
        md.AppendLine("rps (or tx/s for pgbench, ops/s for bcrypt) before and after the flows. pgbench runs with clients = min(conns, pool size).").AppendLine();
        md.AppendLine("| floor | conns | before | after | drift | server CPU µs/op | PG CPU µs/op | p99 ms |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        var jsonFloors = new JsonArray();
        foreach (var ((name, conns), f) in floorStats.OrderBy(kv => kv.Key.Name).ThenBy(kv => kv.Key.Conns))
        {
            md.AppendLine($"| {name} | {(conns == 0 ? "–" : conns)} | {F(f.Before)} | {F(f.After)} | {(double.IsNaN(f.Drift) ? "–" : f.Drift.ToString("P0", Inv))}{(f.Drift > MaxFloorDrift ? " ⚠" : "")} | {F(f.ServerUs)} | {F(f.PgUs)} | {F(f.P99)} |");
            jsonFloors.Add(new JsonObject
            {
                ["name"] = name, ["conns"] = conns, ["before"] = J(f.Before), ["after"] = J(f.After), ["drift"] = J(f.Drift),
                ["server_cpu_us"] = J(f.ServerUs), ["pg_cpu_us"] = J(f.PgUs),
            });
        }
        json["flows"] = jsonFlows;
        json["floors"] = jsonFloors;
        File.WriteAllText(mdPath, md.ToString());
        File.WriteAllText(jsonPath, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.ChangeExtension(mdPath, ".summary.md"), summary.ToString());
        return 0;
    }

    sealed record FloorStat(double Before, double After, double ServerUs, double PgUs, double P99)
    {
        public double Mean => double.IsNaN(After) ? Before : double.IsNaN(Before) ? After : (Before + After) / 2;
        public double Drift => Math.Abs(After - Before) / Before;
    }

    static double Nz(double v) => double.IsNaN(v) ? 0 : v;
    static string Kind(JsonObject r) => Str(r, "kind");
    static string Str(JsonObject r, string key) => r[key]?.ToString() ?? "";
    static int Int(JsonObject r, string key) => (int)Num(r, key);
    static double Num(JsonObject r, string key) => r[key] is JsonValue v
        ? v.TryGetValue<double>(out var d) ? d : double.TryParse(v.ToString(), NumberStyles.Float, Inv, out var p) ? p : double.NaN
        : double.NaN;
    static string Get(Dictionary<string, string> m, string key) => m.GetValueOrDefault(key, "");
    static string F(double v) => double.IsNaN(v) || double.IsInfinity(v) ? "–" : v >= 100 ? v.ToString("F0", Inv) : v.ToString("0.##", Inv);
    static string R(double v) => double.IsNaN(v) || double.IsInfinity(v) ? "–" : v.ToString("P0", Inv);
    static JsonNode? J(double v) => double.IsNaN(v) || double.IsInfinity(v) ? null : Math.Round(v, 3);
}
