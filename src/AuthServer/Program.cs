using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Captcha;
using AuthServer.Features.Health;
using AuthServer.Features.Logout;
using AuthServer.Features.RateLimits;
using AuthServer.Features.Signup;
using AuthServer.Features.Token;
using AuthServer.Features.User;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

var builder = WebApplication.CreateBuilder(args);

// Configuration is GoTrue's environment variables; a bad value stops the boot naming the variable.
var env = new EnvReader(builder.Configuration);
ApiOptions api; DbOptions dbOptions; JwtOptions jwt; AuthOptions auth; PasswordOptions passwordOptions; RefreshOptions refreshOptions;
DbEncryptionOptions dbEncryption;
RateLimitOptions rateLimits; CaptchaOptions captcha; DbTimeoutOptions dbTimeouts;
try
{
    api = ApiOptions.Load(env);
    dbOptions = DbOptions.Load(env);
    jwt = JwtOptions.Load(env);
    auth = AuthOptions.Load(env);
    passwordOptions = PasswordOptions.Load(env);
    refreshOptions = RefreshOptions.Load(env);
    dbEncryption = DbEncryptionOptions.Load(env);
    rateLimits = RateLimitOptions.Load(env);
    captcha = CaptchaOptions.Load(env);
    dbTimeouts = DbTimeoutOptions.Load(env);
    builder.Logging.Configure(env);
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"authserver: configuration error: {e.Message}");
    return 1;
}

builder.WebHost.UseUrls($"http://{(api.Host.Length == 0 ? "*" : api.Host)}:{api.Port}");
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);

Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
builder.Services.AddSingleton(api).AddSingleton(dbOptions).AddSingleton(jwt).AddSingleton(auth)
    .AddSingleton(passwordOptions).AddSingleton(refreshOptions).AddSingleton(dbEncryption);
builder.Services.AddSingleton<ColumnEncryption>();
builder.Services.AddSingleton(rateLimits).AddSingleton(captcha).AddSingleton<RateLimiter>().AddSingleton<CaptchaVerifier>();
builder.Services.AddHttpClient().AddHostedService<RateLimitJanitor>();
builder.Services.AddSingleton(_ =>
{
    var dataSource = new NpgsqlDataSourceBuilder(dbOptions.ConnectionString);
    if (dbOptions.MaxPoolSize > 0) dataSource.ConnectionStringBuilder.MaxPoolSize = dbOptions.MaxPoolSize;
    dbTimeouts.ApplyTo(dataSource.ConnectionStringBuilder);
    return dataSource.Build();
});
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<AccessTokens>().AddSingleton<Passwords>().AddSingleton<SessionIssuer>();
builder.Services.AddExceptionHandler<ApiErrorHandler>();
builder.Services.AddProblemDetails(); // only because parameterless UseExceptionHandler() needs it (dotnet/aspnetcore#51888)
builder.Services.AddCors(cors => cors.AddDefaultPolicy(policy => policy
    .SetIsOriginAllowed(_ => true).AllowCredentials()
    .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
    .AllowAnyHeader()
    .WithExposedHeaders("X-Total-Count", "Link", ApiVersion.Header, "Retry-After")));

var app = builder.Build();

try
{
    await Migrator.MigrateWithRetryAsync(dbOptions.ConnectionString, app.Logger, app.Lifetime.ApplicationStopping);
}
catch (MigrationException e)
{
    // A schema we must not touch (or a changed migration): say what and stop, without a stack trace.
    app.Logger.LogCritical("Database schema check failed: {Reason}", e.Message);
    Console.Error.WriteLine($"authserver: database error: {e.Message}");
    return 1;
}

// supabase-js calls `${url}/auth/v1/…`; the gateway usually strips that prefix, we accept both.
app.UsePathBase("/auth/v1");
app.UseRouting(); // explicitly after UsePathBase, so routes match the stripped path
app.UseExceptionHandler();
app.UseCors();
app.UseRateLimits();

app.MapHealth();
app.MapReady();
app.MapSignup();
app.MapToken();
app.MapUser();
app.MapLogout();
app.MapFallback(() => Results.Text("404 page not found\n", "text/plain", statusCode: 404));

if (rateLimits.Header is not null && rateLimits.TrustedProxies.Count == 0)
    app.Logger.LogWarning("GOTRUE_RATE_LIMIT_HEADER is set but GOTRUE_RATE_LIMIT_TRUSTED_PROXIES is empty: per-IP limits use the socket address");
app.Logger.LogInformation("AuthServer listening on port {Port}", api.Port);
await app.RunAsync();
return 0;

public partial class Program;
