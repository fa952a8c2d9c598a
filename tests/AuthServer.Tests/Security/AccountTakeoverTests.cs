using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>OIDC with GOTRUE_MAILER_AUTOCONFIRM=true (the `scripts/start.sh` default).</summary>
public sealed class OidcAutoconfirmFixture : OidcFixture
{
    protected override void Extra(IDictionary<string, string> settings) => settings["GOTRUE_MAILER_AUTOCONFIRM"] = "true";
}

/// <summary>Phone provider (the fake twilio) with GOTRUE_SMS_AUTOCONFIRM=true.</summary>
public sealed class PhoneSmsAutoconfirmFixture : PhoneFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        base.Configure(settings);
        settings["GOTRUE_SMS_AUTOCONFIRM"] = "true";
    }
}

/// <summary>
/// The account-takeover findings of the 2026-12 review (issue 24; GoTrue has all three): H-1, sign-up and
/// `/otp` confirming an existing unconfirmed account with no proof when autoconfirm is on; M-5, a password an
/// attacker set at sign-up surviving the owner's confirmation through a magic link; I-2, autoconfirm standing
/// in for the provider's email verification when linking to an existing account. Each reproduction first.
/// </summary>
public sealed class AccountTakeoverTests(AuthServerFixture autoconfirm, EmailFixture mail, OidcAutoconfirmFixture oidc,
    PhoneFixture phones, PhoneSmsAutoconfirmFixture phonesAutoconfirm)
    : IClassFixture<AuthServerFixture>, IClassFixture<EmailFixture>, IClassFixture<OidcAutoconfirmFixture>,
        IClassFixture<PhoneFixture>, IClassFixture<PhoneSmsAutoconfirmFixture>
{
    const string AttackerPassword = "attacker-pw-1";

    static HttpClient Admin(AuthServerFixture fixture) => fixture.CreateClient(bearer: EmailFixture.ServiceRoleKey);

    async Task<DateTime?> ConfirmedAtAsync(AuthServerFixture fixture, string email) =>
        await fixture.Db.ScalarAsync<DateTime?>("select email_confirmed_at from auth.users where email = @email", new { email });

    static async Task<DateTime?> PhoneConfirmedAtAsync(AuthServerFixture fixture, string phone) =>
        await fixture.Db.ScalarAsync<DateTime?>("select phone_confirmed_at from auth.users where phone = @phone", new { phone });

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_SignupOnInvitedUnconfirmedAccount_GivesNoSession()
    {
        var email = AuthServerFixture.NewEmail("h1-invited");
        using var admin = Admin(autoconfirm);
        await autoconfirm.OkJsonAsync(await admin.PostAsJsonAsync("/invite", new { email }));
        using var attacker = autoconfirm.CreateClient();

        var body = await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/signup", new { email, password = AttackerPassword }),
            422, "user_already_exists", "User already registered");

        Assert.Null(body["access_token"]);
        Assert.Null(await ConfirmedAtAsync(autoconfirm, email));
        Assert.Equal(1, await autoconfirm.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'user_repeated_signup' and payload->>'actor_username' = @email",
            new { email }));
    }

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_SignupOnAdminCreatedUnconfirmedAccount_WithoutItsPassword_GivesNoSession()
    {
        var email = AuthServerFixture.NewEmail("h1-staff");
        using var admin = Admin(autoconfirm);
        await autoconfirm.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users", new
        {
            email,
            password = "Owner-Secret-1",
            email_confirm = false,
            app_metadata = new { org_role = "owner" },
        }));
        using var attacker = autoconfirm.CreateClient();

        await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/signup", new { email, password = AttackerPassword }),
            422, "user_already_exists", "User already registered");

        Assert.Null(await ConfirmedAtAsync(autoconfirm, email));
    }

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_SignupOnUnconfirmedAccount_WithItsOwnPassword_ConfirmsAndSignsIn()
    {
        var email = AuthServerFixture.NewEmail("h1-owner");
        var id = await autoconfirm.Db.InsertEmailUserAsync(email, "Owner-Secret-1", confirmed: false);
        using var owner = autoconfirm.CreateClient();

        var session = await autoconfirm.OkJsonAsync(await owner.PostAsJsonAsync("/signup", new { email, password = "Owner-Secret-1" }));

        Assert.Equal(id.ToString(), (string?)session["user"]!["id"]);
        Assert.NotNull(session["access_token"]);
        Assert.NotNull(await ConfirmedAtAsync(autoconfirm, email));
    }

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_InvitedAccountWithAPassword_IsNeverAutoconfirmedBySignup()
    {
        var email = AuthServerFixture.NewEmail("h1-invited-pw");
        using var admin = Admin(autoconfirm);
        var invited = await autoconfirm.OkJsonAsync(await admin.PostAsJsonAsync("/invite", new { email }));
        await autoconfirm.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/users/{invited["id"]}", new { password = "Known-Secret-1" }));
        using var client = autoconfirm.CreateClient();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/signup", new { email, password = "Known-Secret-1" }),
            422, "user_already_exists", "User already registered");

        Assert.Null(await ConfirmedAtAsync(autoconfirm, email));
    }

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_OtpOnUnconfirmedAccount_DoesNotConfirmIt_MailsAMagicLink()
    {
        var email = AuthServerFixture.NewEmail("h1-otp");
        using var admin = Admin(autoconfirm);
        await autoconfirm.OkJsonAsync(await admin.PostAsJsonAsync("/invite", new { email }));
        using var attacker = autoconfirm.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await attacker.PostAsJsonAsync("/otp", new { email })).StatusCode);

        Assert.Null(await ConfirmedAtAsync(autoconfirm, email));
        Assert.Contains("type=magiclink", (await autoconfirm.Mail.LatestAsync(email, count: 2)).Link);
    }

    [Fact]
    public async Task H1_OtpForANewAddress_StillAutoconfirmsAsGoTrue()
    {
        var email = AuthServerFixture.NewEmail("h1-otp-new");
        using var client = autoconfirm.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { email })).StatusCode);

        Assert.NotNull(await ConfirmedAtAsync(autoconfirm, email));
        Assert.Contains("type=magiclink", (await autoconfirm.Mail.LatestAsync(email)).Link);
    }

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_PhoneSignupOnAdminCreatedUnconfirmedAccount_GivesNoSession()
    {
        var phone = PhoneFixture.NewPhone();
        using var admin = Admin(phonesAutoconfirm);
        await phonesAutoconfirm.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users", new { phone, password = "Owner-Secret-1" }));
        using var attacker = phonesAutoconfirm.CreateClient();

        await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/signup", new { phone, password = AttackerPassword }),
            422, "user_already_exists", "User already registered");

        Assert.Null(await PhoneConfirmedAtAsync(phonesAutoconfirm, phone));
    }

    [Fact]
    [Trait("catalogue", "H-1")]
    public async Task H1_PhoneOtpOnUnconfirmedAccount_DoesNotConfirmIt_TheCodeDoes()
    {
        var phone = PhoneFixture.NewPhone();
        using var admin = Admin(phonesAutoconfirm);
        await phonesAutoconfirm.OkJsonAsync(await admin.PostAsJsonAsync("/admin/users", new { phone, password = "Owner-Secret-1" }));
        using var client = phonesAutoconfirm.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/otp", new { phone })).StatusCode);

        Assert.Null(await PhoneConfirmedAtAsync(phonesAutoconfirm, phone));
        var session = await phonesAutoconfirm.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "sms", phone, token = phonesAutoconfirm.Sms.LastCode(phone) }));
        Assert.NotNull(session["user"]!["phone_confirmed_at"]);
    }

    [Fact]
    [Trait("catalogue", "M-5")]
    public async Task M5_PhoneOtpConfirmation_VoidsThePasswordTheAttackerSet()
    {
        var phone = PhoneFixture.NewPhone();
        using var attacker = phones.CreateClient();
        await phones.OkJsonAsync(await attacker.PostAsJsonAsync("/signup", new { phone, password = AttackerPassword }));
        // Past the per-user SMS interval: the owner asks for a code later.
        await phones.Db.ExecuteAsync("update auth.users set confirmation_sent_at = now() - interval '1 hour' where phone = @phone",
            new { phone });
        using var owner = phones.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await owner.PostAsJsonAsync("/otp", new { phone })).StatusCode);
        await phones.OkJsonAsync(await owner.PostAsJsonAsync("/verify", new { type = "sms", phone, token = phones.Sms.LastCode(phone) }));

        await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/token?grant_type=password", new { phone, password = AttackerPassword }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    [Trait("catalogue", "M-5")]
    public async Task M5_PhoneSignupConfirmation_KeepsThePasswordOfThatSignup()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = phones.CreateClient();
        await phones.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { phone, password = "Own-Secret-1" }));

        await phones.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "sms", phone, token = phones.Sms.LastCode(phone) }));

        await phones.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { phone, password = "Own-Secret-1" }));
    }

    [Fact]
    [Trait("catalogue", "M-5")]
    public async Task M5_MagicLinkConfirmation_VoidsThePasswordTheAttackerSet()
    {
        var email = AuthServerFixture.NewEmail("m5-victim");
        using var attacker = mail.CreateClient();
        await mail.OkJsonAsync(await attacker.PostAsJsonAsync("/signup", new { email, password = AttackerPassword }));
        await mail.Mail.LatestAsync(email); // the sign-up confirmation, ignored by the owner

        // The real owner asks for a magic link and follows it.
        using var owner = mail.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await owner.PostAsJsonAsync("/otp", new { email })).StatusCode);
        var link = await mail.Mail.LatestAsync(email, count: 2);
        Assert.Contains("type=magiclink", link.Link);
        var followed = await owner.GetAsync(new Uri(link.Link).PathAndQuery);
        Assert.Equal(HttpStatusCode.SeeOther, followed.StatusCode);
        Assert.Contains("access_token=", followed.Headers.NonValidated["Location"].ToString());
        Assert.NotNull(await ConfirmedAtAsync(mail, email));

        await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/token?grant_type=password", new { email, password = AttackerPassword }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    [Trait("catalogue", "M-5")]
    public async Task M5_RecoveryCodeOnUnconfirmedAccount_VoidsThePasswordToo()
    {
        var email = AuthServerFixture.NewEmail("m5-recover");
        using var attacker = mail.CreateClient();
        await mail.OkJsonAsync(await attacker.PostAsJsonAsync("/signup", new { email, password = AttackerPassword }));
        using var owner = mail.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await owner.PostAsJsonAsync("/recover", new { email })).StatusCode);
        var code = (await mail.Mail.LatestAsync(email, count: 2)).Code;

        var session = await mail.OkJsonAsync(await owner.PostAsJsonAsync("/verify", new { type = "recovery", email, token = code }));

        Assert.NotNull(session["user"]!["email_confirmed_at"]);
        await ApiAssert.ErrorAsync(await attacker.PostAsJsonAsync("/token?grant_type=password", new { email, password = AttackerPassword }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    [Trait("catalogue", "M-5")]
    public async Task M5_SignupConfirmation_KeepsThePasswordOfThatSignup()
    {
        var email = AuthServerFixture.NewEmail("m5-self");
        using var client = mail.CreateClient();
        await mail.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "Own-Secret-1" }));
        var code = (await mail.Mail.LatestAsync(email)).Code;

        await mail.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = code }));

        await mail.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "Own-Secret-1" }));
    }

    [Fact]
    [Trait("catalogue", "I-2")]
    public async Task I2_AutoconfirmNeverLinksAnUnverifiedProviderEmailToAnExistingAccount()
    {
        var email = OidcFixture.NewEmail("i2-victim");
        var victim = await oidc.Db.InsertEmailUserAsync(email, "Victim-Secret-1");
        var (token, sub, _) = oidc.GoogleToken(emailVerified: false, edit: c => c["email"] = email);

        var session = await oidc.OkJsonAsync(await oidc.IdTokenGrantAsync(new { provider = "google", id_token = token }));

        Assert.NotEqual(victim.ToString(), (string?)session["user"]!["id"]);
        Assert.Equal(1, await oidc.Db.ScalarAsync<long>("select count(*) from auth.identities where user_id = @victim", new { victim }));
        Assert.NotEqual(victim, await oidc.Db.ScalarAsync<Guid>("select user_id from auth.identities where provider_id = @sub", new { sub }));
    }

    [Fact]
    [Trait("catalogue", "I-2")]
    public async Task I2_AVerifiedProviderEmail_StillLinksUnderAutoconfirm()
    {
        var email = OidcFixture.NewEmail("i2-owner");
        var owner = await oidc.Db.InsertEmailUserAsync(email, "Owner-Secret-1");
        var (token, _, _) = oidc.GoogleToken(edit: c => c["email"] = email);

        var session = await oidc.OkJsonAsync(await oidc.IdTokenGrantAsync(new { provider = "google", id_token = token }));

        Assert.Equal(owner.ToString(), (string?)session["user"]!["id"]);
        ApiAssert.JsonEqual("""["email","google"]""", session["user"]!["app_metadata"]!["providers"]);
    }
}
