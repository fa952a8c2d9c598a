using AuthServer.Config;

namespace AuthServer.Security;

/// Tokens and credentials: `GOTRUE_JWT_*` and signing keys, sign-up/provider switches (AuthOptions),
/// `GOTRUE_PASSWORD_*` (policy, hashing, leaked-password check).
internal static class SecurityModule
{
    public static IServiceCollection AddSecurity(this IServiceCollection services, EnvReader env)
    {
        var jwt = JwtOptions.Load(env);
        services.AddSingleton(jwt).AddSingleton(AuthOptions.Load(env)).AddSingleton(PasswordOptions.Load(env));
        return services.AddSingleton(SigningKeys.Load(env, jwt))
            .AddSingleton<AccessTokens>().AddSingleton<IdTokens>()
            .AddSingleton<PwnedPasswords>().AddSingleton<Passwords>();
    }
}
