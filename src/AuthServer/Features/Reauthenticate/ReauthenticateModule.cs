namespace AuthServer.Features.Reauthenticate;

/// The reauthentication area: `GET /reauthenticate`. No settings or services of its own.
internal static class ReauthenticateModule
{
    public static void MapReauthenticate(this IEndpointRouteBuilder app) => ReauthenticateEndpoints.MapRoutes(app);
}
