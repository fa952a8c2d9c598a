using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// Phone MFA on (enroll and verify), an 8-digit OTP in a custom template, 30 s between challenges, SMS
/// through <see cref="FakeSmsProvider"/>, and column encryption on so challenge codes are stored encrypted.
/// </summary>
public class MfaPhoneFixture : AuthServerFixture, IAsyncLifetime
{
    public const string KeyId = "mfa-phone-key";
    public const string Key = "NLXOTUDSeZkjrj5iw7LsCsJhuCS_kigErf350110QEQ";

    public FakeSmsProvider Sms { get; } = new();

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MFA_PHONE_ENROLL_ENABLED"] = "true";
        settings["GOTRUE_MFA_PHONE_VERIFY_ENABLED"] = "true";
        settings["GOTRUE_MFA_PHONE_OTP_LENGTH"] = "8";
        settings["GOTRUE_MFA_PHONE_TEMPLATE"] = "Your MFA code is {{ .Code }}";
        settings["GOTRUE_MFA_PHONE_MAX_FREQUENCY"] = "30s";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT"] = "true";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY_ID"] = KeyId;
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY"] = Key;
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS"] = $"{KeyId}:{Key}";
        Sms.Configure(settings);
        ConfigureMore(settings);
    }

    protected virtual void ConfigureMore(IDictionary<string, string> settings)
    {
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Sms.DisposeAsync();
    }
}

/// <summary>POST /factors (phone), /factors/{id}/challenge (SMS), /factors/{id}/verify (code) → aal2 with amr mfa/phone.</summary>
public sealed class MfaPhoneTests(MfaPhoneFixture server) : IClassFixture<MfaPhoneFixture>
{
    static string Token(JsonObject session) => (string)session["access_token"]!;

