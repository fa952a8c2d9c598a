using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// The real server on Kestrel (127.0.0.1, random port) over its own clone of the migrated template
/// database. One per test class (<c>IClassFixture</c>); subclass and override <see cref="Configure"/>
/// for other GOTRUE_* settings.
/// </summary>
public class AuthServerFixture : IAsyncLifetime
{
    public const string JwtSecret = "test-jwt-secret-with-at-least-32-characters-0123456789";
    public const string ApiVersion2024 = "2024-01-01";
    public const string UserAgent = "AuthServer.Tests/1.0";

    readonly CapturedLog log = new();
    readonly SocketsHttpHandler handler = new() { AllowAutoRedirect = false, UseCookies = false };
    Factory? factory;

    public TestClock Clock { get; } = new();

    /// <summary>The loopback SMTP server the server delivers mail to (GOTRUE_SMTP_HOST/PORT point here).</summary>
    public SmtpCatcher Mail { get; } = new();
    public Db Db { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The running server's services (e.g. its route table).</summary>
    public IServiceProvider Services => factory!.Services;

    /// <summary>Warnings and errors the server logged so far, for failure messages.</summary>
    public string ServerLog => log.Text;

    /// <summary>Settings as GoTrue env var names; override to change them for one test class.</summary>
    protected virtual void Configure(IDictionary<string, string> settings)
    {
    }

    /// <summary>Test-only service replacements (after the server's own registrations).</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>The database the server starts on: by default a clone of the migrated template.</summary>
    protected virtual async Task<string> CreateDatabaseAsync() =>
        await (await PostgresCluster.GetAsync()).CloneTemplateAsync(GetType().Name);

    public async Task InitializeAsync()
    {
        var connectionString = await CreateDatabaseAsync();
        Db = new Db(connectionString);

        Mail.Start();
        var settings = new Dictionary<string, string>
        {
            ["GOTRUE_SMTP_HOST"] = "127.0.0.1",
            ["GOTRUE_SMTP_PORT"] = Mail.Port.ToString(),
            ["GOTRUE_SMTP_ADMIN_EMAIL"] = "admin@example.com",
            ["GOTRUE_JWT_SECRET"] = JwtSecret,
            ["GOTRUE_SITE_URL"] = "http://localhost:3000",
            ["API_EXTERNAL_URL"] = "http://localhost:9999",
            ["GOTRUE_DB_DRIVER"] = "postgres",
            ["DATABASE_URL"] = connectionString,
            ["GOTRUE_MAILER_AUTOCONFIRM"] = "true",
            ["GOTRUE_PASSWORD_HASH_COST"] = "4",
            // Every test class talks from 127.0.0.1: lift the per-IP limits (RateLimitTests use the defaults).
            ["GOTRUE_RATE_LIMIT_TOKEN_REFRESH"] = "1000000",
            ["GOTRUE_RATE_LIMIT_OTP"] = "1000000",
            ["GOTRUE_RATE_LIMIT_VERIFY"] = "1000000",
            ["GOTRUE_RATE_LIMIT_ANONYMOUS_USERS"] = "1000000",
            ["GOTRUE_RATE_LIMIT_EMAIL_SENT"] = "1000000",
            ["GOTRUE_RATE_LIMIT_SMS_SENT"] = "1000000",
            ["GOTRUE_RATE_LIMIT_PASSWORD_PER_ACCOUNT"] = "1000000/1s",
            ["GOTRUE_RATE_LIMIT_PASSWORD_FAILURES_PER_ACCOUNT"] = "1000000/1s",
            ["GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY"] = "1000000",
        };
        Configure(settings);

        factory = new Factory(this, settings);
        factory.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        factory.StartServer();

        var address = factory.Services.GetRequiredService<IServer>().Features
            .Get<IServerAddressesFeature>()!.Addresses.Single();
        BaseAddress = new Uri(address);
    }

    public async Task DisposeAsync()
    {
        if (factory is not null)
            await factory.DisposeAsync();
        await Mail.DisposeAsync();
        handler.Dispose();
    }

    /// <summary>
    /// A client for the Kestrel address. <paramref name="apiVersion"/> goes into X-Supabase-Api-Version
    /// (supabase-js sends 2024-01-01; gotrue-csharp sends nothing).
    /// </summary>
    public HttpClient CreateClient(string? apiVersion = null, string? bearer = null)
    {
        var client = new HttpClient(handler, disposeHandler: false) { BaseAddress = BaseAddress };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(UserAgent);
        if (apiVersion is not null)
            client.DefaultRequestHeaders.Add("X-Supabase-Api-Version", apiVersion);
        if (bearer is not null)
            client.DefaultRequestHeaders.Authorization = new("Bearer", bearer);
        return client;
    }

    public static string NewEmail(string prefix = "user") => $"{prefix}-{Guid.NewGuid():N}@example.com";

    /// <summary>POST /signup and expect a session (autoconfirm on).</summary>
    public async Task<JsonObject> SignUpAsync(string email, string password, object? data = null)
    {
        using var client = CreateClient();
        var response = await client.PostAsJsonAsync("/signup", new { email, password, data });
        return await OkJsonAsync(response);
    }

    /// <summary>POST /token?grant_type=password and expect a session.</summary>
    public async Task<JsonObject> SignInAsync(string email, string password)
    {
        using var client = CreateClient();
        var response = await client.PostAsJsonAsync("/token?grant_type=password", new { email, password });
        return await OkJsonAsync(response);
    }

    /// <summary>A fresh confirmed user with one session: (email, password, session).</summary>
    public async Task<(string Email, string Password, JsonObject Session)> NewUserAsync(string prefix = "user")
    {
        var email = NewEmail(prefix);
        const string password = "correct-horse-battery";
        return (email, password, await SignUpAsync(email, password));
    }

    public async Task<JsonObject> OkJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: expected 200, got {(int)response.StatusCode} {body}\n{ServerLog}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>
    /// Sends the same request as a legacy client and as supabase-js (2024-01-01) and checks both error
    /// shapes. Only for requests that change nothing.
    /// </summary>
    public async Task AssertErrorBothShapesAsync(Func<HttpClient, Task<HttpResponseMessage>> send,
        int status, string errorCode, string? message = null, string? bearer = null, string? messagePrefix = null,
        Action<JsonObject>? inspect = null)
    {
        foreach (var version in new[] { ApiVersion2024, null })
        {
            using var client = CreateClient(version, bearer);
            var body = await ApiAssert.ErrorAsync(await send(client), status, errorCode, message, messagePrefix);
            inspect?.Invoke(body);
        }
    }

    /// <summary>The access token's claims re-signed after <paramref name="edit"/>, with our secret or another.</summary>
    public static string Resign(string accessToken, Action<JsonObject> edit, string secret = JwtSecret)
    {
        var claims = Jwt.Payload(accessToken);
        edit(claims);
        return Jwt.Sign(claims, secret);
    }

    sealed class Factory(AuthServerFixture fixture, IReadOnlyDictionary<string, string> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings)
                builder.UseSetting(key, value);
            builder.ConfigureLogging(logging =>
            {
                logging.ClearProviders();
                logging.SetMinimumLevel(LogLevel.Warning);
                logging.AddProvider(fixture.log);
            });
            builder.ConfigureTestServices(services =>
            {
                services.RemoveAll<TimeProvider>();
                services.AddSingleton<TimeProvider>(fixture.Clock);
                fixture.ConfigureServices(services);
            });
        }
    }
}

