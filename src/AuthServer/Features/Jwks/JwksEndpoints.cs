using System.Text.Json.Nodes;
using AuthServer.Http;
using AuthServer.Security;

namespace AuthServer.Features.Jwks;

/// `GET /.well-known/jwks.json` (api.md, jwt.md §3): the public halves of the asymmetric keys in
/// `GOTRUE_JWT_KEYS`, never the HS256 secret or an `oct` key. supabase-js `getClaims()` caches it 10 min.
/// `GET /.well-known/openid-configuration`: GoTrue's discovery document, served with no feature gate.
internal static class JwksEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/.well-known/jwks.json", GetJwks);
        app.MapGet("/.well-known/openid-configuration", GetOpenIdConfiguration);
    }

    static IResult GetJwks(HttpContext http, SigningKeys keys)
    {
        http.Response.Headers.CacheControl = "public, max-age=600";
        var body = new JsonObject { ["keys"] = new JsonArray(keys.PublicJwks.Select(k => (JsonNode)k.DeepClone()).ToArray()) };
        return Results.Json(body, Json.Options);
    }

    /// GoTrue jwks.go `WellKnownOpenID`, field for field: `issuer` is GOTRUE_JWT_ISSUER as set, the endpoints
    /// hang off it without its trailing slashes, and the lists are GoTrue's constants (its signing algorithms
    /// are a fixed list there too). `registration_endpoint` appears only with the OAuth server and its dynamic
    /// registration on. The OAuth server serves this same document at /.well-known/oauth-authorization-server.
    internal static IResult GetOpenIdConfiguration(HttpContext http, AuthServer.Config.JwtOptions jwt,
        OAuthServer.OAuthServerOptions oauth)
    {
        var issuer = jwt.Issuer.TrimEnd('/');
        http.Response.Headers.CacheControl = "public, max-age=600";
        var body = new JsonObject
        {
            ["issuer"] = jwt.Issuer,
            ["authorization_endpoint"] = issuer + "/oauth/authorize",
            ["token_endpoint"] = issuer + "/oauth/token",
            ["jwks_uri"] = issuer + "/.well-known/jwks.json",
            ["userinfo_endpoint"] = issuer + "/oauth/userinfo",
        };
        if (oauth.Enabled && oauth.AllowDynamicRegistration)
            body["registration_endpoint"] = issuer + "/oauth/clients/register";
        body["scopes_supported"] = Array("openid", "profile", "email", "phone");
        body["response_types_supported"] = Array("code");
        body["response_modes_supported"] = Array("query");
        body["grant_types_supported"] = Array("authorization_code", "refresh_token");
        body["subject_types_supported"] = Array("public");
        body["id_token_signing_alg_values_supported"] = Array("RS256", "HS256", "ES256");
        body["token_endpoint_auth_methods_supported"] = Array("client_secret_basic", "client_secret_post", "none");
        body["claims_supported"] = Array("sub", "aud", "iss", "exp", "iat", "auth_time", "nonce", "email", "email_verified",
            "phone_number", "phone_number_verified", "name", "picture", "preferred_username", "updated_at");
        body["code_challenge_methods_supported"] = Array("S256", "plain");
        return Results.Json(body, Json.Options);

        static JsonArray Array(params string[] values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());
    }
}