    async Task<(JsonObject Session, string FactorId, string Phone)> EnrolledAsync(string friendlyName = "my phone")
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(bearer: Token(session));
        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", friendly_name = friendlyName, phone = "+" + phone }));
        return (session, (string)enrolled["id"]!, phone);
    }

    async Task<string> ChallengeAsync(string accessToken, string factorId, object? body = null)
    {
        using var client = server.CreateClient(bearer: accessToken);
        var challenge = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", body ?? new { }));
        return (string)challenge["id"]!;
    }

    async Task<HttpResponseMessage> VerifyAsync(string accessToken, string factorId, string challengeId, string code)
    {
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, accessToken);
        return await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code });
    }

    static string Wrong(string code) => code[..^1] + (code[^1] == '0' ? '1' : '0');

    [Fact]
    public async Task Enroll_Phone_ReturnsFactorWithPhoneAndStoresUnverifiedPhoneFactor()
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(bearer: Token(session));

        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", friendly_name = "work phone", phone = $"+{phone[..4]} {phone[4..]}" }));

        Assert.Equal(["id", "type", "friendly_name", "phone"], enrolled.Select(p => p.Key).ToArray());
        Assert.Equal("phone", (string?)enrolled["type"]);
        Assert.Equal("work phone", (string?)enrolled["friendly_name"]);
        Assert.Equal($"+{phone[..4]} {phone[4..]}", (string?)enrolled["phone"]); // as sent, like GoTrue
        var row = await server.Db.SingleAsync<(string FactorType, string Status, string Phone, string? Secret)>(
            "select factor_type::text, status::text, phone, secret from auth.mfa_factors where id = @id::uuid",
            new { id = (string)enrolled["id"]! });
        Assert.Equal(("phone", "unverified", phone, (string?)null), row);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'factor_in_progress' and payload->'traits'->>'factor_type' = 'phone' and payload->'traits'->>'factor_id' = @id",
            new { id = (string)enrolled["id"]! }));

        using var user = server.CreateClient(bearer: Token(session));
        var me = await server.OkJsonAsync(await user.GetAsync("/user"));
        var factor = Assert.Single(me["factors"]!.AsArray())!;
        Assert.Equal(phone, (string?)factor["phone"]);
        Assert.Equal("phone", (string?)factor["factor_type"]);
    }

    [Theory]
    [InlineData(null, "Phone number required to enroll Phone factor")]
    [InlineData("", "Phone number required to enroll Phone factor")]
    [InlineData("+0123", "Invalid phone number format (E.164 required)")]
    [InlineData("not a phone", "Invalid phone number format (E.164 required)")]
    public async Task Enroll_MissingOrInvalidPhone_Returns400ValidationFailed(string? phone, string message)
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/factors", new { factor_type = "phone", phone }),
            400, "validation_failed", message, bearer: Token(session));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_factors where user_id = @id::uuid",
            new { id = (string)session["user"]!["id"]! }));
    }

    [Fact]
    public async Task Enroll_PhoneOfAVerifiedFactor_Returns422MfaVerifiedFactorExists()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);
        var aal2 = await server.OkJsonAsync(await VerifyAsync(Token(session), factorId, challengeId, server.Sms.LastCode(phone)));

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/factors",
                new { factor_type = "phone", friendly_name = "again", phone = "+" + phone }),
            422, "mfa_verified_factor_exists", "A verified phone factor already exists, unenroll the existing factor to continue",
            bearer: Token(aal2));
    }

    [Fact]
    public async Task Enroll_PhoneOfAnUnverifiedFactor_ReplacesThatFactor()
    {
        var (session, firstId, phone) = await EnrolledAsync("first");
        using var client = server.CreateClient(bearer: Token(session));

        var second = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", friendly_name = "second", phone = "+" + phone }));

        var ids = await server.Db.QueryAsync<Guid>("select id from auth.mfa_factors where user_id = @id::uuid",
            new { id = (string)session["user"]!["id"]! });
        Assert.Equal([Guid.Parse((string)second["id"]!)], ids);
        Assert.NotEqual(firstId, (string?)second["id"]);
    }

    [Fact]
    public async Task Enroll_PhoneWithTakenFriendlyName_Returns422NameConflict()
    {
        var (session, _, _) = await EnrolledAsync("shared name");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/factors",
                new { factor_type = "phone", friendly_name = "shared name", phone = "+" + PhoneFixture.NewPhone() }),
            422, "mfa_factor_name_conflict", "A factor with the friendly name \"shared name\" for this user already exists",
            bearer: Token(session));
    }

    [Fact]
    public async Task Challenge_Phone_SendsTemplatedSmsAndStoresTheCodeEncrypted()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        using var client = server.CreateClient(bearer: Token(session));

        var challenge = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { channel = "sms" }));

        Assert.Equal("phone", (string?)challenge["type"]);
        var sms = Assert.Single(server.Sms.To(phone));
        Assert.Matches("^Your MFA code is [0-9]{8}$", sms.Body);
        Assert.Equal("sms", sms.Channel);
        var code = server.Sms.LastCode(phone);
        var row = await server.Db.SingleAsync<(string OtpCode, DateTime CreatedAt, DateTime LastChallengedAt)>(
            """
            select c.otp_code, c.created_at, f.last_challenged_at
            from auth.mfa_challenges c join auth.mfa_factors f on f.id = c.factor_id where c.id = @id::uuid
            """, new { id = (string)challenge["id"]! });
        // GoTrue's encrypted string, bound to the challenge id; never the code itself.
        var stored = JsonNode.Parse(row.OtpCode)!;
        Assert.Equal(MfaPhoneFixture.KeyId, (string?)stored["key_id"]);
        Assert.Equal("aes-gcm-hkdf", (string?)stored["alg"]);
        Assert.DoesNotContain(code, row.OtpCode);
        Assert.Equal(new DateTimeOffset(DateTime.SpecifyKind(row.CreatedAt, DateTimeKind.Utc)).ToUnixTimeSeconds() + 300,
            (long)challenge["expires_at"]!);
        Assert.Equal(row.CreatedAt, row.LastChallengedAt);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'challenge_created' and payload->'traits'->>'factor_id' = @factorId",
            new { factorId }));
    }

    [Fact]
    public async Task Challenge_AgainWithinMaxFrequency_Returns429WithGoTrueMessageAndSendsNothing()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        await ChallengeAsync(Token(session), factorId);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }),
            429, "over_sms_send_rate_limit", messagePrefix: "For security purposes, you can only request this after 2",
            bearer: Token(session));
        Assert.Single(server.Sms.To(phone));
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_challenges where factor_id = @factorId::uuid",
            new { factorId }));
    }

    [Fact]
    public async Task Challenge_AfterMaxFrequency_SendsANewCode()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        await ChallengeAsync(Token(session), factorId);
        await server.Db.ExecuteAsync("update auth.mfa_factors set last_challenged_at = last_challenged_at - interval '31 seconds' where id = @factorId::uuid",
            new { factorId });

        await ChallengeAsync(Token(session), factorId);

        Assert.Equal(2, server.Sms.To(phone).Count);
    }

    [Fact]
    public async Task Challenge_UnsupportedChannel_Returns400ValidationFailed()
    {
        var (session, factorId, phone) = await EnrolledAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/challenge", new { channel = "pigeon" }),
            400, "validation_failed", "Invalid channel, supported values are 'sms' or 'whatsapp'", bearer: Token(session));
        Assert.Empty(server.Sms.To(phone));
    }

    [Fact]
    public async Task Challenge_MalformedBody_Returns400BadJson()
    {
        var (session, factorId, _) = await EnrolledAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsync($"/factors/{factorId}/challenge", new StringContent("{\"channel\":")),
            400, "bad_json", bearer: Token(session));
    }

    [Fact]
    public async Task Challenge_ProviderFails_Returns500AndLeavesNoChallengeAndNoFrequencyStamp()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        server.Sms.Failure = (400, 21211, "The 'To' number is not a valid phone number.");
        try
        {
            using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, Token(session));
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }),
                500, "unexpected_failure", "error sending message");
        }
        finally { server.Sms.Failure = null; }

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_challenges where factor_id = @factorId::uuid",
            new { factorId }));
        Assert.Null(await server.Db.ScalarAsync<DateTime?>("select last_challenged_at from auth.mfa_factors where id = @factorId::uuid",
            new { factorId }));
        await ChallengeAsync(Token(session), factorId); // not held back by the failed attempt
        Assert.Single(server.Sms.To(phone));
    }

    [Fact]
    public async Task Verify_CodeFromSms_UpgradesSameSessionToAal2WithMfaPhoneAmr()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);

        var aal2 = await server.OkJsonAsync(await VerifyAsync(Token(session), factorId, challengeId, server.Sms.LastCode(phone)));

        var claims = Jwt.Payload(Token(aal2));
        Assert.Equal("aal2", (string?)claims["aal"]);
        Assert.Equal((string?)Jwt.Payload(Token(session))["session_id"], (string?)claims["session_id"]);
        Assert.Contains(claims["amr"]!.AsArray(), a => (string?)a!["method"] == "mfa/phone");
        Assert.Equal("verified", await server.Db.ScalarAsync<string>("select status::text from auth.mfa_factors where id = @factorId::uuid",
            new { factorId }));
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select verified_at from auth.mfa_challenges where id = @challengeId::uuid",
            new { challengeId }));
        Assert.Equal(("aal2", factorId), await server.Db.SingleAsync<(string, string)>(
            "select aal::text, factor_id::text from auth.sessions where id = @id::uuid", new { id = (string)claims["session_id"]! }));

        // The refreshed token keeps aal2 and the method.
        using var anon = server.CreateClient();
        var refreshed = await server.OkJsonAsync(await anon.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)aal2["refresh_token"]! }));
        Assert.Equal("aal2", (string?)Jwt.Payload(Token(refreshed))["aal"]);
        Assert.Contains(Jwt.Payload(Token(refreshed))["amr"]!.AsArray(), a => (string?)a!["method"] == "mfa/phone");
    }

    [Fact]
    public async Task Verify_WrongCode_Returns422AndLeavesFactorUnverified()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);

        await ApiAssert.ErrorAsync(await VerifyAsync(Token(session), factorId, challengeId, Wrong(server.Sms.LastCode(phone))),
            422, "mfa_verification_failed", "Invalid MFA Phone code entered");

        Assert.Equal("unverified", await server.Db.ScalarAsync<string>("select status::text from auth.mfa_factors where id = @factorId::uuid",
            new { factorId }));
        Assert.Equal(1, await server.Db.ScalarAsync<int>("select failed_attempts from authserver.mfa_totp_state where factor_id = @factorId::uuid",
            new { factorId }));
        // The right code still works on the same challenge.
        await server.OkJsonAsync(await VerifyAsync(Token(session), factorId, challengeId, server.Sms.LastCode(phone)));
    }

    [Fact]
    public async Task Verify_SameChallengeTwice_SecondIsRefused()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);
        var code = server.Sms.LastCode(phone);
        var aal2 = await server.OkJsonAsync(await VerifyAsync(Token(session), factorId, challengeId, code));

        await ApiAssert.ErrorAsync(await VerifyAsync(Token(aal2), factorId, challengeId, code),
            422, "mfa_ip_address_mismatch", "Challenge and verify IP addresses mismatch.");
    }

    [Fact]
    public async Task Verify_ExpiredChallenge_Returns422AndDeletesChallenge()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);
        await server.Db.ExecuteAsync("update auth.mfa_challenges set created_at = created_at - interval '301 seconds' where id = @challengeId::uuid",
            new { challengeId });

        await ApiAssert.ErrorAsync(await VerifyAsync(Token(session), factorId, challengeId, server.Sms.LastCode(phone)),
            422, "mfa_challenge_expired",
            $"MFA challenge {challengeId} has expired, verify against another challenge or create a new challenge.");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_challenges where id = @challengeId::uuid",
            new { challengeId }));
    }

    [Fact]
    public async Task Verify_ChallengeOfAnotherFactor_Returns422MfaFactorNotFound()
    {
        var (session, factorId, _) = await EnrolledAsync("one");
        using var client = server.CreateClient(bearer: Token(session));
        var other = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", friendly_name = "two", phone = "+" + PhoneFixture.NewPhone() }));
        var challengeId = await ChallengeAsync(Token(session), (string)other["id"]!);

        await ApiAssert.ErrorAsync(await VerifyAsync(Token(session), factorId, challengeId, "12345678"),
            422, "mfa_factor_not_found", "MFA factor with the provided challenge ID not found");
    }

    [Fact]
    public async Task ChallengeAndVerify_OtherUsersFactor_Returns404MfaFactorNotFound()
    {
        var (_, factorId, _) = await EnrolledAsync();
        var (_, _, intruder) = await server.NewUserAsync("intruder");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }),
            404, "mfa_factor_not_found", "Factor not found", bearer: Token(intruder));
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/verify",
                new { challenge_id = Guid.NewGuid(), code = "12345678" }),
            404, "mfa_factor_not_found", "Factor not found", bearer: Token(intruder));
    }

    [Fact]
    public async Task Verify_PlaintextCodeStoredByGoTrue_VerifiesAndAWrongAttemptEncryptsIt()
    {
        var (session, factorId, _) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);
        // As GoTrue wrote it before encryption was turned on.
        await server.Db.ExecuteAsync("update auth.mfa_challenges set otp_code = '24681357' where id = @challengeId::uuid", new { challengeId });

        await ApiAssert.ErrorAsync(await VerifyAsync(Token(session), factorId, challengeId, "24681358"),
            422, "mfa_verification_failed", "Invalid MFA Phone code entered");
        var stored = await server.Db.ScalarAsync<string>("select otp_code from auth.mfa_challenges where id = @challengeId::uuid", new { challengeId });
        Assert.Equal(MfaPhoneFixture.KeyId, (string?)JsonNode.Parse(stored)!["key_id"]);

        await server.OkJsonAsync(await VerifyAsync(Token(session), factorId, challengeId, "24681357"));
    }

    [Fact]
    public async Task Unenroll_VerifiedPhoneFactorFromAal2_DowngradesTheSession()
    {
        var (session, factorId, phone) = await EnrolledAsync();
        var challengeId = await ChallengeAsync(Token(session), factorId);
        var aal2 = await server.OkJsonAsync(await VerifyAsync(Token(session), factorId, challengeId, server.Sms.LastCode(phone)));
        using var client = server.CreateClient(bearer: Token(aal2));

        var deleted = await server.OkJsonAsync(await client.DeleteAsync($"/factors/{factorId}"));

        Assert.Equal(factorId, (string?)deleted["id"]);
        var sessionId = (string)Jwt.Payload(Token(aal2))["session_id"]!;
        Assert.Equal("aal1", await server.Db.ScalarAsync<string>("select aal::text from auth.sessions where id = @sessionId::uuid", new { sessionId }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.mfa_amr_claims where session_id = @sessionId::uuid and authentication_method = 'mfa/phone'", new { sessionId }));
    }
}

/// <summary>Phone MFA with a budget of 3 failed verifications per factor per minute.</summary>
public sealed class MfaPhoneAttemptsFixture : MfaPhoneFixture
{
    protected override void ConfigureMore(IDictionary<string, string> settings) =>
        settings["GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY"] = "3";
}

public sealed class MfaPhoneAttemptsTests(MfaPhoneAttemptsFixture server) : IClassFixture<MfaPhoneAttemptsFixture>
{
    [Fact]
    public async Task Verify_AfterMaxFailedAttempts_Returns429EvenForTheRightCode()
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone-attempts");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);
        var factorId = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", phone = "+" + phone })))["id"]!;
        var challengeId = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { })))["id"]!;
        var code = server.Sms.LastCode(phone);
        var wrong = code[..^1] + (code[^1] == '0' ? '1' : '0');

        for (var i = 0; i < 3; i++)
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code = wrong }),
                422, "mfa_verification_failed");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code }),
            429, "over_request_rate_limit", "Request rate limit reached");

        server.Clock.Advance(TimeSpan.FromSeconds(61));
        var aal2 = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code }));
        Assert.Equal("aal2", (string?)Jwt.Payload((string)aal2["access_token"]!)["aal"]);
    }
}

