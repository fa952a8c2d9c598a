using AuthServer.Config;

namespace AuthServer.Features.Web3;

/// `GOTRUE_EXTERNAL_WEB3_*`: wallet sign-in, served as the `web3` grant of `POST /token` (Token area). No routes.
internal static class Web3Module
{
    public static IServiceCollection AddWeb3(this IServiceCollection services, EnvReader env) =>
        services.AddSingleton(Web3Options.Load(env));
}
