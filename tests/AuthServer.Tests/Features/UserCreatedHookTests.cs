using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Before/after-user-created and MFA verification attempt hooks as Postgres functions.</summary>
public sealed class PgUserHooksFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED"] = "true";
        settings["GOTRUE_HOOK_BEFORE_USER_CREATED_ENABLED"] = "true";
        settings["GOTRUE_HOOK_BEFORE_USER_CREATED_URI"] = "pg-functions://postgres/public/before_user_created_hook";
        settings["GOTRUE_HOOK_AFTER_USER_CREATED_ENABLED"] = "true";
        settings["GOTRUE_HOOK_AFTER_USER_CREATED_URI"] = "pg-functions://postgres/public/after_user_created_hook";
        settings["GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT_ENABLED"] = "true";
        settings["GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT_URI"] = "pg-functions://postgres/public/mfa_attempt_hook";
    }
}

/// <summary>GoTrue internal/api/hooks.go (`triggerBeforeUserCreated`, `triggerAfterUserCreated`) and mfa.go.</summary>
public sealed class PgUserHooksTests(PgUserHooksFixture server) : IClassFixture<PgUserHooksFixture>
{
    static readonly string ServiceKey = TestKeys.ServiceRoleKey(withExp: false);

    // before: records every event; refuses emails starting "blocked-" and users whose data says block=yes.
    // after: records every event; raises for "afterfail-" users. mfa: records; rejects "mfareject-" users.
    internal const string HookFunctions = """
        create table if not exists public.before_calls (event jsonb);
        create table if not exists public.after_calls (event jsonb);
        create table if not exists public.mfa_calls (event jsonb);
        create or replace function public.before_user_created_hook(event jsonb) returns jsonb
        language plpgsql as $$
        begin
            insert into public.before_calls values (event);
            if event->'user'->>'email' like 'blocked-%' or event->'user'->'user_metadata'->>'block' = 'yes' then
                return '{"error":{"http_code":403,"message":"Sign-ups are closed for you"}}'::jsonb;
            end if;
            return '{}'::jsonb;
        end
        $$;
        create or replace function public.after_user_created_hook(event jsonb) returns jsonb
        language plpgsql as $$
        begin
            if event->'user'->>'email' like 'afterfail-%' then
                raise exception 'after hook broke';
            end if;
            insert into public.after_calls values (event);
            return '{}'::jsonb;
        end
        $$;
        create or replace function public.mfa_attempt_hook(event jsonb) returns jsonb
        language plpgsql as $$
        begin
            insert into public.mfa_calls values (event);
            if (select email from auth.users where id = (event->>'user_id')::uuid) like 'mfareject-%' then
                return '{"decision":"reject","message":"Too many attempts"}'::jsonb;
            end if;
            return '{"decision":"continue"}'::jsonb;
        end
        $$;
        """;

