// bench/ helper, one binary for everything bench/run.sh can't do in shell:
//   bcrypt <cost> <threads> <seconds>      hash and verify throughput, BCrypt.Net-Next and libxcrypt (native C, what the
//                                          server uses when libcrypt.so.1 is there), JSON on stdout
//   hash <cost> <password>                 one bcrypt hash (for seeding users through the database)
//   mint <secret> <from> <to> <ttl_s>      HS256 access tokens shaped like GoTrue's for seeded user/session n (one a line)
//   report <results.jsonl> <out.md> <out.json>   the Markdown and JSON report of a run
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

return args.FirstOrDefault() switch
{
    "bcrypt" => Bcrypt(int.Parse(args[1]), int.Parse(args[2]), double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)),
    "hash" => Print(BCrypt.Net.BCrypt.HashPassword(args[2], int.Parse(args[1]))),
    "mint" => Mint(args[1], int.Parse(args[2]), int.Parse(args[3]), int.Parse(args[4])),
    "report" => Report.Write(args[1], args[2], args[3]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: BenchTools bcrypt <cost> <threads> <seconds> | hash <cost> <password> | mint <secret> <from> <to> <ttl_s> | report <in.jsonl> <out.md> <out.json>");
    return 2;
}

static int Print(string s)
{
    Console.WriteLine(s);
    return 0;
}

// Throughput with `threads` dedicated threads for a fixed wall time each, hash then verify; per-op CPU
// from the process's own CPU time. The floors of every password flow on this machine: BCrypt.Net-Next
// (`hash`, `verify`) and the system's libxcrypt (`hash_native`, `verify_native`, skipped when absent).
static int Bcrypt(int cost, int threads, double seconds)
{
    const string password = "bench-password-1";
    var hash = BCrypt.Net.BCrypt.HashPassword(password, cost); // also the JIT warm-up
    BCrypt.Net.BCrypt.Verify(password, hash);
    var result = new JsonObject { ["cost"] = cost, ["threads"] = threads, ["seconds"] = seconds };
    var ops = new List<(string Name, Func<bool> Op)>
    {
        ("hash", () => BCrypt.Net.BCrypt.HashPassword(password, cost).Length > 0),
        ("verify", () => BCrypt.Net.BCrypt.Verify(password, hash)),
    };
    if (NativeCrypt.Hash(password, hash) == hash) // libcrypt.so.1 present and bit-exact on this hash
    {
        var salt = BCrypt.Net.BCrypt.GenerateSalt(cost);
        ops.Add(("hash_native", () => NativeCrypt.Hash(password, salt) is { Length: 60 }));
        ops.Add(("verify_native", () => NativeCrypt.Hash(password, hash) == hash));
    }
    foreach (var (op, run) in ops)
    {
        long total = 0;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            long n = 0;
            while (wall.Elapsed.TotalSeconds < seconds)
            {
                if (!run()) throw new InvalidOperationException(op + " failed");
                n++;
            }
            Interlocked.Add(ref total, n);
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        var elapsed = wall.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds;
        result[op + "_per_s"] = Math.Round(total / elapsed, 2);
        result[op + "_cpu_us"] = total == 0 ? 0 : Math.Round(cpu / total);
    }
    Console.WriteLine(result.ToJsonString());
    return 0;
}

// Seeded user n has id md5('u'||n)::uuid and session md5('s'||n)::uuid (bench/seed.sql).
static int Mint(string secret, int from, int to, int ttl)
{
    var key = Encoding.UTF8.GetBytes(secret);
    var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    var header = B64(Encoding.UTF8.GetBytes("""{"alg":"HS256","typ":"JWT"}"""));
    var output = new StringBuilder();
    for (var n = from; n <= to; n++)
    {
        var claims = new JsonObject
        {
            ["aud"] = "authenticated", ["exp"] = now + ttl, ["iat"] = now, ["sub"] = Md5Uuid("u" + n),
            ["email"] = $"user{n}@bench.local", ["phone"] = "",
            ["app_metadata"] = new JsonObject { ["provider"] = "email", ["providers"] = new JsonArray("email") },
            ["user_metadata"] = new JsonObject(), ["role"] = "authenticated", ["aal"] = "aal1",
            ["amr"] = new JsonArray(new JsonObject { ["method"] = "password", ["timestamp"] = now }),
            ["session_id"] = Md5Uuid("s" + n), ["is_anonymous"] = false,
        };
        var input = header + "." + B64(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        output.Append(input).Append('.').Append(B64(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(input)))).Append('\n');
    }
    Console.Write(output);
    return 0;
}

static string Md5Uuid(string s) => Guid.ParseExact(Convert.ToHexStringLower(MD5.HashData(Encoding.ASCII.GetBytes(s))), "N").ToString();
static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

// The same P/Invoke the server makes (src/AuthServer/Security/Bcrypt.cs), kept minimal: the floor is "native C".
static class NativeCrypt
{
    [System.Runtime.InteropServices.DllImport("libcrypt.so.1", EntryPoint = "crypt_rn")]
    static extern IntPtr CryptRn(byte[] phrase, byte[] setting, byte[] data, int size);

    [ThreadStatic] static byte[]? data;

    public static string? Hash(string password, string setting)
    {
        try
        {
            data ??= new byte[32768];
            var p = CryptRn(Nul(password), Nul(setting), data, data.Length);
            return p == IntPtr.Zero ? null : System.Runtime.InteropServices.Marshal.PtrToStringAnsi(p);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    static byte[] Nul(string s) => [.. Encoding.UTF8.GetBytes(s), 0];
}
