using System.Security.Cryptography;
using System.Text;

namespace AuthServer.Security;

/// Every random value and secret comparison goes through here: only `RandomNumberGenerator`.
internal static class Secrets
{
    const string Base32Lower = "abcdefghijklmnopqrstuvwxyz234567";

    /// GoTrue v1 refresh token: 12 chars of lower-case base32 from 8 random bytes (jwt.md §5.1).
    public static string NewRefreshToken()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        Span<char> chars = stackalloc char[12];
        ulong bits = BitConverter.ToUInt64(bytes);
        for (var i = 0; i < 12; i++)
        {
            chars[i] = Base32Lower[(int)(bits & 31)];
            bits >>= 5;
        }
        return new string(chars);
    }

    /// 32 random bytes, base64url: for opaque tokens that are hashed before storage.
    public static string NewToken()
    {
        Span<byte> bytes = stackalloc byte[32];
        RandomNumberGenerator.Fill(bytes);
        return Base64Url.Encode(bytes);
    }

    /// Raw random bytes, e.g. a TOTP secret.
    public static byte[] NewBytes(int count) => RandomNumberGenerator.GetBytes(count);

    public static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));
}

internal static class Base64Url
{
    public static string Encode(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    public static byte[]? TryDecode(string value)
    {
        try { return System.Buffers.Text.Base64Url.DecodeFromChars(value); }
        catch (FormatException) { return null; }
    }
}

/// GoTrue's stored form of an email/SMS OTP: hex SHA-224 of `email_or_phone + otp`
/// (internal/crypto/crypto.go `GenerateTokenHash`).
internal static class TokenHashes
{
    public static string Of(string relatesTo, string otp)
    {
        var digest = new Org.BouncyCastle.Crypto.Digests.Sha224Digest();
        var input = Encoding.UTF8.GetBytes(relatesTo + otp);
        digest.BlockUpdate(input, 0, input.Length);
        var output = new byte[digest.GetDigestSize()];
        digest.DoFinal(output, 0);
        return Convert.ToHexStringLower(output);
    }

    public static string NewOtp(int length = 6) =>
        RandomNumberGenerator.GetInt32(0, (int)Math.Pow(10, length)).ToString("D" + length);
}
