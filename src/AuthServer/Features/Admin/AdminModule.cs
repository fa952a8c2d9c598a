namespace AuthServer.Features.Admin;

/// The admin area: `/admin/users` with factors, passkeys and the audit log. No settings or services of its own.
internal static class AdminModule
{
    public static void MapAdmin(this IEndpointRouteBuilder app) => AdminEndpoints.MapRoutes(app);
}
