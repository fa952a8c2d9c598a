using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace AuthServer.Security;

/// `dotnet AuthServer.dll generate-jwk [ES256|RS256|EdDSA]`: prints one private JWK in the format
/// `GOTRUE_JWT_KEYS` takes (random `kid`, `key_ops` sign+verify), like `supabase gen signing-key`.
internal static class JwkGenerator
{
    public static string Generate(string alg)
    {
        var kid = Guid.NewGuid().ToString();
        static string B(ReadOnlySpan<byte> bytes) => Base64Url.Encode(bytes);
        JsonObject jwk;
        switch (alg)
        {
            case "ES256":
                {
                    using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                    var p = ec.ExportParameters(true);
                    jwk = new JsonObject { ["kty"] = "EC", ["crv"] = "P-256", ["x"] = B(p.Q.X), ["y"] = B(p.Q.Y), ["d"] = B(p.D) };
                    break;
                }
            case "RS256":
                {
                    using var rsa = RSA.Create(2048);
                    var p = rsa.ExportParameters(true);
                    jwk = new JsonObject
                    {
                        ["kty"] = "RSA",
                        ["n"] = B(p.Modulus),
                        ["e"] = B(p.Exponent),
                        ["d"] = B(p.D),
                        ["p"] = B(p.P),
                        ["q"] = B(p.Q),
                        ["dp"] = B(p.DP),
                        ["dq"] = B(p.DQ),
                        ["qi"] = B(p.InverseQ),
                    };
                    break;
                }
            case "EdDSA":
                {
                    var generator = new Ed25519KeyPairGenerator();
                    generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
                    var pair = generator.GenerateKeyPair();
                    jwk = new JsonObject
                    {
                        ["kty"] = "OKP",
                        ["crv"] = "Ed25519",
                        ["x"] = B(((Ed25519PublicKeyParameters)pair.Public).GetEncoded()),
                        ["d"] = B(((Ed25519PrivateKeyParameters)pair.Private).GetEncoded()),
                    };
                    break;
                }
            default:
                throw new ArgumentException("algorithm must be ES256, RS256 or EdDSA");
        }
        jwk["kid"] = kid;
        jwk["alg"] = alg;
        jwk["use"] = "sig";
        jwk["key_ops"] = new JsonArray("sign", "verify");
        jwk["ext"] = true;
        return jwk.ToJsonString();
    }
}
