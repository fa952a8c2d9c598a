using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Features;

/// <summary>The custom access token hook as a Postgres function (pg-functions://postgres/public/custom_access_token_hook).</summary>
public sealed class PgHookFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED"] = "true";
        settings["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI"] = "pg-functions://postgres/public/custom_access_token_hook";
    }
}

/// <summary>The custom access token hook as an HTTP endpoint on 127.0.0.1, Standard Webhooks-signed.</summary>
public sealed class HttpHookFixture : AuthServerFixture, IAsyncLifetime
{
    public HookReceiver Receiver { get; } = new();

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED"] = "true";
        settings["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI"] = Receiver.Url;
        settings["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS"] = HookReceiver.Secret;
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

public sealed class PgCustomAccessTokenHookTests(PgHookFixture server) : IClassFixture<PgHookFixture>
{
    // One function, steered by the email's prefix, so each test picks the hook's behaviour.
    const string HookFunction = """
        create or replace function public.custom_access_token_hook(event jsonb) returns jsonb
        language plpgsql as $$
        declare
            email text := event->'claims'->>'email';
        begin
            if email like 'garbage-%' then
                return '{"claims": "not an object"}'::jsonb;
            elsif email like 'missing-%' then
                return jsonb_build_object('claims', (event->'claims') - 'session_id');
            elsif email like 'badtype-%' then
                return jsonb_build_object('claims', jsonb_set(event->'claims', '{exp}', '"soon"'));
            elsif email like 'reject-%' then
                return '{"error": {"http_code": 403, "message": "No tokens for you"}}'::jsonb;
            elsif email like 'raise-%' then
                raise exception 'hook blew up';
            end if;
            return jsonb_build_object('claims', (event->'claims') || jsonb_build_object(
                'plan', 'pro', 'hook_method', event->>'authentication_method', 'hook_user', event->>'user_id'));
        end
        $$;
        """;

    async Task InstallAsync() => await server.Db.ExecuteAsync(HookFunction);

    [Fact]
    public async Task SignUpSignInRefresh_EveryTokenCarriesHookClaims()
    {
        await InstallAsync();
        var (email, password, signup) = await server.NewUserAsync("hooked");
        var claims = Jwt.Payload((string)signup["access_token"]!);
        Assert.Equal("pro", (string?)claims["plan"]);
        Assert.Equal("password", (string?)claims["hook_method"]);
        Assert.Equal((string?)signup["user"]!["id"], (string?)claims["hook_user"]);
        Assert.True(Jwt.HasValidHs256Signature((string)signup["access_token"]!, AuthServerFixture.JwtSecret));
        Assert.Equal((long)claims["exp"]!, (long)signup["expires_at"]!);

        var signin = await server.SignInAsync(email, password);
        Assert.Equal("pro", (string?)Jwt.Payload((string)signin["access_token"]!)["plan"]);

        using var client = server.CreateClient();
        var refreshed = await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)signin["refresh_token"]! }));
        Assert.Equal("token_refresh", (string?)Jwt.Payload((string)refreshed["access_token"]!)["hook_method"]);
    }

    [Theory]
    [InlineData("garbage", 500, "unexpected_failure", "Error running hook URI: pg-functions://postgres/public/custom_access_token_hook")]
    [InlineData("missing", 500, "unexpected_failure", "output claims do not conform to the expected schema: \n- (root): session_id is required\n")]
    [InlineData("badtype", 500, "unexpected_failure", "output claims do not conform to the expected schema: \n- exp: Invalid type. Expected: integer, given: string\n")]
    [InlineData("reject", 403, "unknown", "No tokens for you")]
    [InlineData("raise", 500, "unexpected_failure", "Error running hook URI: pg-functions://postgres/public/custom_access_token_hook")]
    public async Task SignIn_HookAnswersBadly_FailsAndCreatesNoSession(string prefix, int status, string code, string message)
    {
        await InstallAsync();
        var email = $"{prefix}-{Guid.NewGuid():N}@example.com";
        var id = await server.Db.InsertEmailUserAsync(email, "hook-password");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        var response = await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "hook-password" });

        await ApiAssert.ErrorAsync(response, status, code, message);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));
    }

    [Fact]
    public async Task Refresh_HookFails_RotationIsRolledBack()
    {
        await InstallAsync();
        var email = $"later-{Guid.NewGuid():N}@example.com";
        var id = await server.Db.InsertEmailUserAsync(email, "hook-password");
        var session = await server.SignInAsync(email, "hook-password");
        // The user's email now makes the hook reject.
        await server.Db.ExecuteAsync("update auth.users set email = 'reject-' || email where id = @id", new { id });
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }), 403, "unknown", "No tokens for you");

        Assert.False(await server.Db.ScalarAsync<bool>("select revoked from auth.refresh_tokens where token = @t",
            new { t = (string)session["refresh_token"]! }));
    }
}

