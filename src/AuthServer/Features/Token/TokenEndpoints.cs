using AuthServer.Features.Captcha;
using AuthServer.Features.Web3;
using AuthServer.Http;

namespace AuthServer.Features.Token;

/// `POST /token?grant_type=…` dispatches on the grant, like GoTrue's token.go.
internal static class TokenEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app) => app.MapPost("/token", TokenAsync)
        // GoTrue: internal/api/middleware.go isIgnoreCaptchaRoute: refresh_token, pkce, id_token skip it.
        .RequireCaptcha(http => http.Request.Query["grant_type"] is var g && g != "refresh_token" && g != "pkce" && g != "id_token");

    static Task<IResult> TokenAsync(HttpContext http, CancellationToken ct)
    {
        var grantType = http.Request.Query["grant_type"].ToString();
        return grantType switch
        {
            "password" => PasswordGrant.HandleAsync(http, ct),
            "refresh_token" => RefreshTokenGrant.HandleAsync(http, ct),
            "web3" => Web3Grant.HandleAsync(http, ct),
            "id_token" => IdTokenGrant.HandleAsync(http, ct),
            "pkce" => PkceGrant.HandleAsync(http, ct),
            _ => throw ApiError.BadRequest(ErrorCode.InvalidCredentials, "unsupported_grant_type"),
        };
    }
}
