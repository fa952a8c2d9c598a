using AuthServer.Config;
using AuthServer.Hooks;
using AuthServer.Observability;
using AuthServer.RateLimits;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Http;

/// The API listener and what every request passes through: `GOTRUE_API_*`/`PORT`, logging, GoTrue's error
/// JSON, CORS, the request id, and the middleware order (UseGoTrueMiddleware).
internal static class HttpModule
{
    public static WebApplicationBuilder AddHttp(this WebApplicationBuilder builder, EnvReader env)
    {
        var api = ApiOptions.Load(env);
        builder.Logging.Configure(env);
        builder.WebHost.UseUrls($"http://{(api.Host.Length == 0 ? "*" : api.Host)}:{api.Port}");
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);
        builder.Services.AddSingleton(api).AddSingleton(TimeProvider.System).AddHttpContextAccessor().AddHttpClient()
            .AddExceptionHandler<ApiErrorHandler>()
            .AddProblemDetails() // only because parameterless UseExceptionHandler() needs it (dotnet/aspnetcore#51888)
            .AddGoTrueCors() // cookie mode narrows credentialed CORS (Http/CorsSetup)
            .AddOpenApi();
        // Ours, opt-in (docs/differences.md): the API description on the API port.
        if (env.Bool("GOTRUE_OPENAPI_ENABLED", false)) builder.Services.AddSingleton(new OpenApiEnabled());
        return builder;
    }

    /// The order matters; each line says why it stands where it does.
    public static void UseGoTrueMiddleware(this WebApplication app)
    {
        // supabase-js calls `${url}/auth/v1/…`; the gateway usually strips that prefix, we accept both.
        app.UsePathBase("/auth/v1");
        app.UseRouting(); // explicitly after UsePathBase, so routes match the stripped path
        app.UseRequestIdHeader();
        // CORS outside the exception handler: browsers must be able to read error bodies too.
        app.UseCors();
        // Metrics outside the exception handler, so failed requests are counted with their final status.
        app.UseAuthMetrics();
        AuthMetrics.TrackOutbox(app.Services.GetRequiredService<NpgsqlDataSource>());
        app.UseCookieSessions(); // outside the exception handler, so it sees rendered errors too
        app.UseExceptionHandler();
        app.UseRateLimits();
        app.UseAfterUserCreatedHooks();

        var port = app.Services.GetRequiredService<ApiOptions>().Port;
        app.Lifetime.ApplicationStarted.Register(() => app.Logger.LogInformation("AuthServer listening on port {Port}", port));
    }

    /// The opt-in `/openapi.json`, and GoTrue's plain-text 404 for every other path.
    public static void MapHttp(this WebApplication app)
    {
        if (app.Services.GetService<OpenApiEnabled>() is not null) app.MapOpenApi("/openapi.json");
        app.MapFallback(() => Results.Text("404 page not found\n", "text/plain", statusCode: 404));
    }

    sealed record OpenApiEnabled;
}
