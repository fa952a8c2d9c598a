using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>Every GOTRUE_MAILER_NOTIFICATIONS_*_ENABLED on, single-confirmation email change, SMS autoconfirm (a
/// phone change applies at once), one custom notification subject; providers and manual linking from OidcFixture.</summary>
public sealed class NotificationsFixture : OidcFixture
{
    protected override void Extra(IDictionary<string, string> settings)
    {
        foreach (var x in new[] { "PASSWORD_CHANGED", "EMAIL_CHANGED", "PHONE_CHANGED", "IDENTITY_LINKED", "IDENTITY_UNLINKED",
                     "MFA_FACTOR_ENROLLED", "MFA_FACTOR_UNENROLLED" })
            settings[$"GOTRUE_MAILER_NOTIFICATIONS_{x}_ENABLED"] = "true";
        settings["GOTRUE_MAILER_SUBJECTS_PHONE_CHANGED_NOTIFICATION"] = "Phone now {{ .Phone }}";
        settings["GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED"] = "false";
        settings["GOTRUE_SMS_AUTOCONFIRM"] = "true";
    }
}

/// <summary>Account-change notifications (GoTrue internal/api/mail.go `send*Notification`, templatemailer defaults),
/// read from the SMTP catcher.</summary>
public sealed class NotificationMailTests(NotificationsFixture server) : IClassFixture<NotificationsFixture>
{
    const string Password = "correct-horse-battery";

    async Task<(string Email, string Bearer)> UserAsync(string prefix)
    {
        var email = AuthServerFixture.NewEmail(prefix);
        await server.Db.InsertEmailUserAsync(email, Password);
        return (email, (string)(await server.SignInAsync(email, Password))["access_token"]!);
    }

    [Fact]
    public async Task UpdatePassword_SendsPasswordChangedNotification()
    {
        var (email, bearer) = await UserAsync("pw");
        using var client = server.CreateClient(bearer: bearer);

        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = "a-brand-new-secret" }));

        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("Your password was changed", mail.Subject);
        Assert.Contains("The password for your account was recently changed.", mail.Html);
    }

    [Fact]
    public async Task VerifyEmailChange_SendsEmailChangedNotificationToTheOldAddress()
    {
        var (email, bearer) = await UserAsync("old");
        var newEmail = AuthServerFixture.NewEmail("new");
        using var client = server.CreateClient(bearer: bearer);
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email = newEmail }));
        var link = (await server.Mail.LatestAsync(newEmail)).Link;

        using var anon = server.CreateClient();
        await anon.GetAsync(new Uri(link).PathAndQuery);

        var mail = await server.Mail.LatestAsync(email);
        Assert.Equal("Your email address was changed", mail.Subject);
        Assert.Contains($"changed from {email} to {newEmail}.", mail.Html);
        Assert.Single(server.Mail.To(newEmail)); // only the confirmation link went to the new address
    }

    [Fact]
    public async Task UpdatePhone_WithSmsAutoconfirm_SendsPhoneChangedNotificationWithCustomSubject()
    {
        var (email, bearer) = await UserAsync("phone");
        using var client = server.CreateClient(bearer: bearer);

        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { phone = "+15550001111" }));

        var mails = await server.Mail.WaitForAsync(email, count: 2);
        var mail = Assert.Single(mails, m => m.Subject == "Phone now 15550001111");
        Assert.Contains("changed from  to 15550001111.", mail.Html);
        // The change created the user's phone identity: a new sign-in method (GoTrue smsVerify).
        var linked = Assert.Single(mails, m => m.Subject == "A new sign-in method was linked to your account");
        Assert.Contains("Your phone account was linked", linked.Html);
    }

    [Fact]
    public async Task LinkAndUnlinkIdentity_SendLinkedAndUnlinkedNotifications()
    {
        var (email, bearer) = await UserAsync("linker");
        var (token, _, _) = server.GoogleToken();

        var session = await server.OkJsonAsync(await server.IdTokenGrantAsync(
            new { provider = "google", id_token = token, link_identity = true }, bearer));

        var linked = await server.Mail.LatestAsync(email);
        Assert.Equal("A new sign-in method was linked to your account", linked.Subject);
        Assert.Contains($"Your google account was linked as a new sign-in method for {email}.", linked.Html);

        var google = session["user"]!["identities"]!.AsArray().Single(i => (string?)i!["provider"] == "google")!;
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var response = await client.DeleteAsync($"/user/identities/{(string)google["identity_id"]!}");
        await server.OkJsonAsync(response);

        var unlinked = await server.Mail.LatestAsync(email, count: 2);
        Assert.Equal("A sign-in method was removed from your account", unlinked.Subject);
        Assert.Contains("Your google account was removed", unlinked.Html);
    }

    [Fact]
    public async Task MfaVerifyAndUnenroll_SendFactorEnrolledAndUnenrolledNotifications()
    {
        var (email, bearer) = await UserAsync("mfa");
        using var client = server.CreateClient(bearer: bearer);
        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", new { factor_type = "totp" }));
        var factorId = (string)enrolled["id"]!;
        var challenge = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }));
        var aal2 = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new
        {
            challenge_id = (string)challenge["id"]!,
            code = TotpCodes.At((string)enrolled["totp"]!["secret"]!, server.Clock.GetUtcNow()),
        }));

        var added = await server.Mail.LatestAsync(email);
        Assert.Equal("A new verification method was added to your account", added.Subject);
        Assert.Contains("Sign-in verification method totp was added to your account.", added.Html);

        using var aal2Client = server.CreateClient(bearer: (string)aal2["access_token"]!);
        await server.OkJsonAsync(await aal2Client.DeleteAsync($"/factors/{factorId}"));
        var removed = await server.Mail.LatestAsync(email, count: 2);
        Assert.Equal("A verification method was removed from your account", removed.Subject);
        Assert.Contains("Sign-in verification method totp was removed from your account.", removed.Html);
    }
}

