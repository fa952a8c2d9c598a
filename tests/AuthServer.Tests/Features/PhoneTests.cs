using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>
/// Phone sign-up and sign-in by SMS OTP through a Twilio-shaped provider on loopback: /signup, /otp,
/// /verify (sms, phone_change), /resend, /reauthenticate, PUT /user. Codes are read from the captured SMS.
/// </summary>
public sealed class PhoneTests(PhoneFixture server) : IClassFixture<PhoneFixture>
{
    const string Password = "correct-horse-battery";

    async Task<(string Phone, Guid Id)> SignUpAsync()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();
        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { phone = "+" + phone, password = Password }));
        return (phone, Guid.Parse((string)user["id"]!));
    }

    async Task<JsonObject> VerifyAsync(string phone, string token, string type = "sms")
    {
        using var client = server.CreateClient();
        return await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type, phone, token }));
    }

    [Fact]
    public async Task Signup_PhoneWithoutAutoconfirm_SendsSmsWhoseCodeConfirms()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();

        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { phone = "+" + phone, password = Password }));

        Assert.Null(user["access_token"]);
        Assert.Equal(phone, (string?)user["phone"]);
        Assert.NotNull(user["confirmation_sent_at"]);
        Assert.Null(user["phone_confirmed_at"]);
        var sms = Assert.Single(server.Sms.To(phone));
        Assert.Equal("+" + phone, sms.To);
        Assert.Equal(FakeSmsProvider.MessagingServiceSid, sms.From);
        Assert.Equal($"/2010-04-01/Accounts/{FakeSmsProvider.AccountSid}/Messages.json", sms.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(
            $"{FakeSmsProvider.AccountSid}:{FakeSmsProvider.AuthToken}")), sms.Authorization);
        var code = server.Sms.LastCode(phone);
        Assert.Equal($"Your code is {code}", sms.Body);

        var id = Guid.Parse((string)user["id"]!);
        var stored = await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where id = @id", new { id });
        Assert.Equal(Sha224Hex(phone + code), stored);
        Assert.Equal((stored, phone), await server.Db.SingleAsync<(string, string)>(
            "select token_hash, relates_to from auth.one_time_tokens where user_id = @id and token_type = 'confirmation_token'", new { id }));

        var session = await VerifyAsync("+" + phone, code);
        Assert.Equal(phone, (string?)session["user"]!["phone"]);
        Assert.NotNull(session["user"]!["phone_confirmed_at"]);
        // GoTrue `ConfirmPhone` leaves user_metadata as the sign-up wrote it (UserJsonParityTests).
        Assert.False((bool)session["user"]!["user_metadata"]!["phone_verified"]!);
        Assert.Equal("otp", (string?)Jwt.Payload((string)session["access_token"]!)["amr"]![0]!["method"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.one_time_tokens where user_id = @id", new { id }));
        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { phone, password = Password }));
    }

    [Fact]
    public async Task Verify_CodeReused_Returns403()
    {
        var (phone, _) = await SignUpAsync();
        var code = server.Sms.LastCode(phone);
        await VerifyAsync(phone, code);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "sms", phone, token = code }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    public async Task Verify_ExpiredCode_Returns403()
    {
        var (phone, _) = await SignUpAsync();
        var code = server.Sms.LastCode(phone);
        server.Clock.Advance(TimeSpan.FromSeconds(61)); // GOTRUE_SMS_OTP_EXP default 60 s

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "sms", phone, token = code }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    public async Task Verify_WrongType_Returns403()
    {
        var (phone, id) = await SignUpAsync();
        var code = server.Sms.LastCode(phone);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "phone_change", phone, token = code }),
            403, "otp_expired", "Token has expired or is invalid");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "signup", phone, token = code }),
            403, "otp_expired", "Token has expired or is invalid");
        Assert.Null(await server.Db.ScalarAsync<DateTime?>("select phone_confirmed_at from auth.users where id = @id", new { id }));
        await VerifyAsync(phone, code); // still good: a code for another type is no attempt at this one
    }

    [Fact]
    public async Task Verify_InvalidPhone_Returns400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "sms", phone = "+0abc", token = "123456" }),
            400, "validation_failed", "Invalid phone number format (E.164 required)");
    }

    [Fact]
    public async Task Verify_FiveWrongCodes_VoidTheCode()
    {
        var (phone, id) = await SignUpAsync();
        var code = server.Sms.LastCode(phone);
        var wrong = code == "000000" ? "000001" : "000000";

        for (var i = 0; i < 5; i++)
        {
            using var client = server.CreateClient();
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/verify", new { type = "sms", phone, token = wrong }),
                403, "otp_expired", "Token has expired or is invalid");
        }

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/verify", new { type = "sms", phone, token = code }),
            403, "otp_expired", "Token has expired or is invalid");
        Assert.Equal("", await server.Db.ScalarAsync<string>("select confirmation_token from auth.users where id = @id", new { id }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.one_time_tokens where user_id = @id", new { id }));
    }

    [Fact]
    public async Task Verify_FourWrongCodes_RightCodeStillWorks()
    {
        var (phone, _) = await SignUpAsync();
        var code = server.Sms.LastCode(phone);
        var wrong = code == "000000" ? "000001" : "000000";
        for (var i = 0; i < 4; i++)
        {
            using var client = server.CreateClient();
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/verify", new { type = "sms", phone, token = wrong }), 403, "otp_expired");
        }

        await VerifyAsync(phone, code);
    }

    [Fact]
    public async Task Otp_NewPhone_SignsUpAndSendsCode()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/otp", new { phone = "+" + phone, data = new { plan = "pro" } });

        Assert.Equal("{}", (await server.OkJsonAsync(response)).ToJsonString());
        var session = await VerifyAsync(phone, server.Sms.LastCode(phone));
        Assert.Equal("pro", (string?)session["user"]!["user_metadata"]!["plan"]);
        ApiAssert.JsonEqual("""{"provider":"phone","providers":["phone"]}""", session["user"]!["app_metadata"]);
    }

    [Fact]
    public async Task Otp_ConfirmedPhone_ReturnsMessageIdAndCodeSignsIn()
    {
        var (phone, id) = await SignUpAsync();
        await VerifyAsync(phone, server.Sms.LastCode(phone));
        server.Clock.Advance(TimeSpan.FromSeconds(61)); // the sign-up SMS started GOTRUE_SMS_MAX_FREQUENCY
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone }));

        Assert.StartsWith("SM", (string?)body["message_id"]);
        Assert.Equal(2, server.Sms.To(phone).Count);
        var session = await VerifyAsync(phone, server.Sms.LastCode(phone));
        Assert.Equal(id.ToString(), (string?)session["user"]!["id"]);
    }

    [Fact]
    public async Task Otp_CreateUserFalseForUnknownPhone_Returns422AndSendsNothing()
    {
        var phone = PhoneFixture.NewPhone();
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { phone, create_user = false }),
            422, "otp_disabled", "Signups not allowed for otp");
        Assert.Empty(server.Sms.To(phone));
    }

    [Fact]
    public async Task Otp_AgainWithinMaxFrequency_Returns429AndSendsNothing()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone }));

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { phone }),
            429, "over_sms_send_rate_limit", messagePrefix: "For security purposes, you can only request this after");
        Assert.Single(server.Sms.To(phone));

        server.Clock.Advance(TimeSpan.FromSeconds(61));
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone }));
        Assert.Equal(2, server.Sms.To(phone).Count);
    }

    [Fact]
    public async Task Otp_WhatsappChannel_SentThroughTwilioWhatsapp()
    {
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient();

        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone, channel = "whatsapp" }));

        var sent = Assert.Single(server.Sms.Messages, m => m.To == "whatsapp:+" + phone);
        Assert.Equal("whatsapp", sent.Channel);
    }

    [Fact]
    public async Task Otp_BadChannel_Returns400()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { phone = PhoneFixture.NewPhone(), channel = "pigeon" }),
            400, "validation_failed", "Invalid channel, supported values are 'sms' or 'whatsapp'");
    }

    [Fact]
    public async Task Otp_TestPhone_SendsNoSmsAndTestCodeSignsIn()
    {
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone = "+" + PhoneFixture.TestPhone }));

        Assert.Empty(server.Sms.To(PhoneFixture.TestPhone));
        var session = await VerifyAsync(PhoneFixture.TestPhone, PhoneFixture.TestOtp);
        Assert.Equal(PhoneFixture.TestPhone, (string?)session["user"]!["phone"]);
    }

    [Fact]
    public async Task Otp_ProviderRejects_Returns422SmsSendFailedAndWritesNothing()
    {
        var phone = PhoneFixture.NewPhone();
        server.Sms.Failure = (400, 21211, "The 'To' number is not a valid phone number.");
        try
        {
            await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/otp", new { phone }), 422, "sms_send_failed",
                "Error sending confirmation OTP to provider: The 'To' number is not a valid phone number. More information: https://www.twilio.com/docs/errors/21211");
        }
        finally { server.Sms.Failure = null; }

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where phone = @phone", new { phone }));
        // No throttle left behind: the next attempt goes out at once.
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone }));
        await VerifyAsync(phone, server.Sms.LastCode(phone));
    }

    [Fact]
    public async Task Otp_ProviderRejectsForConfirmedUser_KeepsOldStateAndAllowsRetry()
    {
        var (phone, id) = await SignUpAsync();
        await VerifyAsync(phone, server.Sms.LastCode(phone));
        server.Clock.Advance(TimeSpan.FromSeconds(61));
        var before = await server.Db.ScalarAsync<DateTime?>("select confirmation_sent_at from auth.users where id = @id", new { id });
        server.Sms.Failure = (503, 20503, "Service Unavailable");
        try
        {
            using var failing = server.CreateClient();
            await ApiAssert.ErrorAsync(await failing.PostAsJsonAsync("/otp", new { phone }), 422, "sms_send_failed",
                messagePrefix: "Error sending confirmation OTP to provider: Service Unavailable");
        }
        finally { server.Sms.Failure = null; }

        Assert.Equal(before, await server.Db.ScalarAsync<DateTime?>("select confirmation_sent_at from auth.users where id = @id", new { id }));
        using var client = server.CreateClient();
        await server.OkJsonAsync(await client.PostAsJsonAsync("/otp", new { phone }));
    }

    [Fact]
    public async Task Resend_Sms_UnconfirmedUserGetsNewCodeAndOldOneStops()
    {
        var (phone, _) = await SignUpAsync();
        var first = server.Sms.LastCode(phone);
        server.Clock.Advance(TimeSpan.FromSeconds(61));
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.PostAsJsonAsync("/resend", new { type = "sms", phone }));

        Assert.StartsWith("SM", (string?)body["message_id"]);
        var second = server.Sms.LastCode(phone);
        if (second != first)
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/verify", new { type = "sms", phone, token = first }), 403, "otp_expired");
        await VerifyAsync(phone, second);
    }

    [Fact]
    public async Task Resend_Sms_ConfirmedOrUnknownPhone_ReturnsEmptyAndSendsNothing()
    {
        var (phone, _) = await SignUpAsync();
        await VerifyAsync(phone, server.Sms.LastCode(phone));
        var unknown = PhoneFixture.NewPhone();
        using var client = server.CreateClient();

        Assert.Equal("{}", (await server.OkJsonAsync(await client.PostAsJsonAsync("/resend", new { type = "sms", phone }))).ToJsonString());
        Assert.Equal("{}", (await server.OkJsonAsync(await client.PostAsJsonAsync("/resend", new { type = "sms", phone = unknown }))).ToJsonString());
        Assert.Single(server.Sms.To(phone));
        Assert.Empty(server.Sms.To(unknown));
    }

    [Fact]
    public async Task UpdateUser_Phone_SendsCodeToNewPhoneAndPhoneChangeVerifyApplies()
    {
        var (email, _, session) = await server.NewUserAsync("phonechange");
        var phone = PhoneFixture.NewPhone();
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var user = await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { phone = "+" + phone }));

        Assert.Equal("", (string?)user["phone"]);
        Assert.Equal(phone, (string?)user["new_phone"]);
        Assert.NotNull(user["phone_change_sent_at"]);
        var code = server.Sms.LastCode(phone);
        var id = Guid.Parse((string)user["id"]!);
        Assert.Equal(Sha224Hex(phone + code), await server.Db.ScalarAsync<string>(
            "select token_hash from auth.one_time_tokens where user_id = @id and token_type = 'phone_change_token'", new { id }));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/verify", new { type = "sms", phone, token = code }), 403, "otp_expired");

        var verified = await VerifyAsync(phone, code, "phone_change");

        var updated = verified["user"]!;
        Assert.Equal(phone, (string?)updated["phone"]);
        Assert.Equal(email, (string?)updated["email"]);
        Assert.NotNull(updated["phone_confirmed_at"]);
        Assert.Null(updated["new_phone"]);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email","phone"]}""", updated["app_metadata"]);
        var identity = updated["identities"]!.AsArray().Single(i => (string?)i!["provider"] == "phone")!;
        Assert.Equal(phone, (string?)identity["identity_data"]!["phone"]);
    }

    [Fact]
    public async Task UpdateUser_PhoneTaken_Returns422AndSendsNothing()
    {
        var (phone, _) = await SignUpAsync();
        var (_, _, session) = await server.NewUserAsync("taken");

        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync("/user", new { phone }), 422, "phone_exists",
            "A user with this phone number has already been registered", bearer: (string)session["access_token"]!);
        Assert.Single(server.Sms.To(phone));
    }

    [Fact]
    public async Task UpdateUser_PhoneProviderRejects_Returns422AndNothingPending()
    {
        var (_, _, session) = await server.NewUserAsync("rejected");
        var phone = PhoneFixture.NewPhone();
        server.Sms.Failure = (400, 21211, "Invalid 'To' Phone Number");
        try
        {
            using var failing = server.CreateClient(bearer: (string)session["access_token"]!);
            await ApiAssert.ErrorAsync(await failing.PutAsJsonAsync("/user", new { phone, data = new { x = 1 } }), 422, "sms_send_failed",
                messagePrefix: "Error sending phone_change OTP to provider: Invalid 'To' Phone Number");
        }
        finally { server.Sms.Failure = null; }

        using var client = server.CreateClient(bearer: (string)session["access_token"]!);
        var user = await server.OkJsonAsync(await client.GetAsync("/user"));
        Assert.Null(user["new_phone"]);
        Assert.Null(user["phone_change_sent_at"]);
        Assert.Null(user["user_metadata"]!["x"]);
    }

    [Fact]
    public async Task Reauthenticate_PhoneUser_SendsCodeToPhone()
    {
        var (phone, id) = await SignUpAsync();
        var session = await VerifyAsync(phone, server.Sms.LastCode(phone));
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var body = await server.OkJsonAsync(await client.GetAsync("/reauthenticate"));

        Assert.StartsWith("SM", (string?)body["message_id"]);
        var code = server.Sms.LastCode(phone);
        Assert.Equal(Sha224Hex(phone + code), await server.Db.ScalarAsync<string>(
            "select reauthentication_token from auth.users where id = @id", new { id }));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/reauthenticate"), 429, "over_sms_send_rate_limit",
            messagePrefix: "For security purposes", bearer: (string)session["access_token"]!);
    }

    [Fact]
    public async Task Reauthenticate_UnconfirmedPhoneUser_Returns422()
    {
        var phone = PhoneFixture.NewPhone();
        var id = Guid.NewGuid();
        await server.Db.ExecuteAsync("""
            insert into auth.users (instance_id, id, aud, role, phone, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
            values ('00000000-0000-0000-0000-000000000000', @id, 'authenticated', 'authenticated', @phone, '{}', '{}', now(), now())
            """, new { id, phone });
        var token = Jwt.Sign(new JsonObject
        {
            ["sub"] = id.ToString(),
            ["aud"] = "authenticated",
            ["role"] = "authenticated",
            ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
        }, AuthServerFixture.JwtSecret);

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/reauthenticate"), 422, "phone_not_confirmed",
            "Please verify your phone first.", bearer: token);
        Assert.Empty(server.Sms.To(phone));
    }

    internal static string Sha224Hex(string value)
    {
        var digest = new Org.BouncyCastle.Crypto.Digests.Sha224Digest();
        var input = System.Text.Encoding.UTF8.GetBytes(value);
        digest.BlockUpdate(input, 0, input.Length);
        var output = new byte[28];
        digest.DoFinal(output, 0);
        return Convert.ToHexStringLower(output);
    }
}
