using System.Globalization;
using System.Text.RegularExpressions;

namespace AuthServer.Features.Web3;

/// The message's URI as Go's `url.ParseRequestURI` splits it: `Host` keeps the port, `Hostname` drops it.
internal sealed record MessageUri(string Raw, string Scheme, string Host, string Hostname);

/// A parsed Sign in with Solana / Ethereum (EIP-4361) message. Absent optional fields are null.
internal sealed record SignInMessage(string Raw, string Domain, string Address, string? Statement, MessageUri Uri,
    string ChainId, string Nonce, DateTimeOffset IssuedAt, DateTimeOffset? ExpirationTime, DateTimeOffset? NotBefore,
    string? RequestId, IReadOnlyList<string> Resources);

/// The message does not follow the grammar; the text is GoTrue's parser error (`siws: …` / `siwe: …`).
internal sealed class MessageFormatException(string message) : Exception(message);

/// The two grammars are one text layout (GoTrue `internal/utilities/siws/parser.go`, `siwe/parser.go`);
/// they differ in the header, the address form and where the chain id and time order are checked.
internal static partial class SignInMessages
{
    internal sealed record Grammar(string Tag, string Account, Regex Address, string AddressError, bool Ethereum);

    public static readonly Grammar Solana = new("siws", "Solana", SolanaAddress(), "wallet address is not in base58 format", false);
    public static readonly Grammar Ethereum = new("siwe", "Ethereum", EthereumAddress(), "wallet address is not a valid Ethereum address", true);

