namespace AuthServer.Features.Logout;

/// The logout area: `POST /logout`. No settings or services of its own.
internal static class LogoutModule
{
    public static void MapLogout(this IEndpointRouteBuilder app) => LogoutEndpoints.MapRoutes(app);
}