public sealed class HttpCustomAccessTokenHookTests(HttpHookFixture server) : IClassFixture<HttpHookFixture>
{
    [Fact]
    public async Task SignUp_HttpHook_ReceivesSignedInputAndItsClaimsAreSigned()
    {
        server.Receiver.Respond = body =>
        {
            var claims = body["claims"]!.AsObject();
            claims["tenant"] = "acme";
            return (200, "application/json; charset=utf-8", new JsonObject { ["claims"] = claims.DeepClone() }.ToJsonString());
        };
        var before = server.Receiver.Calls.Count;

        var (_, _, session) = await server.NewUserAsync("http");

        var call = server.Receiver.Calls.Skip(before).Single();
        Assert.True(call.SignatureValid, $"signature {call.Signature} does not verify");
        Assert.True(Guid.TryParse(call.WebhookId, out _));
        Assert.InRange(long.Parse(call.Timestamp), server.Clock.GetUtcNow().ToUnixTimeSeconds() - 5, server.Clock.GetUtcNow().ToUnixTimeSeconds());
        Assert.Equal((string?)session["user"]!["id"], (string?)call.Body["user_id"]);
        Assert.Equal("password", (string?)call.Body["authentication_method"]);
        Assert.Equal((string?)session["user"]!["id"], (string?)call.Body["claims"]!["sub"]);
        Assert.Equal("acme", (string?)Jwt.Payload((string)session["access_token"]!)["tenant"]);
    }

    [Theory]
    [InlineData(200, "text/plain", "{}")]
    [InlineData(500, "application/json", "{}")]
    [InlineData(200, "application/json", "[1,2]")]
    public async Task SignUp_HttpHookAnswersBadly_Returns500(int status, string contentType, string body)
    {
        server.Receiver.Respond = _ => (status, contentType, body);
        var email = AuthServerFixture.NewEmail("httpbad");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        var response = await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" });

        await ApiAssert.ErrorAsync(response, 500, "unexpected_failure", "Error running hook URI: " + server.Receiver.Url);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }

    [Fact]
    public async Task SignUp_HttpHookReturnsError_UsesItsStatusAndMessage()
    {
        server.Receiver.Respond = _ => (200, "application/json", """{"error":{"http_code":429,"message":"Slow down"}}""");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        var response = await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail("slow"), password = "correct-horse-battery" });
        // Every 429 carries Retry-After (issue 14 item 3); the hook names no time, so the smallest: 1 s.
        Assert.Equal(["1"], response.Headers.GetValues("Retry-After"));
        await ApiAssert.ErrorAsync(response, 429, "unknown", "Slow down");
    }
}

/// <summary>Hook settings are validated at boot (GoTrue `ValidateExtensibilityPoint`).</summary>
public sealed class HookConfigTests
{
    static HookOptions Load(string uri, string? secrets = null)
    {
        var values = new Dictionary<string, string?>
        {
            ["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED"] = "true",
            ["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI"] = uri,
            ["GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS"] = secrets,
        };
        return HookOptions.Load(new EnvReader(new ConfigurationBuilder().AddInMemoryCollection(values).Build()));
    }

    [Theory]
    [InlineData("http://example.com/hook", "v1,whsec_c2VjcmV0", "only localhost, 127.0.0.1, and ::1 are supported with http")]
    [InlineData("ftp://localhost/hook", null, "only postgres hooks and HTTPS functions are supported at the moment")]
    [InlineData("pg-functions://postgres/public", null, "URI path does not contain enough parts")]
    [InlineData("pg-functions://postgres/public/bad;name", null, "schema and function must be plain identifiers")]
    [InlineData("https://hooks.example.com/x", "whsec_c2VjcmV0", "invalid secret format")]
    public void Load_InvalidHook_ThrowsConfigException(string uri, string? secrets, string message) =>
        Assert.Contains(message, Assert.Throws<ConfigException>(() => Load(uri, secrets)).Message);

    [Fact]
    public void Load_PgFunction_QuotesSchemaAndName()
    {
        var hook = Load("pg-functions://postgres/Auth_Hooks/Custom_Claims").CustomAccessToken;
        Assert.Equal("\"Auth_Hooks\".\"Custom_Claims\"", hook.PgFunction);
        Assert.False(hook.IsHttp);
    }

    [Fact]
    public void Load_HttpsWithTwoSecrets_DecodesBoth()
    {
        var hook = Load("https://hooks.example.com/x", "v1,whsec_c2VjcmV0|v1,whsec_b3RoZXI=").CustomAccessToken;
        Assert.Equal(["secret", "other"], hook.SecretKeys.Select(k => System.Text.Encoding.UTF8.GetString(k)));
    }
}
