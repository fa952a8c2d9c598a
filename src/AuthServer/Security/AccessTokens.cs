using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;

namespace AuthServer.Security;

/// HS256 access tokens shaped exactly like GoTrue's (jwt.md §1), signed once per token.
/// Hand-rolled on HMACSHA256 rather than IdentityModel because IdentityModel refuses HMAC keys shorter
/// than 256 bits, and GoTrue accepts any `GOTRUE_JWT_SECRET`; parsing is strict (alg allow-list,
/// fixed-time signature check, `exp` with no leeway, like golang-jwt v5).
internal sealed class AccessTokens(JwtOptions options)
{
    public sealed record Claims(JsonElement Root)
    {
        public string? Sub => Str("sub");
        public string? Role => Str("role");
        public string? SessionId => Str("session_id");
        public bool IsAnonymous => Root.TryGetProperty("is_anonymous", out var v) && v.ValueKind == JsonValueKind.True;
        public string? Aud => Root.TryGetProperty("aud", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        public long? Exp => Root.TryGetProperty("exp", out var e) && e.TryGetInt64(out var v) ? v : null;
        string? Str(string name) =>
            Root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    public string Sign(JsonObject payload)
    {
        var header = new JsonObject { ["alg"] = "HS256" };
        if (options.KeyId.Length > 0) header["kid"] = options.KeyId;
        header["typ"] = "JWT";
        var signingInput = Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." +
                           Base64Url.Encode(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        var mac = HMACSHA256.HashData(options.Secret, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.Encode(mac);
    }

    /// Verifies signature and time claims; the failure reason goes into GoTrue's `bad_jwt` message.
    /// <paramref name="requireExp"/> is off only for admin routes: Supabase tooling mints service keys without `exp`.
    public bool TryVerify(string token, DateTimeOffset now, out Claims? claims, out string reason, bool requireExp = true)
    {
        claims = null;
        var parts = token.Split('.');
        if (parts.Length != 3) { reason = "token is malformed: token contains an invalid number of segments"; return false; }

        var headerBytes = Base64Url.TryDecode(parts[0]);
        var payloadBytes = Base64Url.TryDecode(parts[1]);
        var signature = Base64Url.TryDecode(parts[2]);
        if (headerBytes is null || payloadBytes is null || signature is null)
        {
            reason = "token is malformed: could not base64 decode";
            return false;
        }

        try
        {
            using var header = JsonDocument.Parse(headerBytes);
            if (header.RootElement.ValueKind != JsonValueKind.Object ||
                !header.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String ||
                alg.GetString() != "HS256")
            {
                reason = "token is unverifiable: signing method (alg) is unavailable";
                return false;
            }

            var expected = HMACSHA256.HashData(options.Secret,
                Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]));
            if (!CryptographicOperations.FixedTimeEquals(expected, signature))
            {
                reason = "token signature is invalid: signature is invalid";
                return false;
            }

            var payload = JsonDocument.Parse(payloadBytes).RootElement.Clone();
            if (payload.ValueKind != JsonValueKind.Object) { reason = "token is malformed: claims are not an object"; return false; }
            var unix = now.ToUnixTimeSeconds();
            if (payload.TryGetProperty("exp", out var exp))
            {
                if (!exp.TryGetDouble(out var expValue)) { reason = "token is malformed: invalid type for claim exp"; return false; }
                if (unix >= expValue) { reason = "token has invalid claims: token is expired"; return false; }
            }
            else if (requireExp)
            {
                reason = "token has invalid claims: token is missing required claim: exp claim is required";
                return false;
            }
            // Tokens minted "in the future" are forged or from a badly skewed clock (security-tests T4★);
            // a few seconds of leeway absorb clock differences between replicas.
            if (payload.TryGetProperty("iat", out var iat) && iat.TryGetDouble(out var iatValue) && iatValue > unix + 5)
            {
                reason = "token has invalid claims: token used before issued";
                return false;
            }
            if (payload.TryGetProperty("nbf", out var nbf))
            {
                if (!nbf.TryGetDouble(out var nbfValue)) { reason = "token is malformed: invalid type for claim nbf"; return false; }
                if (unix < nbfValue) { reason = "token has invalid claims: token is not valid yet"; return false; }
            }
            claims = new Claims(payload);
            reason = "";
            return true;
        }
        catch (JsonException)
        {
            reason = "token is malformed: could not JSON decode";
            return false;
        }
    }
}
