namespace AuthServer.Features.User;

/// The user area: `GET|PUT /user`. No settings or services of its own.
internal static class UserModule
{
    public static void MapUser(this IEndpointRouteBuilder app) => UserEndpoints.MapRoutes(app);
}
