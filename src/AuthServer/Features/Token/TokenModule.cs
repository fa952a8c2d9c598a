namespace AuthServer.Features.Token;

/// The token area: `POST /token` and its grants. Services it uses are registered by the cross-cutting modules.
internal static class TokenModule
{
    public static void MapToken(this IEndpointRouteBuilder app) => TokenEndpoints.MapRoutes(app);
}
