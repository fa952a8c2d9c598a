using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>Private JWKs for GOTRUE_JWT_KEYS, generated once per test run, and helpers to sign and check tokens with them.</summary>
public static class TestKeys
{
    public static readonly ECDsa Es256A = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public static readonly ECDsa Es256B = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public static readonly RSA Rs256 = RSA.Create(2048);

    public const string KidA = "key-a";
    public const string KidB = "key-b";
    public const string KidRsa = "key-rsa";

    static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static JsonObject EcJwk(ECDsa key, string kid, bool sign)
    {
        var p = key.ExportParameters(true);
        return new JsonObject
        {
            ["kty"] = "EC",
            ["crv"] = "P-256",
            ["x"] = B64(p.Q.X!),
            ["y"] = B64(p.Q.Y!),
            ["d"] = B64(p.D!),
            ["kid"] = kid,
            ["alg"] = "ES256",
            ["key_ops"] = sign ? new JsonArray("sign", "verify") : new JsonArray("verify"),
        };
    }

    public static JsonObject RsaJwk(RSA key, string kid, bool sign)
    {
        var p = key.ExportParameters(true);
        return new JsonObject
        {
            ["kty"] = "RSA",
            ["n"] = B64(p.Modulus!),
            ["e"] = B64(p.Exponent!),
            ["d"] = B64(p.D!),
            ["p"] = B64(p.P!),
            ["q"] = B64(p.Q!),
            ["dp"] = B64(p.DP!),
            ["dq"] = B64(p.DQ!),
            ["qi"] = B64(p.InverseQ!),
            ["kid"] = kid,
            ["alg"] = "RS256",
            ["key_ops"] = sign ? new JsonArray("sign", "verify") : new JsonArray("verify"),
        };
    }

    public static string Keys(params JsonObject[] jwks) => new JsonArray(jwks.Select(j => (JsonNode)j).ToArray()).ToJsonString();

    /// <summary>An ES256 token with the given key and kid, as a server holding that key would sign it.</summary>
    public static string SignEs256(JsonObject payload, ECDsa key, string? kid)
    {
        var header = new JsonObject { ["alg"] = "ES256" };
        if (kid is not null) header["kid"] = kid;
        header["typ"] = "JWT";
        var input = $"{B64(Encoding.UTF8.GetBytes(header.ToJsonString()))}.{B64(Encoding.UTF8.GetBytes(payload.ToJsonString()))}";
        var sig = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return $"{input}.{B64(sig)}";
    }

    public static bool VerifyEs256(string token, ECDsa key)
    {
        var parts = token.Split('.');
        return key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), FromB64(parts[2]), HashAlgorithmName.SHA256,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    public static bool VerifyRs256(string token, RSA key)
    {
        var parts = token.Split('.');
        return key.VerifyData(Encoding.ASCII.GetBytes($"{parts[0]}.{parts[1]}"), FromB64(parts[2]), HashAlgorithmName.SHA256,
            RSASignaturePadding.Pkcs1);
    }

    public static byte[] FromB64(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s.PadRight(s.Length + (4 - s.Length % 4) % 4, '='));
    }

    /// <summary>The Supabase service_role API key: HS256, no kid, no sub; optionally no exp (as some tooling mints it).</summary>
    public static string ServiceRoleKey(string secret = AuthServerFixture.JwtSecret, bool withExp = true, string role = "service_role")
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new JsonObject { ["role"] = role, ["iss"] = "supabase", ["iat"] = now };
        if (withExp) payload["exp"] = now + 3600;
        return Jwt.Sign(payload, secret);
    }
}
