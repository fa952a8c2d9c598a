namespace AuthServer.Features.Otp;

/// The OTP area: `POST /otp` and `POST /magiclink`. No settings or services of its own.
internal static class OtpModule
{
    public static void MapOtp(this IEndpointRouteBuilder app) => OtpEndpoints.MapRoutes(app);
}
