namespace AuthServer.Features.Verify;

/// The verify area: `GET|POST /verify`. No settings or services of its own.
internal static class VerifyModule
{
    public static void MapVerify(this IEndpointRouteBuilder app) => VerifyEndpoints.MapRoutes(app);
}
