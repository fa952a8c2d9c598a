using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>Hand-rolled JWT encoding, so tests can mint exactly the malformed tokens they need.</summary>
public static class Jwt
{
    public static string Sign(JsonObject payload, string secret, JsonObject? header = null)
    {
        header ??= new JsonObject { ["alg"] = "HS256", ["typ"] = "JWT" };
        var signingInput = $"{Base64Url(header.ToJsonString())}.{Base64Url(payload.ToJsonString())}";
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes(signingInput));
        return $"{signingInput}.{Base64Url(signature)}";
    }

    /// <summary>`alg: none` with an empty signature (RFC 7519 §6.1 unsecured JWT).</summary>
    public static string Unsigned(JsonObject payload) =>
        $"{Base64Url(new JsonObject { ["alg"] = "none", ["typ"] = "JWT" }.ToJsonString())}.{Base64Url(payload.ToJsonString())}.";

    public static JsonObject Header(string token) => Part(token, 0);

    public static JsonObject Payload(string token) => Part(token, 1);

    public static bool HasValidHs256Signature(string token, string secret)
    {
        var parts = token.Split('.');
        if (parts.Length != 3) return false;
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"));
        return CryptographicOperations.FixedTimeEquals(expected, FromBase64Url(parts[2]));
    }

    static JsonObject Part(string token, int index) =>
        JsonNode.Parse(FromBase64Url(token.Split('.')[index]))!.AsObject();

    static string Base64Url(string text) => Base64Url(Encoding.UTF8.GetBytes(text));

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }
}