    Task<long> UsersWithEmailAsync(string email) =>
        server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email });

    Task<List<string>> BeforeEventsAsync(string email) =>
        server.Db.QueryAsync<string>("select event::text from public.before_calls where event->'user'->>'email' = @email", new { email });

    Task<List<string>> AfterEventsAsync(string email) =>
        server.Db.QueryAsync<string>("select event::text from public.after_calls where event->'user'->>'email' = @email", new { email });

    [Fact]
    public async Task Signup_BeforeHookRejects_AnswersHookErrorAndWritesNothing()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("blocked");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = "password-123" }),
            403, "unknown", "Sign-ups are closed for you");

        Assert.Equal(0, await UsersWithEmailAsync(email));
        Assert.Empty(await AfterEventsAsync(email));
        Assert.Equal(2, (await BeforeEventsAsync(email)).Count); // one per error shape
    }

    [Fact]
    public async Task Signup_BeforeHookContinues_SeesCandidateThenAfterHookSeesStoredUser()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("open");
        var session = await server.SignUpAsync(email, "password-123", new { color = "blue" });
        var id = (string)session["user"]!["id"]!;

        var before = JsonNode.Parse(Assert.Single(await BeforeEventsAsync(email)))!;
        Assert.Equal("before-user-created", (string?)before["metadata"]!["name"]);
        Assert.True(Guid.TryParse((string?)before["metadata"]!["uuid"], out _));
        Assert.Equal(id, (string?)before["user"]!["id"]);
        Assert.Equal("blue", (string?)before["user"]!["user_metadata"]!["color"]);
        Assert.Equal("email", (string?)before["user"]!["app_metadata"]!["provider"]);
        Assert.Empty(before["user"]!["identities"]!.AsArray());

        var after = JsonNode.Parse(Assert.Single(await AfterEventsAsync(email)))!;
        Assert.Equal("after-user-created", (string?)after["metadata"]!["name"]);
        Assert.Equal(id, (string?)after["user"]!["id"]);
        Assert.Equal("authenticated", (string?)after["user"]!["role"]);
        Assert.Single(after["user"]!["identities"]!.AsArray());
    }

    [Fact]
    public async Task Signup_AfterHookFails_UserStaysCreated()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("afterfail");
        var session = await server.SignUpAsync(email, "password-123");
        Assert.NotNull(session["access_token"]);
        Assert.Equal(1, await UsersWithEmailAsync(email));
    }

    [Fact]
    public async Task Signup_ExistingUser_DoesNotCallHooks()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("again");
        await server.Db.InsertEmailUserAsync(email, "password-123", confirmed: false);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await client.PostAsJsonAsync("/signup", new { email, password = "password-123" });
        Assert.Empty(await BeforeEventsAsync(email));
        Assert.Empty(await AfterEventsAsync(email));
    }

    [Fact]
    public async Task AnonymousSignup_BeforeHookRejects_NoUser()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var marker = Guid.NewGuid().ToString();
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { data = new { block = "yes", marker } }),
            403, "unknown", "Sign-ups are closed for you");
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.users where raw_user_meta_data->>'marker' = @marker", new { marker }));
        var seen = await server.Db.QueryAsync<bool>(
            "select (event->'user'->>'is_anonymous')::boolean from public.before_calls where event->'user'->'user_metadata'->>'marker' = @marker",
            new { marker });
        Assert.Equal([true, true], seen);
    }

    [Fact]
    public async Task AdminCreate_BeforeHookRejects_NoUser()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("blocked");
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync("/admin/users", new { email, password = "password-123" }),
            403, "unknown", "Sign-ups are closed for you");
        Assert.Equal(0, await UsersWithEmailAsync(email));
    }

    [Fact]
    public async Task Invite_BeforeHookRejects_NoUserNoMail()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("blocked");
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync("/invite", new { email }), 403, "unknown", "Sign-ups are closed for you");
        Assert.Equal(0, await UsersWithEmailAsync(email));
        Assert.Single(await BeforeEventsAsync(email));
    }

    [Fact]
    public async Task Otp_BeforeHookRejects_NoUser()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("blocked");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/otp", new { email }), 403, "unknown", "Sign-ups are closed for you");
        Assert.Equal(0, await UsersWithEmailAsync(email));
    }

    [Fact]
    public async Task AdminCreate_HooksContinue_AfterHookSeesUser()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var email = AuthServerFixture.NewEmail("made");
        using var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, ServiceKey);
        var user = await server.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users", new { email, password = "password-123" }));
        Assert.Single(await BeforeEventsAsync(email));
        var after = JsonNode.Parse(Assert.Single(await AfterEventsAsync(email)))!;
        Assert.Equal((string?)user["id"], (string?)after["user"]!["id"]);
    }

    // ---- MFA verification attempt ----

    async Task<(JsonObject Session, string FactorId, string Secret, string ChallengeId)> ChallengedAsync(string prefix)
    {
        var (_, _, session) = await server.NewUserAsync(prefix);
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", new { factor_type = "totp" }));
        var factorId = (string)enrolled["id"]!;
        var challenge = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }));
        return (session, factorId, (string)enrolled["totp"]!["secret"]!, (string)challenge["id"]!);
    }

    [Fact]
    public async Task MfaVerify_HookRejects_Returns403AndEndsSessions()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var (session, factorId, secret, challengeId) = await ChallengedAsync("mfareject");
        var userId = Guid.Parse((string)session["user"]!["id"]!);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify",
                new { challenge_id = challengeId, code = TotpCodes.At(secret, server.Clock.GetUtcNow()) }),
            403, "mfa_verification_rejected", "Too many attempts");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId", new { userId }));
        Assert.Equal("unverified", await server.Db.ScalarAsync<string>("select status::text from auth.mfa_factors where id = @id",
            new { id = Guid.Parse(factorId) }));
        Assert.True(await server.Db.ScalarAsync<bool>(
            "select (event->>'valid')::boolean from public.mfa_calls where event->>'factor_id' = @factorId", new { factorId }));
    }

    [Fact]
    public async Task MfaVerify_HookContinues_WrongThenRightCode_SeesBothAttempts()
    {
        await server.Db.ExecuteAsync(HookFunctions);
        var (session, factorId, secret, challengeId) = await ChallengedAsync("mfaok");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);
        var code = TotpCodes.At(secret, server.Clock.GetUtcNow());
        var wrong = code == "000000" ? "111111" : "000000";

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code = wrong }),
            422, "mfa_verification_failed", "Invalid TOTP code entered");
        var aal2 = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code }));
        Assert.NotNull(aal2["access_token"]);

        var events = (await server.Db.QueryAsync<string>(
            "select event::text from public.mfa_calls where event->>'factor_id' = @factorId order by ctid", new { factorId }))
            .Select(e => JsonNode.Parse(e)!).ToList();
        Assert.Equal([false, true], events.Select(e => (bool)e["valid"]!));
        Assert.All(events, e => Assert.Equal("totp", (string?)e["factor_type"]));
        Assert.All(events, e => Assert.Equal((string?)session["user"]!["id"], (string?)e["user_id"]));
    }
}

