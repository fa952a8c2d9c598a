using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using AuthServer.Config;

namespace AuthServer.Security;

/// GoTrue's encrypted column value (schema.md §6, internal/crypto/crypto.go `EncryptedString`): the JSON
/// `{"key_id","alg":"aes-gcm-hkdf","data","nonce"}` (data and nonce standard base64, data = ciphertext ‖
/// 16-byte GCM tag), AES-256-GCM under HKDF-SHA256(master key, no salt, info = the row's id).
/// Used by users.encrypted_password, mfa_factors.secret, mfa_challenges.otp_code,
/// sessions.refresh_token_hmac_key and custom_oauth_providers.client_secret.
internal sealed class EncryptedString
{
    public const string Algorithm = "aes-gcm-hkdf";

    [JsonPropertyName("key_id")] public string KeyId { get; init; } = "";
    [JsonPropertyName("alg")] public string Alg { get; init; } = "";
    [JsonPropertyName("data")] public byte[] Data { get; init; } = [];
    [JsonPropertyName("nonce")] public byte[] Nonce { get; init; } = [];

    /// Null for plaintext (anything not starting with `{` or not a complete encrypted-string object).
    public static EncryptedString? TryParse(string? value)
    {
        if (value is null || !value.StartsWith('{')) return null;
        try
        {
            var parsed = JsonSerializer.Deserialize<EncryptedString>(value);
            return parsed is { KeyId.Length: > 0, Alg: Algorithm, Data.Length: > 0, Nonce.Length: > 0 } ? parsed : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public byte[] Decrypt(string rowId, IReadOnlyDictionary<string, byte[]> keys)
    {
        if (!keys.TryGetValue(KeyId, out var master))
            throw new CryptographicException(
                $"crypto: decryption key with name \"{KeyId}\" does not exist (GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS)");
        if (Data.Length < 16 || Nonce.Length != 12)
            throw new CryptographicException("crypto: malformed encrypted string");
        using var aes = new AesGcm(DeriveKey(master, rowId), 16);
        var plaintext = new byte[Data.Length - 16];
        aes.Decrypt(Nonce, Data.AsSpan(0, plaintext.Length), Data.AsSpan(plaintext.Length), plaintext);
        return plaintext;
    }

    public static string Encrypt(string rowId, ReadOnlySpan<byte> plaintext, string keyId, byte[] master)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var data = new byte[plaintext.Length + 16];
        using (var aes = new AesGcm(DeriveKey(master, rowId), 16))
            aes.Encrypt(nonce, plaintext, data.AsSpan(0, plaintext.Length), data.AsSpan(plaintext.Length));
        return JsonSerializer.Serialize(new EncryptedString { KeyId = keyId, Alg = Algorithm, Data = data, Nonce = nonce });
    }

    // Binding the key to the row id keeps AES-GCM's per-key message limit per row, and a value copied to
    // another row does not decrypt there.
    static byte[] DeriveKey(byte[] master, string rowId) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 32, salt: [], info: Encoding.UTF8.GetBytes(rowId));
}

/// The configured keys applied to column values: plaintext passes through, encrypted strings are
/// decrypted with the row's id. Registered as a singleton; features that read encrypted columns
/// (passwords, MFA secrets, session HMAC keys) call <see cref="Reveal"/> with the row's id.
internal sealed class ColumnEncryption(DbEncryptionOptions options)
{
    public bool EncryptsWrites => options.Encrypt;

    /// The plaintext of a column value, or null/plaintext unchanged. Throws CryptographicException when the
    /// value was encrypted with a key that is not configured: a deployment error, surfaced as a 500.
    public string? Reveal(string? value, Guid rowId) =>
        EncryptedString.TryParse(value) is { } encrypted
            ? Encoding.UTF8.GetString(encrypted.Decrypt(rowId.ToString(), options.DecryptionKeys))
            : value;

    /// GoTrue `GetSecret`'s second result: with encryption on, a plaintext value or one under another key id
    /// is rewritten under the current key the next time it is used (internal/models/factor.go).
    public bool ShouldReEncrypt(string? value) =>
        options.Encrypt && (EncryptedString.TryParse(value) is not { } encrypted || encrypted.KeyId != options.EncryptionKeyId);

    /// The value to store: encrypted with the current key when GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT is on.
    public string Protect(string value, Guid rowId) =>
        options.Encrypt
            ? EncryptedString.Encrypt(rowId.ToString(), Encoding.UTF8.GetBytes(value), options.EncryptionKeyId, options.EncryptionKey)
            : value;
}
