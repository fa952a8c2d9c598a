using AuthServer.Config;
using AuthServer.Http;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace AuthServer.Security;

/// Leaked-password protection (`GOTRUE_PASSWORD_HIBP_*`), as GoTrue's `supabase/hibp` client: the
/// Pwned Passwords k-anonymity range API. Only the first five hex digits of the password's SHA-1 leave
/// the process; the other 35 are looked up locally in the answer, which lists every known suffix of that
/// prefix (plus, since we ask for `Add-Padding`, decoy lines with count 0 that never count as pwned).
/// Concurrent checks of one prefix share one request, and with the bloom cache on, suffixes seen pwned
/// are remembered so a burst of sign-ups with common passwords does not become a burst of calls.
internal sealed partial class PwnedPasswords
{
    readonly HibpOptions options;
    readonly ILogger<PwnedPasswords> log;
    readonly HttpClient http;
    readonly PwnedBloomCache? cache;
    readonly ConcurrentDictionary<string, Task<HashSet<string>>> inFlight = new();

    public PwnedPasswords(PasswordOptions passwordOptions, ILogger<PwnedPasswords> log)
    {
        options = passwordOptions.Hibp;
        this.log = log;
        http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { Timeout = options.Timeout };
        // GoTrue's default agent is a URL, not an RFC 9110 product token, so it is added unvalidated.
        http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", options.UserAgent);
        if (options.Enabled && options.BloomEnabled)
        {
            cache = new PwnedBloomCache(options.BloomItems, options.BloomFalsePositives);
            log.LogInformation("Pwned passwords cache is {Size:F2} KB", cache.Bits / (8 * 1024.0));
        }
    }

    /// True when the password is known pwned. When the API cannot answer (down, slow, non-200):
    /// fail-closed throws GoTrue's 500, fail-open logs a warning and lets the password through.
    public async Task<bool> IsPwnedAsync(string password, CancellationToken ct)
    {
        var hex = Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(password)));
        var prefix = hex[..5];
        var suffix = hex[5..];
        if (cache?.Contains(prefix, suffix) == true) return true;
        // One request per prefix at a time: the shared task is not tied to one caller's cancellation
        // (the client timeout bounds it) and is dropped once done, so a failure is retried next time.
        var shared = inFlight.GetOrAdd(prefix, FetchAsync);
        try
        {
            var pwned = await shared.WaitAsync(ct);
            return pwned.Contains(suffix);
        }
        catch (Exception e) when (!ct.IsCancellationRequested && e is HttpRequestException or TaskCanceledException or TimeoutException)
        {
            // The exception names at most the URL, which carries the 5-digit prefix only.
            if (options.FailClosed)
                throw ApiError.Internal("Unable to perform password strength check with HaveIBeenPwned.org.", e);
            log.LogWarning("Unable to perform password strength check with HaveIBeenPwned.org, pwned passwords are being allowed: {Error}", e.Message);
            return false;
        }
        finally
        {
            if (shared.IsCompleted) inFlight.TryRemove(KeyValuePair.Create(prefix, shared));
        }
    }

    async Task<HashSet<string>> FetchAsync(string prefix)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(options.ApiUrl, "range/" + prefix));
        request.Headers.Add("Add-Padding", "true");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"Pwned Passwords answered {(int)response.StatusCode}", null, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        // As supabase/hibp: lines not shaped `SUFFIX:COUNT` are skipped, and count 0 is padding.
        var pwned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in body.Split('\n'))
        {
            var match = RangeLine().Match(line);
            if (match.Success && match.Groups[2].Value.TrimStart('0').Length > 0)
                pwned.Add(match.Groups[1].Value);
        }
        if (pwned.Count > 0) cache?.Add(prefix, pwned);
        return pwned;
    }

    [GeneratedRegex(@"^([0-9A-F]{35}):([0-9]+)\s*$")]
    private static partial Regex RangeLine();
}

/// GoTrue's `HIBPBloomCache` (utilities/hibpcache.go): a bloom filter of the full hashes that range
/// answers listed as pwned, sized by `GOTRUE_PASSWORD_HIBP_BLOOM_ITEMS` and `_FALSE_POSITIVES`. A hit
/// answers "pwned" without a call; a miss asks the API. Once it has taken in its configured item count it
/// is cleared, so its false-positive rate never climbs past the target.
internal sealed class PwnedBloomCache
{
    readonly ulong[] words;
    readonly int hashes;
    readonly int capacity;
    int count;

    public long Bits { get; }

    public PwnedBloomCache(int items, double falsePositives)
    {
        // The textbook sizing: m = -n ln p / (ln 2)^2 bits, k = m/n ln 2 hash functions.
        var bits = Math.Max(64, (long)Math.Ceiling(-items * Math.Log(falsePositives) / (Math.Log(2) * Math.Log(2))));
        words = new ulong[(bits + 63) / 64];
        Bits = words.LongLength * 64;
        hashes = Math.Max(1, (int)Math.Round((double)Bits / items * Math.Log(2)));
        capacity = items;
    }

    public void Add(string prefix, IEnumerable<string> suffixes)
    {
        lock (words)
            foreach (var suffix in suffixes)
            {
                if (++count > capacity)
                {
                    Array.Clear(words);
                    count = 1;
                }
                foreach (var bit in Positions(prefix + suffix)) words[bit / 64] |= 1UL << (int)(bit % 64);
            }
    }

    public bool Contains(string prefix, string suffix)
    {
        lock (words)
            return Positions(prefix + suffix).All(bit => (words[bit / 64] & (1UL << (int)(bit % 64))) != 0);
    }

    /// The key is already a SHA-1, so its bytes serve as two independent hashes (Kirsch–Mitzenmacher).
    IEnumerable<long> Positions(string hexHash)
    {
        var bytes = Convert.FromHexString(hexHash);
        var h1 = BitConverter.ToUInt64(bytes, 0);
        var h2 = BitConverter.ToUInt64(bytes, 8) | 1;
        for (var i = 0; i < hashes; i++)
            yield return (long)((h1 + (ulong)i * h2) % (ulong)Bits);
    }
}
