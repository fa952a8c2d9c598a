namespace AuthServer.Features.Health;

/// `GET /health`, `GET /settings` and `GET /ready`. No settings or services of its own.
internal static class HealthModule
{
    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        HealthEndpoints.MapRoutes(app);
        ReadyEndpoints.MapRoutes(app);
    }
}