    public static SignInMessage Parse(string raw, Grammar g)
    {
        MessageFormatException Fail(string reason) => new($"{g.Tag}: {reason}");

        var lines = raw.Split('\n');
        if (lines.Length < 6) throw Fail("message needs at least 6 lines");
        var suffix = $" wants you to sign in with your {g.Account} account:";
        if (!lines[0].EndsWith(suffix, StringComparison.Ordinal))
            throw Fail($"message first line does not end in \"{suffix}\"");
        var domain = lines[0][..^suffix.Length].Trim();
        if (!Domain().IsMatch(domain)) throw Fail("domain in first line of message is not valid");
        var address = lines[1].Trim();
        if (!g.Address.IsMatch(address)) throw Fail(g.AddressError);
        if (lines[2] != "") throw Fail("third line must be empty");

        string? statement = null;
        var start = 3;
        if (lines[3] != "" && lines[4] == "")
        {
            statement = lines[3];
            start = 5;
        }

        MessageUri? uri = null;
        string version = "", chainId = "", nonce = "";
        string? requestId = null;
        DateTimeOffset? issuedAt = null, expirationTime = null, notBefore = null;
        var resources = new List<string>();
        var inResources = false;
        for (var i = start; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (inResources)
            {
                if (line.StartsWith("- ", StringComparison.Ordinal))
                {
                    var resource = line[2..].Trim();
                    if (ParseRequestUri(resource) is null) throw Fail($"Resource at position {resources.Count} has invalid URI");
                    resources.Add(resource);
                    continue;
                }
                inResources = false;
            }
            if (line == "Resources:")
            {
                inResources = true;
                continue;
            }
            if (line == "") continue;

            var colon = line.IndexOf(':');
            if (colon < 0) throw Fail($"encountered unparsable line at index {i}");
            var key = line[..colon];
            var value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "URI":
                    uri = ParseRequestUri(value) ?? throw Fail("URI is not valid");
                    break;
                case "Version":
                    version = value;
                    break;
                case "Chain ID":
                    // EIP-155: a positive integer, checked as it is read; SIWS checks its form after the loop.
                    if (g.Ethereum && !(long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) && id > 0))
                        throw Fail("Chain ID is not valid");
                    chainId = value;
                    break;
                case "Nonce":
                    nonce = value;
                    break;
                case "Issued At":
                    issuedAt = Timestamp(value) ?? throw Fail("Issued At is not a valid ISO8601 timestamp");
                    break;
                case "Expiration Time":
                    expirationTime = Timestamp(value) ?? throw Fail("Expiration Time is not a valid ISO8601 timestamp");
                    if (g.Ethereum && issuedAt > expirationTime) throw Fail("Issued At is after Expiration Time");
                    break;
                case "Not Before":
                    notBefore = Timestamp(value) ?? throw Fail("Not Before is not a valid ISO8601 timestamp");
                    if (g.Ethereum && notBefore > expirationTime) throw Fail("Not Before is after Expiration Time");
                    break;
                case "Request ID":
                    requestId = value;
                    break;
            }
        }

        if (version != "1") throw Fail($"Version value is not supported, expected 1 got \"{version.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"");
        if (issuedAt is null) throw Fail("Issued At is not specified");
        if (uri is null) throw Fail("URI is not specified");
        if (!g.Ethereum)
        {
            if (chainId != "" && !SolanaNetwork().IsMatch(chainId)) throw Fail("Chain ID is not valid");
            if (issuedAt > expirationTime) throw Fail("Issued At is after Expiration Time");
            if (notBefore > expirationTime) throw Fail("Not Before is after Expiration Time");
        }
        return new SignInMessage(raw, domain, address, statement, uri, chainId, nonce, issuedAt.Value, expirationTime,
            notBefore, requestId, resources);
    }

    /// Go `time.Parse(time.RFC3339, …)`: `Z` or `±hh:mm`, optional fraction up to nanoseconds (.NET keeps 7 digits).
    static DateTimeOffset? Timestamp(string value)
    {
        var m = Rfc3339().Match(value);
        if (!m.Success) return null;
        var fraction = m.Groups["fraction"].Value;
        var normalized = m.Groups["seconds"].Value + (fraction.Length > 0 ? "." + fraction[..Math.Min(7, fraction.Length)].PadRight(7, '0') : ".0000000")
            + (m.Groups["zone"].Value is "Z" or "z" ? "+00:00" : m.Groups["zone"].Value);
        return DateTimeOffset.TryParseExact(normalized, "yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture,
            DateTimeStyles.None, out var parsed) ? parsed : null;
    }

    /// Go `url.ParseRequestURI`: an absolute path, or a scheme followed by a `/`-rooted rest.
    internal static MessageUri? ParseRequestUri(string value)
    {
        if (value.Length == 0 || value.Any(c => char.IsControl(c) || c == ' ')) return null;
        if (value.StartsWith('/')) return new MessageUri(value, "", "", "");
        var m = SchemeAndRest().Match(value);
        if (!m.Success) return null;
        var rest = m.Groups["rest"].Value;
        if (!rest.StartsWith('/')) return null;
        var scheme = m.Groups["scheme"].Value.ToLowerInvariant();
        if (!rest.StartsWith("//", StringComparison.Ordinal)) return new MessageUri(value, scheme, "", "");
        if (!Uri.TryCreate(value, UriKind.Absolute, out _)) return null;
        var authority = rest[2..];
        var end = authority.IndexOfAny(['/', '?', '#']);
        if (end >= 0) authority = authority[..end];
        var host = authority[(authority.LastIndexOf('@') + 1)..];
        string hostname;
        if (host.StartsWith('['))
            hostname = host[1..Math.Max(1, host.IndexOf(']'))];
        else
            hostname = host.LastIndexOf(':') is var colon and >= 0 ? host[..colon] : host;
        return new MessageUri(value, scheme, host, hostname);
    }

    // Go's `$` is end of text; .NET's also matches before a final newline, hence `\z`. ASCII digits only, as in Go.
    [GeneratedRegex(@"^(localhost|(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,})(?::[0-9]{1,5})?\z")]
    private static partial Regex Domain();

    [GeneratedRegex(@"^[a-zA-Z0-9]{32,44}\z")]
    private static partial Regex SolanaAddress();

    [GeneratedRegex(@"^0x[a-fA-F0-9]{40}\z")]
    private static partial Regex EthereumAddress();

    [GeneratedRegex(@"^solana:(main|dev|test|local)net\z")]
    private static partial Regex SolanaNetwork();

    [GeneratedRegex(@"^(?<seconds>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.(?<fraction>[0-9]{1,9}))?(?<zone>[Zz]|[+-][0-9]{2}:[0-9]{2})\z")]
    private static partial Regex Rfc3339();

    [GeneratedRegex(@"^(?<scheme>[a-zA-Z][a-zA-Z0-9+.-]*):(?<rest>.*)\z")]
    private static partial Regex SchemeAndRest();
}
