using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.DbConnections;
using AuthServer.Features.External;
using AuthServer.Features.Captcha;
using AuthServer.Features.Health;
using AuthServer.Features.Identity;
using AuthServer.Features.Admin;
using AuthServer.Features.Jwks;
using AuthServer.Features.Logout;
using AuthServer.Features.Profile;
using AuthServer.Features.Disabled;
using AuthServer.Features.Mfa;
using AuthServer.Features.Invite;
using AuthServer.Features.Otp;
using AuthServer.Features.Reauthenticate;
using AuthServer.Features.Recover;
using AuthServer.Features.Resend;
using AuthServer.RateLimits;
using AuthServer.Features.Signup;
using AuthServer.Features.Sso;
using AuthServer.Features.Token;
using AuthServer.Features.User;
using AuthServer.Features.Verify;
using AuthServer.Features.Web3;
using AuthServer.Hooks;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;
using Prometheus;

if (AuthServer.Cli.Cli.IsCommand(args)) return await AuthServer.Cli.Cli.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);

// Configuration is GoTrue's environment variables; a bad value stops the boot naming the variable.
var env = new EnvReader(builder.Configuration);
ApiOptions api; DbOptions dbOptions; JwtOptions jwt; AuthOptions auth; PasswordOptions passwordOptions; RefreshOptions refreshOptions;
DbEncryptionOptions dbEncryption;
ProfileOptions profileOptions; DbConnectionOptions dbConnectionOptions; CookieSessionOptions cookieOptions;
MfaOptions mfaOptions;
ExternalOptions external;
MailerOptions mailerOptions; MailerNotificationOptions mailerNotifications;
RateLimitOptions rateLimits; CaptchaOptions captcha; DbTimeoutOptions dbTimeouts;
SigningKeys signingKeys; HookOptions hooks; SmsOptions smsOptions;
Web3Options web3;
try
{
    api = ApiOptions.Load(env);
    dbOptions = DbOptions.Load(env);
    jwt = JwtOptions.Load(env);
    auth = AuthOptions.Load(env);
    passwordOptions = PasswordOptions.Load(env);
    refreshOptions = RefreshOptions.Load(env);
    dbEncryption = DbEncryptionOptions.Load(env);
    profileOptions = ProfileOptions.Load(env);
    dbConnectionOptions = DbConnectionOptions.Load(env);
    cookieOptions = CookieSessionOptions.Load(env);
    mfaOptions = MfaOptions.Load(env);
    UnbuiltFeatures.WarnIfOn(env);
    external = ExternalOptions.Load(env, builder.Configuration, api.ExternalUrl);
    web3 = Web3Options.Load(env);
    mailerOptions = MailerOptions.Load(env);
    mailerNotifications = MailerNotificationOptions.Load(env);
    signingKeys = SigningKeys.Load(env, jwt);
    hooks = HookOptions.Load(env);
    rateLimits = RateLimitOptions.Load(env);
    captcha = CaptchaOptions.Load(env);
    dbTimeouts = DbTimeoutOptions.Load(env);
    smsOptions = SmsOptions.Load(env);
    builder.Services.AddSso(env);
    builder.Logging.Configure(env);
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"authserver: configuration error: {e.Message}");
    return 1;
}

// As GoTrue: /metrics exists only with GOTRUE_METRICS_ENABLED, and then only on its own listener, never the
// API port (review L-2). /openapi.json on the API port is opt-in (ours; README "Where we deliberately differ").
var openApiEnabled = env.Bool("GOTRUE_OPENAPI_ENABLED", false);
var metricsPort = env.Bool("GOTRUE_METRICS_ENABLED", false) ? env.Int("GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT", 9100, 1, 65535) : 0;
builder.WebHost.UseUrls(metricsPort == 0
    ? [$"http://{(api.Host.Length == 0 ? "*" : api.Host)}:{api.Port}"]
    : [$"http://{(api.Host.Length == 0 ? "*" : api.Host)}:{api.Port}", $"http://*:{metricsPort}"]);
builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);

Dapper.DefaultTypeMap.MatchNamesWithUnderscores = true;
builder.Services.AddSingleton(api).AddSingleton(dbOptions).AddSingleton(jwt).AddSingleton(auth)
    .AddSingleton(passwordOptions).AddSingleton(refreshOptions).AddSingleton(dbEncryption).AddSingleton(mfaOptions)
    .AddSingleton(external).AddSingleton(web3);
