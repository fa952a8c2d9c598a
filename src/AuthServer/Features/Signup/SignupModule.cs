namespace AuthServer.Features.Signup;

/// The sign-up area: `POST /signup`. No settings or services of its own.
internal static class SignupModule
{
    public static void MapSignup(this IEndpointRouteBuilder app) => SignupEndpoints.MapRoutes(app);
}