/// <summary>GOTRUE_MAILER_AUTOCONFIRM=false: sign-up answers with a user, not a session.</summary>
public sealed class AutoconfirmOffFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_MAILER_AUTOCONFIRM"] = "false";
}

/// <summary>GOTRUE_DISABLE_SIGNUP=true.</summary>
public sealed class SignupDisabledFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_DISABLE_SIGNUP"] = "true";
}

/// <summary>GOTRUE_EXTERNAL_EMAIL_ENABLED=false.</summary>
public sealed class EmailProviderDisabledFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_EXTERNAL_EMAIL_ENABLED"] = "false";
}

/// <summary>Phone provider on with GOTRUE_SMS_AUTOCONFIRM, so phone sign-up returns a session.</summary>
public sealed class PhoneAutoconfirmFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true";
        settings["GOTRUE_SMS_AUTOCONFIRM"] = "true";
    }
}

/// <summary>Stricter password policy: 8 characters, lower + upper + digit.</summary>
public sealed class StrictPasswordFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_PASSWORD_MIN_LENGTH"] = "8";
        settings["GOTRUE_PASSWORD_REQUIRED_CHARACTERS"] = "abcdefghijklmnopqrstuvwxyz:ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789";
    }
}

/// <summary>GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL=10, as on Supabase hosted.</summary>
public sealed class ReuseIntervalFixture : AuthServerFixture
{
    public const int ReuseIntervalSeconds = 10;

    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL"] = ReuseIntervalSeconds.ToString();
}
