using System.Security.Cryptography;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// RFC 6238 computed here from the enrolled secret, independently of the server's TOTP library:
/// HMAC-SHA1, 30 s steps, 6 digits (RFC 4226 §5.3 dynamic truncation).
/// </summary>
public static class TotpCodes
{
    public static long Step(DateTimeOffset at) => at.ToUnixTimeSeconds() / 30;

    public static string At(string base32Secret, DateTimeOffset at) => ForStep(base32Secret, Step(at));

    public static string ForStep(string base32Secret, long step)
    {
        var counter = new byte[8];
        for (var i = 7; i >= 0; i--, step >>= 8) counter[i] = (byte)(step & 0xff);
        var hash = HMACSHA1.HashData(Base32Decode(base32Secret), counter);
        var offset = hash[^1] & 0x0f;
        var binary = ((hash[offset] & 0x7f) << 24) | (hash[offset + 1] << 16) | (hash[offset + 2] << 8) | hash[offset + 3];
        return (binary % 1_000_000).ToString("D6");
    }

    static byte[] Base32Decode(string text)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in text.TrimEnd('='))
        {
            buffer = (buffer << 5) | alphabet.IndexOf(char.ToUpperInvariant(c));
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }
        return bytes.ToArray();
    }
}
