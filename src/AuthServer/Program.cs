if (AuthServer.Cli.Cli.IsCommand(args)) return await AuthServer.Cli.Cli.RunAsync(args);

var builder = WebApplication.CreateBuilder(args);

// Configuration is GoTrue's environment variables; each module loads its own and registers its services.
// Cross-cutting modules first: areas read what they register. A bad value stops the boot naming the variable.
var env = new EnvReader(builder.Configuration);
try
{
    builder.AddCrossCutting(env); // Http, Observability, Data, Security, Sessions, Mail, Sms, Hooks, RateLimits, Captcha
    builder.Services.AddMfa(env);
    builder.Services.AddExternal(env);
    builder.Services.AddWeb3(env);
    builder.Services.AddProfile(env);
    builder.Services.AddDbConnections(env);
    builder.Services.AddDisabledFeatures(env);
    builder.Services.AddConsole(env);
    builder.Services.AddPasskeys(env);
    builder.Services.AddOAuthServer(env);
    builder.Services.AddCustomProviders(env);
    builder.Services.AddSso(env);
}
catch (ConfigException e)
{
    Console.Error.WriteLine($"authserver: configuration error: {e.Message}");
    return 1;
}

var app = builder.Build();
foreach (var warning in env.Warnings) app.Logger.LogWarning("Configuration: {Warning}", warning);
if (!await app.MigrateDatabaseAsync()) return 1;

app.UseGoTrueMiddleware();
app.MapHttp();
app.MapHealth();
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
app.MapCustomProviders();
app.MapIdentity();
app.MapMfa();
app.MapPasskeys();
app.MapJwks();
app.MapAdmin();
app.MapDbConnections();
app.MapConsole();
app.MapProfile();
app.MapSso();
app.MapDisabledFeatures();
app.MapOAuthServer();
await app.RunAsync();
return 0;

public partial class Program;
