using AuthServer.Config;
using AuthServer.Data;
using Npgsql;

namespace AuthServer.Features.Profile;

/// Ours: the application profile in `public.users` (docs/beyond-gotrue.md "Profiles"), `GOTRUE_PROFILE_*` and `/profile`.
internal static class ProfileModule
{
    public static IServiceCollection AddProfile(this IServiceCollection services, EnvReader env)
    {
        var options = ProfileOptions.Load(env);
        // Stored where the auth.users trigger reads it (migration 0500), once the schema is migrated.
        return services.AddSingleton(options).AddSingleton(new DatabaseSetting((sp, ct) =>
            ProfileQueries.ApplySettingAsync(sp.GetRequiredService<NpgsqlDataSource>(), options.AutoCreate, ct)));
    }

    public static void MapProfile(this IEndpointRouteBuilder app) => ProfileEndpoints.MapRoutes(app);
}
