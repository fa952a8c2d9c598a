using System.Globalization;
using System.Text.RegularExpressions;

namespace AuthServer.Config;

/// A setting that cannot be used: the boot stops with this message, which names the variable.
internal sealed class ConfigException(string message) : Exception(message);

/// Reads GoTrue's env vars with GoTrue's parsing rules (config.md §0): Go `strconv.ParseBool`
/// booleans (1/t/T/TRUE/true/True…), Go durations (`300s`, `1h30m`), comma lists. The .NET binder
/// would reject `1`/`t` for a bool, which GoTrue accepts, so options are read through this instead.
internal sealed partial class EnvReader(IConfiguration config)
{
    readonly List<string> warnings = [];

    /// Start-up warnings (unbuilt features switched on, values the reference corrects or ignores),
    /// logged once when the host is built; GoTrue logs these and boots.
    public IReadOnlyList<string> Warnings => warnings;

    public void Warn(string message) => warnings.Add(message);

    /// The raw configuration, for settings read as sections (ExternalOptions' per-provider keys).
    public IConfiguration Configuration => config;

    /// One of our checks that the reference does not make: a warning, or with ours `GOTRUE_STRICT_CONFIG=true`
    /// a refused boot. The message names the variable.
    public void Stricter(string message)
    {
        if (Bool("GOTRUE_STRICT_CONFIG", false)) throw new ConfigException(message);
        Warn(message);
    }

    /// The first non-empty value among the names (GoTrue's prefixed name first, then the bare one).
    public string? String(params string[] names)
    {
        foreach (var name in names)
        {
            var value = config[name];
            if (!string.IsNullOrWhiteSpace(value)) return value.Trim();
        }
        return null;
    }

    public string Required(params string[] names) =>
        String(names) ?? throw new ConfigException($"{names[0]} is required but not set");

    public bool Bool(string name, bool fallback)
    {
        var value = String(name);
        return value switch
        {
            null => fallback,
            "1" or "t" or "T" or "TRUE" or "true" or "True" => true,
            "0" or "f" or "F" or "FALSE" or "false" or "False" => false,
            _ => throw new ConfigException($"{name}: '{value}' is not a boolean (use true or false)"),
        };
    }

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var value = String(name);
        if (value is null) return fallback;
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
            throw new ConfigException($"{name}: '{value}' is not an integer");
        if (number < min || number > max)
            throw new ConfigException($"{name}: {number} is outside {min}..{max}");
        return number;
    }

    public double Double(string name, double fallback)
    {
        var value = String(name);
        if (value is null) return fallback;
        return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
            ? number
            : throw new ConfigException($"{name}: '{value}' is not a number");
    }

    /// A Go duration (`10s`, `1h30m`, `250ms`); a bare number is taken as seconds.
    public TimeSpan? Duration(string name)
    {
        var value = String(name);
        if (value is null) return null;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            return TimeSpan.FromSeconds(seconds);
        var match = GoDuration().Match(value);
        if (!match.Success) throw new ConfigException($"{name}: '{value}' is not a duration (e.g. 30s, 1h)");
        var total = TimeSpan.Zero;
        foreach (Capture part in match.Groups["part"].Captures)
        {
            var unit = UnitPart().Match(part.Value);
            var amount = double.Parse(unit.Groups[1].Value, CultureInfo.InvariantCulture);
            total += unit.Groups[2].Value switch
            {
                "ns" => TimeSpan.FromTicks((long)(amount / 100)),
                "us" or "µs" => TimeSpan.FromMicroseconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                _ => TimeSpan.FromHours(amount),
            };
        }
        return total;
    }

    public IReadOnlyList<string> List(string name) =>
        String(name)?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) ?? [];

    [GeneratedRegex(@"^(?<part>[0-9]*\.?[0-9]+(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"^([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)$")]
    private static partial Regex UnitPart();
}