/// <summary>Default settings (phone MFA off): phone factors left by GoTrue cannot be challenged or verified.</summary>
public sealed class MfaPhoneOffTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact]
    public async Task ChallengeAndVerify_PhoneVerifyDisabled_Return422MfaPhoneVerifyNotEnabled()
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone-off");
        var factorId = Guid.NewGuid();
        await server.Db.ExecuteAsync(
            """
            insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, phone)
            values (@factorId, @userId::uuid, 'gotrue phone', 'phone', 'unverified', now(), now(), '15550001111')
            """, new { factorId, userId = (string)session["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }),
            422, "mfa_phone_verify_not_enabled", "MFA verification is disabled for Phone", bearer: (string)session["access_token"]!);
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/verify",
                new { challenge_id = Guid.NewGuid(), code = "123456" }),
            422, "mfa_phone_verify_not_enabled", "MFA verification is disabled for Phone", bearer: (string)session["access_token"]!);
    }
}

/// <summary>`PUT /admin/users/{id}/factors/{fid}` on phone factors (GoTrue admin.go `adminUserUpdateFactor`).</summary>
public sealed class MfaPhoneAdminTests(MfaPhoneFixture server) : IClassFixture<MfaPhoneFixture>
{
    [Fact]
    public async Task AdminUpdateFactor_PhoneOfAnotherPhoneFactorOfTheUser_Returns422AndChangesNothing()
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone-admin");
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var (a, b) = (PhoneFixture.NewPhone(), PhoneFixture.NewPhone());
        var first = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", friendly_name = "a", phone = "+" + a })))["id"]!;
        var second = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", friendly_name = "b", phone = "+" + b })))["id"]!;
        var userId = (string)session["user"]!["id"]!;

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync($"/admin/users/{userId}/factors/{second}", new { phone = "+" + a }),
            422, "phone_exists", "Another phone factor of this user already has this phone number", bearer: TestKeys.ServiceRoleKey());

        Assert.Equal(b, await server.Db.ScalarAsync<string>("select phone from auth.mfa_factors where id = @second::uuid", new { second }));
        using var admin = server.CreateClient(bearer: TestKeys.ServiceRoleKey());
        var moved = await server.OkJsonAsync(await admin.PutAsJsonAsync($"/admin/users/{userId}/factors/{first}", new { phone = "+1 555 000 4242" }));
        Assert.Equal("15550004242", (string?)moved["phone"]);
    }
}

