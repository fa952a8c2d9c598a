using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_MFA_MAX_ENROLLED_FACTORS=2, _MAX_VERIFIED_FACTORS=1, _RATE_LIMIT_CHALLENGE_AND_VERIFY=3.</summary>
public sealed class MfaLimitsFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MFA_MAX_ENROLLED_FACTORS"] = "2";
        settings["GOTRUE_MFA_MAX_VERIFIED_FACTORS"] = "1";
        settings["GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY"] = "3";
    }
}

public sealed class MfaLimitsTests(MfaLimitsFixture server) : IClassFixture<MfaLimitsFixture>
{
    const string TooMany = "Maximum number of verified factors reached, unenroll to continue";

    static string Token(JsonObject session) => (string)session["access_token"]!;

    async Task<JsonObject> EnrollAsync(string accessToken, string name)
    {
        using var client = server.CreateClient(bearer: accessToken);
        return await server.OkJsonAsync(await client.PostAsJsonAsync("/factors", new { factor_type = "totp", friendly_name = name }));
    }

    async Task<HttpResponseMessage> ChallengeAndVerifyAsync(string accessToken, string factorId, string code, string? challengeId = null)
    {
        using var client = server.CreateClient(bearer: accessToken);
        challengeId ??= (string)(await server.OkJsonAsync(await client.PostAsync($"/factors/{factorId}/challenge", null)))["id"]!;
        return await client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code });
    }

    [Fact]
    public async Task Enroll_BeyondMaxEnrolledFactors_Returns422TooManyEnrolledFactors()
    {
        var (_, _, session) = await server.NewUserAsync("limits");
        await EnrollAsync(Token(session), "one");
        await EnrollAsync(Token(session), "two");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/factors", new { factor_type = "totp", friendly_name = "three" }),
            422, "too_many_enrolled_mfa_factors", TooMany, bearer: Token(session));
        Assert.Equal(2, await server.Db.ScalarAsync<long>("select count(*) from auth.mfa_factors where user_id = @id::uuid",
            new { id = (string)session["user"]!["id"]! }));
    }

    [Fact]
    public async Task Enroll_BeyondMaxVerifiedFactors_Returns422TooManyEnrolledFactors()
    {
        var (_, _, session) = await server.NewUserAsync("limits");
        var factor = await EnrollAsync(Token(session), "one");
        var aal2 = await server.OkJsonAsync(await ChallengeAndVerifyAsync(Token(session), (string)factor["id"]!,
            TotpCodes.At((string)factor["totp"]!["secret"]!, server.Clock.GetUtcNow())));

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/factors", new { factor_type = "totp", friendly_name = "two" }),
            422, "too_many_enrolled_mfa_factors", TooMany, bearer: Token(aal2));
    }

    [Fact]
    public async Task Verify_AfterMaxFailedAttemptsInAMinute_Returns429UntilTheMinutePasses()
    {
        var (_, _, session) = await server.NewUserAsync("limits");
        var factor = await EnrollAsync(Token(session), "one");
        var factorId = (string)factor["id"]!;
        var secret = (string)factor["totp"]!["secret"]!;
        var wrong = ((int.Parse(TotpCodes.At(secret, server.Clock.GetUtcNow())) + 500_000) % 1_000_000).ToString("D6");
        for (var i = 0; i < 3; i++)
            await ApiAssert.ErrorAsync(await ChallengeAndVerifyAsync(Token(session), factorId, wrong), 422, "mfa_verification_failed");

        // Even the right code is refused while the factor is throttled: guessing gains nothing.
        await ApiAssert.ErrorAsync(await ChallengeAndVerifyAsync(Token(session), factorId, TotpCodes.At(secret, server.Clock.GetUtcNow())),
            429, "over_request_rate_limit", "Request rate limit reached");
        Assert.Equal("unverified", await server.Db.ScalarAsync<string>("select status::text from auth.mfa_factors where id = @id::uuid", new { id = factorId }));

        server.Clock.Advance(TimeSpan.FromSeconds(61));
        await server.OkJsonAsync(await ChallengeAndVerifyAsync(Token(session), factorId, TotpCodes.At(secret, server.Clock.GetUtcNow())));
        Assert.Equal(0, await server.Db.ScalarAsync<int>("select failed_attempts from authserver.mfa_totp_state where factor_id = @id::uuid", new { id = factorId }));
    }
}

/// <summary>GOTRUE_MFA_TOTP_ENROLL_ENABLED=false and GOTRUE_MFA_TOTP_VERIFY_ENABLED=false.</summary>
public sealed class MfaTotpOffFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_MFA_TOTP_ENROLL_ENABLED"] = "false";
        settings["GOTRUE_MFA_TOTP_VERIFY_ENABLED"] = "false";
    }
}

public sealed class MfaTotpOffTests(MfaTotpOffFixture server) : IClassFixture<MfaTotpOffFixture>
{
    [Fact]
    public async Task Enroll_TotpEnrollDisabled_Returns422()
    {
        var (_, _, session) = await server.NewUserAsync("off");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/factors", new { factor_type = "totp" }),
            422, "mfa_totp_enroll_not_enabled", "MFA enroll is disabled for TOTP", bearer: (string)session["access_token"]!);
    }

    [Fact]
    public async Task ChallengeAndVerify_TotpVerifyDisabled_Returns422()
    {
        var (_, _, session) = await server.NewUserAsync("off");
        var factorId = Guid.NewGuid();
        await server.Db.ExecuteAsync(
            """
            insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
            values (@factorId, @userId::uuid, '', 'totp', 'verified', now(), now(), 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP')
            """, new { factorId, userId = (string)session["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }),
            422, "mfa_totp_verify_not_enabled", "MFA verification is disabled for TOTP", bearer: (string)session["access_token"]!);
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = Guid.NewGuid(), code = "123456" }),
            422, "mfa_totp_verify_not_enabled", "MFA verification is disabled for TOTP", bearer: (string)session["access_token"]!);
    }
}
