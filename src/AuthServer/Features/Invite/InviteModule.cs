namespace AuthServer.Features.Invite;

/// The invite area: `POST /invite` and `POST /admin/generate_link`. No settings or services of its own.
internal static class InviteModule
{
    public static void MapInvite(this IEndpointRouteBuilder app) => InviteEndpoints.MapRoutes(app);
}
