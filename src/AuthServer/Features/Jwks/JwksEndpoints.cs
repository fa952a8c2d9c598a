using System.Text.Json.Nodes;
using AuthServer.Http;
using AuthServer.Security;

namespace AuthServer.Features.Jwks;

/// `GET /.well-known/jwks.json` (api.md, jwt.md §3): the public halves of the asymmetric keys in
/// `GOTRUE_JWT_KEYS`, never the HS256 secret or an `oct` key. supabase-js `getClaims()` caches it 10 min.
internal static class JwksEndpoints
{
    public static void MapJwks(this IEndpointRouteBuilder app) => app.MapGet("/.well-known/jwks.json", GetJwks);

    static IResult GetJwks(HttpContext http, SigningKeys keys)
    {
        http.Response.Headers.CacheControl = "public, max-age=600";
        var body = new JsonObject { ["keys"] = new JsonArray(keys.PublicJwks.Select(k => (JsonNode)k.DeepClone()).ToArray()) };
        return Results.Json(body, Json.Options);
    }
}