/// <summary>Notifications are off by default: a password change mails nothing (checked once a later mail to the
/// same address has arrived, which the outbox queued after the change).</summary>
public sealed class NotificationsOffTests(EmailFixture server) : IClassFixture<EmailFixture>
{
    [Fact]
    public async Task UpdatePassword_NotificationsOff_SendsNothing()
    {
        var email = AuthServerFixture.NewEmail("quiet");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        var bearer = (string)(await server.SignInAsync(email, "correct-horse-battery"))["access_token"]!;
        using var client = server.CreateClient(bearer: bearer);
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = "a-brand-new-secret" }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @email", new { email }));

        await server.OkJsonAsync(await server.CreateClient().PostAsJsonAsync("/recover", new { email }));

        var mails = await server.Mail.WaitForAsync(email);
        Assert.Equal(["Reset your password"], mails.Select(m => m.Subject));
    }
}

/// <summary>The Send Email hook on, password and email-changed notifications on, single-confirmation email change.</summary>
public sealed class NotificationHookFixture : EmailFixture, IAsyncLifetime
{
    public HookReceiver Receiver { get; } = new() { Respond = _ => (200, "application/json", "{}") };

    protected override void ConfigureMore(IDictionary<string, string> settings)
    {
        settings["GOTRUE_HOOK_SEND_EMAIL_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_EMAIL_URI"] = Receiver.Url;
        settings["GOTRUE_HOOK_SEND_EMAIL_SECRETS"] = HookReceiver.Secret;
        settings["GOTRUE_MAILER_NOTIFICATIONS_PASSWORD_CHANGED_ENABLED"] = "true";
        settings["GOTRUE_MAILER_NOTIFICATIONS_EMAIL_CHANGED_ENABLED"] = "true";
        settings["GOTRUE_MAILER_SECURE_EMAIL_CHANGE_ENABLED"] = "false";
    }

    Task IAsyncLifetime.InitializeAsync() => InitializeAsync();

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>With the hook on, notifications go to it as GoTrue's `email_action_type` = template name, with the
/// notification's own `email_data` field (GoTrue mail.go `sendEmail`), and never over SMTP.</summary>
public sealed class NotificationHookTests(NotificationHookFixture server) : IClassFixture<NotificationHookFixture>
{
    Task<HookReceiver.Call> CallForAsync(string email, string actionType) => Waits.UntilAsync(
        () => Task.FromResult(server.Receiver.Calls.FirstOrDefault(c =>
            (string?)c.Body["email_data"]?["email_action_type"] == actionType && (string?)c.Body["user"]?["email"] == email)),
        $"{actionType} hook call for {email}", () => server.ServerLog);

    [Fact]
    public async Task PasswordAndEmailChange_HookGetsNotificationActionTypes()
    {
        var email = AuthServerFixture.NewEmail("hook-note");
        var newEmail = AuthServerFixture.NewEmail("hook-note-new");
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        var session = await server.SignInAsync(email, "correct-horse-battery");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = "a-brand-new-secret" }));
        var password = await CallForAsync(email, "password_changed_notification");
        Assert.True(password.SignatureValid);
        Assert.Equal("", (string?)password.Body["email_data"]!["token"]);

        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { email = newEmail }));
        var change = await CallForAsync(email, "email_change");
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "email_change", email = newEmail, token = (string)change.Body["email_data"]!["token"]! }));

        var changed = await CallForAsync(newEmail, "email_changed_notification");
        Assert.Equal(email, (string?)changed.Body["email_data"]!["old_email"]);
        await Waits.NoSmtpMailAsync(server, email);
    }
}

/// <summary>SMS phone change (fake Twilio) with the phone-changed and identity-linked notifications on.</summary>
public sealed class PhoneNotificationsFixture : PhoneFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_MAILER_NOTIFICATIONS_PHONE_CHANGED_ENABLED"] = "true";
        settings["GOTRUE_MAILER_NOTIFICATIONS_IDENTITY_LINKED_ENABLED"] = "true";
    }
}

public sealed class PhoneChangeNotificationTests(PhoneNotificationsFixture server) : IClassFixture<PhoneNotificationsFixture>
{
    [Fact]
    public async Task VerifyPhoneChange_SendsPhoneChangedAndPhoneIdentityLinkedNotifications()
    {
        var (email, _, session) = await server.NewUserAsync("phonenote");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { phone = "+" + phone }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @email", new { email }));

        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "phone_change", phone, token = server.Sms.LastCode(phone) }));

        var mails = await server.Mail.WaitForAsync(email, count: 2);
        var changed = Assert.Single(mails, m => m.Subject == "Your phone number was changed");
        Assert.Contains($"changed from  to {phone}.", changed.Html);
        Assert.Single(mails, m => m.Subject == "A new sign-in method was linked to your account");
    }
}
