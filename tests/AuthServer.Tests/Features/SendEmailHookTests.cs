using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_HOOK_SEND_EMAIL as an HTTP endpoint on 127.0.0.1 (Standard Webhooks-signed); autoconfirm off.</summary>
public sealed class SendEmailHttpHookFixture : EmailFixture, IAsyncLifetime
{
    public HookReceiver Receiver { get; } = new() { Respond = _ => (200, "application/json", "{}") };

    protected override void ConfigureMore(IDictionary<string, string> settings)
    {
        settings["GOTRUE_HOOK_SEND_EMAIL_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_EMAIL_URI"] = Receiver.Url;
        settings["GOTRUE_HOOK_SEND_EMAIL_SECRETS"] = HookReceiver.Secret;
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>GOTRUE_HOOK_SEND_EMAIL as a Postgres function.</summary>
public sealed class SendEmailPgHookFixture : EmailFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings)
    {
        settings["GOTRUE_HOOK_SEND_EMAIL_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_EMAIL_URI"] = "pg-functions://postgres/public/send_email_hook";
    }
}

static class Waits
{
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string what, Func<string>? log = null) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            if (await probe() is { } found) return found;
            Assert.True(DateTime.UtcNow < deadline, $"{what} not reached within 30 s\n{log?.Invoke()}");
            await Task.Delay(50);
        }
    }

    /// Once the outbox holds nothing more for <paramref name="email"/>, no SMTP mail went to it.
    public static async Task NoSmtpMailAsync(EmailFixture server, string email)
    {
        await UntilAsync(async () => await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @email", new { email }) == 0 ? "" : null,
            "outbox drained", () => server.ServerLog);
        Assert.Empty(server.Mail.To(email));
    }
}

public sealed class HttpSendEmailHookTests(SendEmailHttpHookFixture server) : IClassFixture<SendEmailHttpHookFixture>
{
    Task<HookReceiver.Call> CallForAsync(string email, string actionType, int skip = 0) => Waits.UntilAsync(
        () => Task.FromResult(server.Receiver.Calls
            .Where(c => (string?)c.Body["email_data"]?["email_action_type"] == actionType && (string?)c.Body["user"]?["email"] == email)
            .Skip(skip).FirstOrDefault()),
        $"{actionType} hook call for {email}", () => server.ServerLog);

