using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Admin;
using AuthServer.Features.Health;
using AuthServer.Features.Jwks;
using AuthServer.Features.Logout;
using AuthServer.Features.Signup;
using AuthServer.Features.Token;
using AuthServer.Features.User;
using AuthServer.Hooks;
using AuthServer.Http;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

if (args is ["generate-jwk", ..])
{
    // Key tooling, not a server run: print a private JWK for GOTRUE_JWT_KEYS (README "Signing keys").
    Console.WriteLine(JwkGenerator.Generate(args.Length > 1 ? args[1] : "ES256"));
    return 0;
}

var builder = WebApplication.CreateBuilder(args);

// Configuration is GoTrue's environment variables; a bad value stops the boot naming the variable.
var env = new EnvReader(builder.Configuration);
ApiOptions api; DbOptions dbOptions; JwtOptions jwt; AuthOptions auth; PasswordOptions passwordOptions; RefreshOptions refreshOptions;
SigningKeys signingKeys; HookOptions hooks;
try
{
    api = ApiOptions.Load(env);
    dbOptions = DbOptions.Load(env);
    jwt = JwtOptions.Load(env);
    auth = AuthOptions.Load(env);
    passwordOptions = PasswordOptions.Load(env);
    refreshOptions = RefreshOptions.Load(env);
    signingKeys = SigningKeys.Load(env, jwt);
    hooks = HookOptions.Load(env);
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
    .AddSingleton(passwordOptions).AddSingleton(refreshOptions).AddSingleton(signingKeys).AddSingleton(hooks);
builder.Services.AddSingleton<HookRunner>();
builder.Services.AddSingleton(_ =>
{
    var dataSource = new NpgsqlDataSourceBuilder(dbOptions.ConnectionString);
    if (dbOptions.MaxPoolSize > 0) dataSource.ConnectionStringBuilder.MaxPoolSize = dbOptions.MaxPoolSize;
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
    .WithExposedHeaders("X-Total-Count", "Link", ApiVersion.Header)));

var app = builder.Build();

await Migrator.MigrateWithRetryAsync(dbOptions.ConnectionString, app.Logger, app.Lifetime.ApplicationStopping);

// supabase-js calls `${url}/auth/v1/…`; the gateway usually strips that prefix, we accept both.
app.UsePathBase("/auth/v1");
app.UseRouting(); // explicitly after UsePathBase, so routes match the stripped path
app.UseExceptionHandler();
app.UseCors();

app.MapHealth();
app.MapSignup();
app.MapToken();
app.MapUser();
app.MapLogout();
app.MapJwks();
app.MapAdmin();
app.MapFallback(() => Results.Text("404 page not found\n", "text/plain", statusCode: 404));

app.Logger.LogInformation("AuthServer listening on port {Port}", api.Port);
await app.RunAsync();
return 0;

public partial class Program;
