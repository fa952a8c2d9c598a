using System.Net;
using System.Net.Http.Json;
using System.Web;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>Catalogue X1★/X2★ for the mail and OTP paths: audit rows for recovery, no code or token hash in audit or logs.</summary>
public sealed class MailAuditCatalogueTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    [Fact]
    [Trait("catalogue", "X1")]
    [Trait("catalogue", "X2")]
    public async Task RecoveryAndMagicLink_AuditedWithoutCodesOrTokenHashes()
    {
        var (email, session) = await server.ConfirmedUserAsync("audit-mail");
        var id = (string)session["user"]!["id"]!;
        using var client = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/recover", new { email })).StatusCode);
        var recovery = await server.Mail.LatestAsync(email, 2);
        var wrong = recovery.Code == "000000" ? "000001" : "000000";
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsJsonAsync("/verify", new { type = "recovery", email, token = wrong })).StatusCode);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "recovery", email, token = recovery.Code }));
        server.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email })).StatusCode);
        var magic = await server.Mail.LatestAsync(email, 3);
        Assert.Equal(HttpStatusCode.SeeOther, (await client.GetAsync(new Uri(magic.Link).PathAndQuery)).StatusCode);

        var actions = await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @id order by created_at", new { id });
        Assert.Equal(2, actions.Count(a => a == "user_recovery_requested"));
        Assert.Contains("login", actions);

        var payloads = string.Join('\n', await server.Db.QueryAsync<string>(
            "select payload::text from auth.audit_log_entries where payload->>'actor_id' = @id", new { id }));
        var secrets = new[]
        {
            recovery.Code, magic.Code, wrong,
            HttpUtility.ParseQueryString(new Uri(recovery.Link).Query)["token"]!,
            HttpUtility.ParseQueryString(new Uri(magic.Link).Query)["token"]!,
        };
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, payloads);
            Assert.DoesNotContain(secret, server.ServerLog);
        }
    }
}

/// <summary>
/// Catalogue F4★ (SMTP down: /resend still answers and every mail is delivered later) and X2★ (the SMTP
/// failures logged as warnings carry no code or link).
/// </summary>
public sealed class SmtpDownCatalogueTests(SmtpDownFixture server) : IClassFixture<SmtpDownFixture>
{
    [Fact]
    [Trait("catalogue", "F4")]
    [Trait("catalogue", "X2")]
    public async Task SignupAndResend_WhileSmtpIsDown_Answer200AndTheLatestCodeWorksOnceSmtpIsBack()
    {
        var email = AuthServerFixture.NewEmail("smtp-down");
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }));
        server.Clock.Advance(TimeSpan.FromSeconds(61));

        var resend = await client.PostAsJsonAsync("/resend", new { type = "signup", email });

        Assert.Equal(HttpStatusCode.OK, resend.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!server.ServerLog.Contains("unavailable"))
        {
            Assert.True(DateTime.UtcNow < deadline, "no SMTP failure logged within 30 s");
            await Task.Delay(50);
        }
        server.LateMail.Start(server.DownPort);
        server.Clock.Advance(TimeSpan.FromMinutes(15)); // past any backoff
        var mails = await server.LateMail.WaitForAsync(email, 2);

        var latest = await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where email = @email", new { email });
        var current = mails.Single(m => m.Link.Contains(latest));
        var stale = mails.Single(m => m != current);
        if (stale.Code != current.Code)
            Assert.Equal(HttpStatusCode.Forbidden,
                (await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = stale.Code })).StatusCode);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = current.Code }));

        foreach (var secret in new[] { stale.Code, current.Code, latest, HttpUtility.ParseQueryString(new Uri(stale.Link).Query)["token"]! })
            Assert.DoesNotContain(secret, server.ServerLog);
    }
}

/// <summary>Catalogue X1★ for linking: an identity linked by id_token is audited (unlinking: ExternalFlowTests.UnlinkIdentity_Rules).</summary>
public sealed class LinkAuditCatalogueTests(OidcFixture server) : IClassFixture<OidcFixture>
{
    [Fact]
    [Trait("catalogue", "X1")]
    public async Task LinkIdentity_ByIdToken_WritesIdentityLinkedAuditRow()
    {
        var anonymous = await server.AnonymousAsync();
        var id = (string)anonymous["user"]!["id"]!;
        var (token, sub, _) = server.GoogleToken();

        await server.OkJsonAsync(await server.IdTokenGrantAsync(new { provider = "google", id_token = token, link_identity = true },
            (string)anonymous["access_token"]!));

        var linked = await server.Db.QueryAsync<string>(
            "select payload::text from auth.audit_log_entries where payload->>'actor_id' = @id and payload->>'action' = 'identity_linked'",
            new { id });
        var row = Assert.Single(linked);
        Assert.DoesNotContain(token, row);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.identities where user_id = @id::uuid and provider_id = @sub", new { id, sub }));
    }
}