/// <summary>The same hooks as Standard Webhooks HTTP endpoints on 127.0.0.1.</summary>
public sealed class HttpUserHooksFixture : AuthServerFixture, IAsyncLifetime
{
    public HookReceiver Receiver { get; } = new();

    protected override void Configure(IDictionary<string, string> settings)
    {
        foreach (var name in new[] { "BEFORE_USER_CREATED", "AFTER_USER_CREATED", "MFA_VERIFICATION_ATTEMPT" })
        {
            settings[$"GOTRUE_HOOK_{name}_ENABLED"] = "true";
            settings[$"GOTRUE_HOOK_{name}_URI"] = Receiver.Url;
            settings[$"GOTRUE_HOOK_{name}_SECRETS"] = HookReceiver.Secret;
        }
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

public sealed class HttpUserHooksTests : IClassFixture<HttpUserHooksFixture>
{
    readonly HttpUserHooksFixture server;

    public HttpUserHooksTests(HttpUserHooksFixture server)
    {
        this.server = server;
        // Rejects sign-ups of "blocked-" emails with a 422 and MFA attempts of "mfareject-" users; accepts the rest.
        server.Receiver.Respond = body =>
        {
            var name = (string?)body["metadata"]?["name"];
            var email = (string?)body["user"]?["email"] ?? "";
            if (name == "before-user-created" && email.StartsWith("blocked-", StringComparison.Ordinal))
                return (200, "application/json", """{"error":{"http_code":422,"message":"No sign-ups today"}}""");
            if (name == "mfa-verification")
                return (200, "application/json", IsRejected((string?)body["user_id"])
                    ? """{"decision":"reject"}""" : """{"decision":"continue"}""");
            return (200, "application/json", "{}");
        };
    }

    static readonly HashSet<string> Rejected = [];

    static bool IsRejected(string? userId)
    {
        lock (Rejected) return userId is not null && Rejected.Contains(userId);
    }

    List<HookReceiver.Call> CallsFor(string name, string email) =>
        server.Receiver.Calls.Where(c => (string?)c.Body["metadata"]?["name"] == name && (string?)c.Body["user"]?["email"] == email).ToList();

    [Fact]
    public async Task Signup_HttpBeforeHookRejects_AnswersItsErrorSignedAndWritesNothing()
    {
        var email = AuthServerFixture.NewEmail("blocked");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", new { email, password = "password-123" }),
            422, "unknown", "No sign-ups today");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
        var call = Assert.Single(CallsFor("before-user-created", email));
        Assert.True(call.SignatureValid);
        Assert.Empty(CallsFor("after-user-created", email));
    }

    [Fact]
    public async Task Signup_HttpHooksAccept_BeforeThenAfterWithStoredUser()
    {
        var email = AuthServerFixture.NewEmail("open");
        var session = await server.SignUpAsync(email, "password-123");
        var id = (string)session["user"]!["id"]!;

        Assert.Equal(id, (string?)Assert.Single(CallsFor("before-user-created", email)).Body["user"]!["id"]);
        var after = Assert.Single(CallsFor("after-user-created", email));
        Assert.True(after.SignatureValid);
        Assert.Equal(id, (string?)after.Body["user"]!["id"]);
        Assert.NotNull(after.Body["user"]!["email_confirmed_at"]); // the stored, autoconfirmed user
    }

    [Fact]
    public async Task MfaVerify_HttpHookRejects_AnswersDefaultMessage403()
    {
        var (_, _, session) = await server.NewUserAsync("mfahttp");
        var userId = (string)session["user"]!["id"]!;
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);
        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", new { factor_type = "totp" }));
        var factorId = (string)enrolled["id"]!;
        var secret = (string)enrolled["totp"]!["secret"]!;
        var challenge = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { })))["id"]!;
        var code = TotpCodes.At(secret, server.Clock.GetUtcNow());

        lock (Rejected) Rejected.Add(userId);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challenge, code }),
            403, "mfa_verification_rejected", "Further MFA verification attempts will be rejected.");
        var call = server.Receiver.Calls.Last(c => (string?)c.Body["factor_id"] == factorId);
        Assert.True(call.SignatureValid);
        Assert.True((bool)call.Body["valid"]!);
    }
}
