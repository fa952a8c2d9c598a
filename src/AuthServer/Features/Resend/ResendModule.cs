namespace AuthServer.Features.Resend;

/// The resend area: `POST /resend`. No settings or services of its own.
internal static class ResendModule
{
    public static void MapResend(this IEndpointRouteBuilder app) => ResendEndpoints.MapRoutes(app);
}
