using System.Security.Cryptography;

namespace AuthServer.Security;

/// GoTrue's v2 refresh token (jwt.md §5.1, internal/crypto/refresh_tokens.go): base64url (no padding) of
/// `0x00` ‖ session UUID (16 bytes, RFC order) ‖ unsigned LEB128 counter ‖ first 16 bytes of
/// HMAC-SHA256(session key, everything before) ‖ first 4 bytes of SHA-256(everything before).
/// Nothing is stored per token: the session row holds the key and the counter of the last issued token.
internal sealed class RefreshTokenV2
{
    const int SignatureLength = 16;
    const int ChecksumLength = 4;
    const int MinLength = 1 + 16 + 1 + SignatureLength + ChecksumLength;
    const int MaxLength = MinLength + 8;

    readonly byte[] raw;

    RefreshTokenV2(byte[] raw, Guid sessionId, long counter)
    {
        this.raw = raw;
        SessionId = sessionId;
        Counter = counter;
    }

    public Guid SessionId { get; }
    public long Counter { get; }

    /// Structure and checksum only; the HMAC needs the session's key (<see cref="HasValidSignature"/>).
    public static RefreshTokenV2? TryParse(string token)
    {
        if (token.Length > 64) return null;
        var bytes = Base64Url.TryDecode(token);
        if (bytes is null || bytes.Length < MinLength || bytes.Length > MaxLength || bytes[0] != 0) return null;

        var body = bytes.AsSpan(0, bytes.Length - ChecksumLength);
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(body, digest);
        if (!CryptographicOperations.FixedTimeEquals(digest[..ChecksumLength], bytes.AsSpan(bytes.Length - ChecksumLength)))
            return null;

        var sessionId = new Guid(bytes.AsSpan(1, 16), bigEndian: true);
        if (!TryReadUvarint(bytes.AsSpan(17, bytes.Length - 17 - ChecksumLength), out var counter, out var used)
            || counter > long.MaxValue
            || bytes.Length - 17 - ChecksumLength - used != SignatureLength)
            return null;
        return new RefreshTokenV2(bytes, sessionId, (long)counter);
    }

    public bool HasValidSignature(byte[] key)
    {
        var signed = raw.AsSpan(0, raw.Length - SignatureLength - ChecksumLength);
        var expected = HMACSHA256.HashData(key, signed);
        return CryptographicOperations.FixedTimeEquals(expected.AsSpan(0, SignatureLength),
            raw.AsSpan(raw.Length - SignatureLength - ChecksumLength, SignatureLength));
    }

    /// Deterministic: the same session, counter and key always give the same string.
    public static string Encode(Guid sessionId, long counter, byte[] key)
    {
        var buffer = new List<byte>(MaxLength) { 0 };
        buffer.AddRange(sessionId.ToByteArray(bigEndian: true));
        var value = (ulong)counter;
        while (value >= 0x80)
        {
            buffer.Add((byte)(value | 0x80));
            value >>= 7;
        }
        buffer.Add((byte)value);
        buffer.AddRange(HMACSHA256.HashData(key, buffer.ToArray()).AsSpan(0, SignatureLength).ToArray());
        buffer.AddRange(SHA256.HashData(buffer.ToArray()).AsSpan(0, ChecksumLength).ToArray());
        return Base64Url.Encode(buffer.ToArray());
    }

    /// A session's HMAC key: 32 random bytes (GoTrue `GenerateRefreshTokenHmacKey`).
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(32);

    // Go's binary.Uvarint: at most 10 bytes, the 10th may only carry the top bit.
    static bool TryReadUvarint(ReadOnlySpan<byte> data, out ulong value, out int used)
    {
        value = 0;
        var shift = 0;
        for (used = 0; used < data.Length && used < 10; used++)
        {
            var b = data[used];
            if (used == 9 && b > 1) return false;
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                used++;
                return true;
            }
            shift += 7;
        }
        return false;
    }
}
