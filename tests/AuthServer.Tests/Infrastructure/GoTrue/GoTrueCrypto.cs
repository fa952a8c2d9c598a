using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure.GoTrue;

/// <summary>
/// Reads GoTrue's encrypted column values in the tests, written from internal/crypto/crypto.go rather than
/// with the server's EncryptedString: <c>{"key_id","alg":"aes-gcm-hkdf","data","nonce"}</c>, AES-256-GCM
/// (tag appended to data) under HKDF-SHA256(base64url key, no salt, info = the row id).
/// </summary>
public static class GoTrueCrypto
{
    public static string KeyId(string value) => (string)JsonNode.Parse(value)!["key_id"]!;

    public static string Decrypt(string value, Guid rowId, string base64UrlKey)
    {
        var json = JsonNode.Parse(value)!;
        Assert.Equal("aes-gcm-hkdf", (string?)json["alg"]);
        var data = Convert.FromBase64String((string)json["data"]!);
        var nonce = Convert.FromBase64String((string)json["nonce"]!);
        Assert.Equal(12, nonce.Length);
        var master = Convert.FromBase64String(base64UrlKey.Replace('-', '+').Replace('_', '/') +
                                              new string('=', (4 - base64UrlKey.Length % 4) % 4));
        var key = HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 32, [], Encoding.UTF8.GetBytes(rowId.ToString()));
        var plaintext = new byte[data.Length - 16];
        using var aes = new AesGcm(key, 16);
        aes.Decrypt(nonce, data.AsSpan(0, plaintext.Length), data.AsSpan(plaintext.Length), plaintext);
        return Encoding.UTF8.GetString(plaintext);
    }
}
