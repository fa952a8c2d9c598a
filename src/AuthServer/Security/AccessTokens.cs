using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AuthServer.Security;

/// Access tokens shaped exactly like GoTrue's (jwt.md §1), signed once per token with the configured
/// signing key: HS256 on HMACSHA256 (any `GOTRUE_JWT_SECRET` length, which IdentityModel would refuse
/// below 256 bits), RS256/RS512/ES256/ES512 on System.Security.Cryptography, EdDSA on BouncyCastle.
/// Verification follows GoTrue's `parseJWTClaims` (internal/api/auth.go) and golang-jwt v5: alg
/// allow-list, key by `kid` (no fallback for an unknown kid), the secret for kid-less HS256, key type
/// must fit the alg, fixed-time MAC check, `exp`/`nbf` without leeway; beyond GoTrue, user tokens must
/// carry `exp` and none may be issued in the future (security-tests T4★).
internal sealed class AccessTokens(SigningKeys keys)
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

    // Algorithms golang-jwt knows; any other `alg` is "unavailable" rather than "invalid".
    static readonly HashSet<string> KnownMethods =
        ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "none"];

    /// The signing key's `alg` and `kid` go in the header (GoTrue: internal/api/jwks.go `signJwt`).
    public string Sign(JsonObject payload)
    {
        var key = keys.Signing;
        var header = new JsonObject { ["alg"] = key.Alg };
        if (key.Kid.Length > 0) header["kid"] = key.Kid;
        header["typ"] = "JWT";
        var signingInput = Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." +
                           Base64Url.Encode(Encoding.UTF8.GetBytes(payload.ToJsonString()));
        return signingInput + "." + Base64Url.Encode(key.Sign(Encoding.ASCII.GetBytes(signingInput)));
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

        JsonElement header, payload;
        try
        {
            header = JsonDocument.Parse(headerBytes).RootElement.Clone();
            payload = JsonDocument.Parse(payloadBytes).RootElement.Clone();
        }
        catch (JsonException)
        {
            reason = "token is malformed: could not JSON decode";
            return false;
        }
        if (header.ValueKind != JsonValueKind.Object || payload.ValueKind != JsonValueKind.Object)
        {
            reason = "token is malformed: could not JSON decode";
            return false;
        }

        var alg = header.TryGetProperty("alg", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : "";
        if (!KnownMethods.Contains(alg)) { reason = "token is unverifiable: signing method (alg) is unavailable"; return false; }
        if (!keys.ValidMethods.Contains(alg)) { reason = $"token signature is invalid: signing method {alg} is invalid"; return false; }

        JwtKey? key;
        if (header.TryGetProperty("kid", out var kidElement) && kidElement.ValueKind == JsonValueKind.String)
        {
            var kid = kidElement.GetString()!;
            if (!keys.ByKid.TryGetValue(kid, out key))
            {
                if (kid != keys.SecretKeyId)
                {
                    reason = "token is unverifiable: error while executing keyfunc: invalid kid: " + kid;
                    return false;
                }
                key = SecretKey;
            }
        }
        else if (alg == "HS256")
        {
            // Kid-less HS256 (the anon/service_role API keys, tokens from before a key id was set).
            key = SecretKey;
        }
        else
        {
            reason = "token is unverifiable: error while executing keyfunc: missing kid";
            return false;
        }

        if (key.Verify(alg, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature) is { } failure)
        {
            reason = "token signature is invalid: " + failure;
            return false;
        }

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

    JwtKey? secretKey;
    JwtKey SecretKey => secretKey ??= new JwtKey { Kid = keys.SecretKeyId, Alg = "HS256", Kty = "oct", Secret = keys.Secret };
}