builder.Services.AddSingleton<ColumnEncryption>();
builder.Services.AddSingleton(profileOptions).AddSingleton(dbConnectionOptions).AddSingleton(cookieOptions);
builder.Services.AddSingleton(signingKeys).AddSingleton(hooks);
builder.Services.AddSingleton<HookRunner>();
builder.Services.AddSingleton(rateLimits).AddSingleton(captcha).AddSingleton<RateLimiter>().AddSingleton<CaptchaVerifier>();
builder.Services.AddHttpClient().AddHostedService<RateLimitJanitor>();
builder.Services.AddSingleton(smsOptions).AddSingleton<AuthServer.Sms.SmsSender>();
builder.Services.AddSingleton(_ =>
{
    // Named, so metrics label the pool "authserver" instead of with the connection string.
    var dataSource = new NpgsqlDataSourceBuilder(dbOptions.ConnectionString) { Name = "authserver" };
    dbOptions.ApplyTo(dataSource.ConnectionStringBuilder);
    dbTimeouts.ApplyTo(dataSource.ConnectionStringBuilder);
    return dataSource.Build();
});
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<IdTokens>();
builder.Services.AddSingleton<AccessTokens>().AddSingleton<PwnedPasswords>().AddSingleton<Passwords>().AddSingleton<SessionIssuer>();
builder.Services.AddOpenApi();
builder.Services.AddHttpContextAccessor().AddSingleton(mailerNotifications).AddSingleton<Notifications>();
builder.Services.AddSingleton(mailerOptions).AddSingleton<Outbox>().AddSingleton<Mailer>().AddSingleton<MailTemplates>()
    .AddSingleton<SendEmailHook>()
    .AddHostedService<MailSender>().AddHttpClient();
builder.Services.AddExceptionHandler<ApiErrorHandler>();
builder.Services.AddProblemDetails(); // only because parameterless UseExceptionHandler() needs it (dotnet/aspnetcore#51888)
builder.Services.AddGoTrueCors(); // cookie mode narrows credentialed CORS (Http/CorsSetup)

var app = builder.Build();
foreach (var warning in env.Warnings) app.Logger.LogWarning("Configuration: {Warning}", warning); // README "Configuration"

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
// Settings that live in the database (README "Profiles", "Database connections").
var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
await ProfileQueries.ApplySettingAsync(dataSource, profileOptions.AutoCreate, app.Lifetime.ApplicationStopping);
await DbConnectionQueries.SeedDefaultAsync(dataSource, dbConnectionOptions.DefaultName, dbConnectionOptions.ClientIds,
    passwordOptions.MinLength, passwordOptions.RequiredCharacters, dbConnectionOptions.VerifyEmailAutoSend,
    dbConnectionOptions.WelcomeEmailEnabled, app.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime,
    app.Lifetime.ApplicationStopping);

// The metrics listener answers /metrics and nothing else, as GoTrue's own metrics server. Branched before
// routing, so the API's endpoints are never selected there (prometheus-net's port filter left a 500 on the API
// port's /metrics).
if (metricsPort != 0)
    app.MapWhen(http => http.Connection.LocalPort == metricsPort, metrics => metrics.UseMetricServer("/metrics"));
// supabase-js calls `${url}/auth/v1/…`; the gateway usually strips that prefix, we accept both.
app.UsePathBase("/auth/v1");
app.UseRouting(); // explicitly after UsePathBase, so routes match the stripped path
app.UseRequestIdHeader();
// CORS outside the exception handler: browsers must be able to read error bodies too.
app.UseCors();
// Metrics outside the exception handler, so failed requests are counted with their final status.
app.UseHttpMetrics();
app.UseAuthMetrics();
AuthMetrics.TrackOutbox(app.Services.GetRequiredService<NpgsqlDataSource>());
app.UseCookieSessions(); // outside the exception handler, so it sees rendered errors too
app.UseExceptionHandler();
app.UseRateLimits();
app.UseAfterUserCreatedHooks();

app.MapHealth();
app.MapReady();
if (openApiEnabled) app.MapOpenApi("/openapi.json");
app.MapSignup();
app.MapToken();
app.MapUser();
app.MapLogout();
app.MapVerify();
app.MapOtp();
app.MapRecover();
app.MapResend();
app.MapReauthenticate();
app.MapInvite();
app.MapExternal();
app.MapIdentity();
app.MapMfa();
app.MapJwks();
app.MapAdmin();
app.MapDbConnectionSignup();
app.MapConnectionAdmin();
app.MapProfile();
app.MapSso();
app.MapDisabledFeatures();
app.MapFallback(() => Results.Text("404 page not found\n", "text/plain", statusCode: 404));

if (rateLimits.Header is not null && rateLimits.TrustedProxies.Count == 0)
    app.Logger.LogWarning("GOTRUE_RATE_LIMIT_HEADER is set but GOTRUE_RATE_LIMIT_TRUSTED_PROXIES is empty: per-IP limits use the socket address");
app.Logger.LogInformation("AuthServer listening on port {Port}", api.Port);
await app.RunAsync();
return 0;

public partial class Program;