/// <summary>Phone MFA with GOTRUE_HOOK_SEND_SMS_* and no SMS provider: the hook sends the MFA code.</summary>
public sealed class MfaPhoneHookFixture : AuthServerFixture, IAsyncLifetime
{
    public HookReceiver Hook { get; } = new() { Respond = _ => (200, "application/json", "{}") };

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MFA_PHONE_ENROLL_ENABLED"] = "true";
        settings["GOTRUE_MFA_PHONE_VERIFY_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_SMS_ENABLED"] = "true";
        settings["GOTRUE_HOOK_SEND_SMS_URI"] = Hook.Url;
        settings["GOTRUE_HOOK_SEND_SMS_SECRETS"] = HookReceiver.Secret;
        settings["GOTRUE_RATE_LIMIT_SMS_SENT"] = "0"; // MFA codes do not take from the sign-in SMS budget (GoTrue)
    }

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Hook.DisposeAsync();
    }
}

public sealed class MfaPhoneHookTests(MfaPhoneHookFixture server) : IClassFixture<MfaPhoneHookFixture>
{
    async Task<(string Token, string FactorId, string Phone)> EnrolledAsync()
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone-hook");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", new { factor_type = "phone", phone = "+" + phone }));
        return ((string)session["access_token"]!, (string)enrolled["id"]!, phone);
    }

    [Fact]
    public async Task Challenge_WithSendSmsHook_HookGetsMfaTypeAndTheCodeVerifies()
    {
        var (token, factorId, phone) = await EnrolledAsync();
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, token);

        var challenge = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { channel = "whatsapp" }));

        var call = Assert.Single(server.Hook.Calls, c => (string?)c.Body["sms"]?["phone"] == phone);
        Assert.True(call.SignatureValid);
        Assert.Equal("mfa", (string?)call.Body["sms"]!["sms_type"]);
        var otp = (string)call.Body["sms"]!["otp"]!;
        Assert.Matches("^[0-9]{6}$", otp);
        var aal2 = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify",
            new { challenge_id = (string)challenge["id"]!, code = otp }));
        Assert.Equal("aal2", (string?)Jwt.Payload((string)aal2["access_token"]!)["aal"]);
    }

    [Fact]
    public async Task Challenge_HookAnswersError_Returns500ErrorInvokingHookAndStoresNoChallenge()
    {
        var (token, factorId, _) = await EnrolledAsync();
        server.Hook.Respond = _ => (200, "application/json", """{"error":{"http_code":400,"message":"number blocked"}}""");
        try
        {
            using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, token);
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }),
                500, "unexpected_failure", "error invoking hook");
        }
        finally { server.Hook.Respond = _ => (200, "application/json", "{}"); }

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_challenges where factor_id = @factorId::uuid",
            new { factorId }));
    }
}

