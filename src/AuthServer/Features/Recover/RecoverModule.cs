namespace AuthServer.Features.Recover;

/// The recover area: `POST /recover`. No settings or services of its own.
internal static class RecoverModule
{
    public static void MapRecover(this IEndpointRouteBuilder app) => RecoverEndpoints.MapRoutes(app);
}
