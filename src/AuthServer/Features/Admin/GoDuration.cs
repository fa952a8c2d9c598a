using System.Globalization;
using System.Text.RegularExpressions;

namespace AuthServer.Features.Admin;

/// Go's `time.ParseDuration` with its error texts: `ban_duration` ("24h", "1h30m", "-1h") is
/// parsed by GoTrue with it, and the 400 message repeats Go's error.
internal static partial class GoDuration
{
    public static bool TryParse(string value, out TimeSpan duration, out string error)
    {
        duration = TimeSpan.Zero;
        error = "";
        var quoted = "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        var s = value;
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+')) { negative = s[0] == '-'; s = s[1..]; }
        if (s == "0") return true;
        if (s.Length == 0) { error = "time: invalid duration " + quoted; return false; }

        double totalTicks = 0;
        while (s.Length > 0)
        {
            var number = Number().Match(s);
            if (!number.Success || number.Value is "." or "") { error = "time: invalid duration " + quoted; return false; }
            s = s[number.Length..];
            var unitLength = 0;
            while (unitLength < s.Length && s[unitLength] != '.' && !char.IsAsciiDigit(s[unitLength])) unitLength++;
            if (unitLength == 0) { error = "time: missing unit in duration " + quoted; return false; }
            var unit = s[..unitLength];
            s = s[unitLength..];
            double ticksPerUnit = unit switch
            {
                "ns" => 0.01,
                "us" or "µs" or "μs" => 10,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                _ => -1,
            };
            if (ticksPerUnit < 0)
            {
                error = $"time: unknown unit \"{unit}\" in duration {quoted}";
                return false;
            }
            totalTicks += double.Parse(number.Value, NumberStyles.Float, CultureInfo.InvariantCulture) * ticksPerUnit;
        }
        // Go's Duration is int64 nanoseconds: about 292 years.
        if (totalTicks > 9.2233720368547758e18 / 100) { error = "time: invalid duration " + quoted; return false; }
        duration = TimeSpan.FromTicks((long)(negative ? -totalTicks : totalTicks));
        return true;
    }

    [GeneratedRegex(@"^[0-9]*(\.[0-9]*)?")]
    private static partial Regex Number();
}