    [Fact]
    public async Task Signup_HookOn_HookGetsSignedGoTruePayloadInsteadOfSmtpAndItsCodeVerifies()
    {
        var email = AuthServerFixture.NewEmail("hook");
        using var client = server.CreateClient();

        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup?redirect_to=https://app.example.com/welcome",
            new { email, password = "correct-horse-battery" }));

        var call = await CallForAsync(email, "signup");
        Assert.True(call.SignatureValid, $"signature {call.Signature} does not verify");
        Assert.Equal("send-email", (string?)call.Body["metadata"]!["name"]);
        Assert.Equal((string?)user["id"], (string?)call.Body["user"]!["id"]);
        var data = call.Body["email_data"]!.AsObject();
        Assert.Equal(["token", "token_hash", "redirect_to", "email_action_type", "site_url", "token_new", "token_hash_new"],
            data.Select(kv => kv.Key).ToArray());
        Assert.Matches("^[0-9]{6}$", (string?)data["token"]);
        Assert.Equal(await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where email = @email", new { email }),
            (string?)data["token_hash"]);
        Assert.Equal("https://app.example.com/welcome", (string?)data["redirect_to"]);
        Assert.Equal("http://localhost:9999", (string?)data["site_url"]); // API_EXTERNAL_URL, as GoTrue sends it
        Assert.Equal("", (string?)data["token_new"]);
        Assert.Equal("", (string?)data["token_hash_new"]);

        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = (string)data["token"]! }));
        await Waits.NoSmtpMailAsync(server, email);
    }

    [Fact]
    public async Task UserEmailChange_SecureChangeWithHook_OneCallCarriesBothCodesInGoTruesPairing()
    {
        var email = AuthServerFixture.NewEmail("hook-old");
        var newEmail = AuthServerFixture.NewEmail("hook-new");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        var session = await server.SignInAsync(email, "correct-horse-battery");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email = newEmail }));

        var call = await CallForAsync(email, "email_change");
        Assert.Equal(newEmail, (string?)call.Body["user"]!["new_email"]);
        var data = call.Body["email_data"]!.AsObject();
        var hashes = await server.Db.SingleAsync<(string New, string Current)>(
            "select email_change_token_new, email_change_token_current from auth.users where email = @email", new { email });
        // GoTrue's crossed pairing: token ↔ current address, token_hash ↔ new address, and the reverse for *_new.
        Assert.Equal(hashes.New, (string?)data["token_hash"]);
        Assert.Equal(hashes.Current, (string?)data["token_hash_new"]);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "email_change", email = newEmail, token = (string)data["token_new"]! }));
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "email_change", email, token = (string)data["token"]! }));
        Assert.Equal(newEmail, await server.Db.ScalarAsync<string>(
            "select email from auth.users where id = @id::uuid", new { id = (string)session["user"]!["id"]! }));
        Assert.Single(server.Receiver.Calls, c => (string?)c.Body["user"]?["email"] == email);
        await Waits.NoSmtpMailAsync(server, email);
        await Waits.NoSmtpMailAsync(server, newEmail);
    }

    [Fact]
    public async Task Recover_HookDown_Returns200AndTheHookGetsTheMailWhenItComesBack()
    {
        var email = AuthServerFixture.NewEmail("hook-down");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        var failing = true;
        server.Receiver.Respond = body => (string?)body["user"]?["email"] == email && Volatile.Read(ref failing)
            ? (500, "application/json", "{}")
            : (200, "application/json", "{}");
        try
        {
            using var client = server.CreateClient();
            var response = await client.PostAsJsonAsync("/recover", new { email });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // The failed call is recorded with a retry time, the token stays committed; then the hook recovers.
            await Waits.UntilAsync(async () => await server.Db.ScalarAsync<int>(
                "select coalesce(max(attempts), 0) from authserver.mail_outbox where recipient = @email and last_error is not null",
                new { email }) >= 1 ? "" : null, "a failed attempt", () => server.ServerLog);
            Assert.NotEqual("", await server.Db.ScalarAsync<string>("select recovery_token from auth.users where email = @email", new { email }));
            Volatile.Write(ref failing, false);
            server.Clock.Advance(TimeSpan.FromMinutes(15)); // past any backoff

            var call = await CallForAsync(email, "recovery", skip: 1);
            await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
                new { type = "recovery", email, token = (string)call.Body["email_data"]!["token"]! }));
            await Waits.NoSmtpMailAsync(server, email);
        }
        finally
        {
            server.Receiver.Respond = _ => (200, "application/json", "{}");
        }
    }

    [Fact]
    public async Task Recover_HookRefusesWith4xx_MessageIsDroppedNotRetried()
    {
        var email = AuthServerFixture.NewEmail("hook-refused");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        server.Receiver.Respond = body => (string?)body["user"]?["email"] == email
            ? (200, "application/json", """{"error":{"http_code":400,"message":"not this one"}}""")
            : (200, "application/json", "{}");
        try
        {
            using var client = server.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email })).StatusCode);

            await CallForAsync(email, "recovery");
            await Waits.NoSmtpMailAsync(server, email);
            server.Clock.Advance(TimeSpan.FromMinutes(15));
            Assert.Single(server.Receiver.Calls, c => (string?)c.Body["user"]?["email"] == email);
            Assert.Contains("refused", server.ServerLog);
        }
        finally
        {
            server.Receiver.Respond = _ => (200, "application/json", "{}");
        }
    }
}

public sealed class PgSendEmailHookTests(SendEmailPgHookFixture server) : IClassFixture<SendEmailPgHookFixture>
{
    const string HookFunction = """
        create table if not exists public.sent_emails (event jsonb);
        create or replace function public.send_email_hook(event jsonb) returns jsonb
        language plpgsql as $$
        begin
            insert into public.sent_emails values (event);
            return '{}'::jsonb;
        end
        $$;
        """;

    [Fact]
    public async Task MagicLink_PgHook_FunctionGetsThePayloadAndItsCodeSignsIn()
    {
        await server.Db.ExecuteAsync(HookFunction);
        var email = AuthServerFixture.NewEmail("pg-hook");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        using var client = server.CreateClient();

        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { email, create_user = false }));

        var eventJson = await Waits.UntilAsync(() => server.Db.QueryAsync<string>(
                "select event::text from public.sent_emails where event->'user'->>'email' = @email", new { email })
            .ContinueWith(t => t.Result.FirstOrDefault()), "a pg hook call", () => server.ServerLog);
        var hookEvent = JsonNode.Parse(eventJson)!.AsObject();
        var data = hookEvent["email_data"]!;
        Assert.Equal("magiclink", (string?)data["email_action_type"]);
        Assert.Equal("http://localhost:3000", (string?)data["redirect_to"]);
        Assert.Equal(await server.Db.ScalarAsync<string>("select recovery_token from auth.users where email = @email", new { email }),
            (string?)data["token_hash"]);
        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "magiclink", email, token = (string)data["token"]! }));
        Assert.NotNull(session["access_token"]);
        await Waits.NoSmtpMailAsync(server, email);
    }
}