public sealed class MfaPhoneAdminDeleteTests(MfaPhoneFixture server) : IClassFixture<MfaPhoneFixture>
{
    [Fact]
    public async Task AdminDeleteFactor_VerifiedPhoneFactor_DowngradesItsSessionsToAal1()
    {
        var (_, _, session) = await server.NewUserAsync("mfa-phone-admin-delete");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var factorId = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "phone", phone = "+" + phone })))["id"]!;
        var challengeId = (string)(await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { })))["id"]!;
        var aal2 = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/verify",
            new { challenge_id = challengeId, code = server.Sms.LastCode(phone) }));
        var sessionId = (string)Jwt.Payload((string)aal2["access_token"]!)["session_id"]!;
        using var admin = server.CreateClient(bearer: TestKeys.ServiceRoleKey());

        await server.OkJsonAsync(await admin.DeleteAsync($"/admin/users/{(string)session["user"]!["id"]!}/factors/{factorId}"));

        Assert.Equal("aal1", await server.Db.ScalarAsync<string>("select aal::text from auth.sessions where id = @sessionId::uuid", new { sessionId }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.mfa_amr_claims where session_id = @sessionId::uuid and authentication_method = 'mfa/phone'", new { sessionId }));
        using var anon = server.CreateClient();
        var refreshed = await server.OkJsonAsync(await anon.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)aal2["refresh_token"]! }));
        Assert.Equal("aal1", (string?)Jwt.Payload((string)refreshed["access_token"]!)["aal"]);
    }
}
