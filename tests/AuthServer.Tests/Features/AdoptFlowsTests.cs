using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using AuthServer.Tests.Infrastructure.GoTrue;

namespace AuthServer.Tests.Features;

/// <summary>Seeded GoTrue users and factors through the email and MFA flows (issue 8).</summary>
static class Adopted
{
    public static readonly Guid Bob = Guid.Parse("22222222-2222-4222-8222-222222222222");
    public static readonly Guid Pending = Guid.Parse("33333333-3333-4333-8333-333333333333");
    public static readonly Guid Frank = Guid.Parse("66666666-6666-4666-8666-666666666666");
    public static readonly Guid BobFactor = Guid.Parse("b2000000-0000-4000-8000-000000000001");
    public static readonly Guid FrankFactor = Guid.Parse("f0000000-0000-4000-8000-000000000002");

    /// <summary>The TOTP secret both seeded factors hold (Bob's in plaintext, Frank's encrypted under fixture-key-1).</summary>
    public const string TotpSecret = "JBSWY3DPEHPK3PXP";

    public static async Task<string> ChallengeAsync(AuthServerFixture server, string accessToken, Guid factorId)
    {
        using var client = server.CreateClient(bearer: accessToken);
        var challenge = await server.OkJsonAsync(await client.PostAsJsonAsync($"/factors/{factorId}/challenge", new { }));
        Assert.Equal("totp", (string?)challenge["type"]);
        return (string)challenge["id"]!;
    }

    public static Task<HttpResponseMessage> VerifyAsync(HttpClient client, Guid factorId, string challengeId, string code) =>
        client.PostAsJsonAsync($"/factors/{factorId}/verify", new { challenge_id = challengeId, code });

    /// <summary>A well-formed code that is not valid now (not in the ±1 step window).</summary>
    public static string WrongCode(string secret, DateTimeOffset now)
    {
        var step = TotpCodes.Step(now);
        var valid = new[] { step - 1, step, step + 1 }.Select(s => TotpCodes.ForStep(secret, s)).ToHashSet();
        return Enumerable.Range(10, 50).Select(d => TotpCodes.ForStep(secret, step + d)).First(c => !valid.Contains(c));
    }

    public static Task<string> StoredSecretAsync(AuthServerFixture server, Guid factorId) =>
        server.Db.ScalarAsync<string>("select secret from auth.mfa_factors where id = @factorId", new { factorId });

    /// <summary>Challenge + verify with the current code; asserts the aal2 session GoTrue would return.</summary>
    public static async Task<JsonObject> VerifyTotpAsync(AuthServerFixture server, string email, Guid userId, Guid factorId)
    {
        var session = await server.SignInAsync(email, GoTrueFixture.Password);
        var accessToken = (string)session["access_token"]!;
        var challengeId = await ChallengeAsync(server, accessToken, factorId);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, accessToken);

        var aal2 = await server.OkJsonAsync(await VerifyAsync(client, factorId, challengeId,
            TotpCodes.At(TotpSecret, server.Clock.GetUtcNow())));

        Assert.Equal(userId.ToString(), (string?)aal2["user"]!["id"]);
        var claims = Jwt.Payload((string)aal2["access_token"]!);
        Assert.Equal("aal2", (string?)claims["aal"]);
        Assert.Equal(["totp", "password"], claims["amr"]!.AsArray().Select(a => (string)a!["method"]!));
        Assert.Equal(("aal2", factorId), await server.Db.SingleAsync<(string, Guid)>(
            "select aal::text, factor_id from auth.sessions where id = @id::uuid", new { id = (string)claims["session_id"]! }));
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>(
            "select verified_at from auth.mfa_challenges where id = @challengeId::uuid", new { challengeId }));
        return aal2;
    }
}

/// <summary>
/// What GoTrue left pending or enrolled keeps working once the email and MFA features run on its database:
/// the confirmation OTP it mailed, TOTP factors with plaintext and encrypted secrets.
/// </summary>
public sealed class AdoptFlowsTests(GoTrueFixture server) : IClassFixture<GoTrueFixture>
{
    [Fact]
    public async Task Verify_PendingSignupWithOtpGoTrueMailed_ConfirmsAndReturnsSession()
    {
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "signup", email = "pending@example.com", token = "123456" }));

        Assert.Equal(Adopted.Pending.ToString(), (string?)session["user"]!["id"]);
        Assert.NotNull((string?)session["user"]!["email_confirmed_at"]);
        Assert.Equal("otp", (string?)Jwt.Payload((string)session["access_token"]!)["amr"]![0]!["method"]);
        var row = await server.Db.SingleAsync<(DateTime? ConfirmedAt, string Token)>(
            "select email_confirmed_at, confirmation_token from auth.users where id = @Pending", new { Adopted.Pending });
        Assert.NotNull(row.ConfirmedAt);
        Assert.Equal("", row.Token);
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.one_time_tokens where user_id = @Pending", new { Adopted.Pending }));

        // Confirmed: the password GoTrue hashed now signs in, and the used OTP is gone.
        await server.SignInAsync("pending@example.com", GoTrueFixture.Password);
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/verify", new { type = "signup", email = "pending@example.com", token = "123456" }),
            403, "otp_expired", "Token has expired or is invalid");
    }

    [Fact]
    public async Task MfaVerify_FactorWithPlaintextSecret_ReturnsAal2SessionAndLeavesSecretAlone()
    {
        await Adopted.VerifyTotpAsync(server, "bob@example.com", Adopted.Bob, Adopted.BobFactor);

        Assert.Equal(Adopted.TotpSecret, await Adopted.StoredSecretAsync(server, Adopted.BobFactor));
    }

    [Fact]
    public async Task MfaVerify_FactorWithSecretEncryptedByGoTrue_ReturnsAal2SessionAndLeavesCiphertextAlone()
    {
        var before = await Adopted.StoredSecretAsync(server, Adopted.FrankFactor);

        await Adopted.VerifyTotpAsync(server, "frank@example.com", Adopted.Frank, Adopted.FrankFactor);

        // GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT is off here: GoTrue would not rewrite the value either.
        Assert.Equal(before, await Adopted.StoredSecretAsync(server, Adopted.FrankFactor));
    }

    [Fact]
    public async Task MfaVerify_EncryptedSecretWrongCode_Returns422MfaVerificationFailed()
    {
        var session = await server.SignInAsync("frank@example.com", GoTrueFixture.Password);
        var accessToken = (string)session["access_token"]!;
        var challengeId = await Adopted.ChallengeAsync(server, accessToken, Adopted.FrankFactor);
        var code = Adopted.WrongCode(Adopted.TotpSecret, server.Clock.GetUtcNow());

        await server.AssertErrorBothShapesAsync(c => Adopted.VerifyAsync(c, Adopted.FrankFactor, challengeId, code),
            422, "mfa_verification_failed", "Invalid TOTP code entered", bearer: accessToken);

        Assert.Null(await server.Db.ScalarAsync<DateTime?>(
            "select verified_at from auth.mfa_challenges where id = @challengeId::uuid", new { challengeId }));
    }

    [Fact]
    public async Task User_SeededFactors_AreListedAsGoTrueStoredThem()
    {
        var session = await server.SignInAsync("frank@example.com", GoTrueFixture.Password);
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var user = await server.OkJsonAsync(await client.GetAsync("/user"));

        var factor = Assert.Single(user["factors"]!.AsArray())!;
        Assert.Equal(Adopted.FrankFactor.ToString(), (string?)factor["id"]);
        Assert.Equal(("totp", "verified"), ((string?)factor["factor_type"], (string?)factor["status"]));
        Assert.Null(factor["secret"]);
    }
}

/// <summary>
/// After every flow a GoTrue-created database can see (sign-in, v1/v2 refresh, pending confirmation,
/// TOTP enrol/challenge/verify/unenrol, identities, logout), its schema is as before except the one trigger.
/// </summary>
public sealed class AdoptSchemaTests(GoTrueFixture server) : IClassFixture<GoTrueFixture>
{
    [Fact]
    public async Task Flows_OnGoTrueDatabase_LeaveSchemaUnchangedExceptTheProfileTrigger()
    {
        using var anonymous = server.CreateClient(AuthServerFixture.ApiVersion2024);
        var alice = await server.SignInAsync("alice@example.com", GoTrueFixture.Password);
        await server.OkJsonAsync(await Refresh.PostAsync(anonymous, "fixtureactiv"));
        await server.OkJsonAsync(await Refresh.PostAsync(anonymous, "AKqqqqoAAEAAgAAAAAAAAAIDBsMl_ecnlhnlv59fF8aoYzvN58Y"));
        await server.OkJsonAsync(await anonymous.PostAsJsonAsync("/verify",
            new { type = "email", email = "pending@example.com", token = "123456" }));
        var bob = await Adopted.VerifyTotpAsync(server, "bob@example.com", Adopted.Bob, Adopted.BobFactor);
        await Adopted.VerifyTotpAsync(server, "frank@example.com", Adopted.Frank, Adopted.FrankFactor);

        using (var asBob = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)bob["access_token"]!))
        {
            var identities = (await server.OkJsonAsync(await asBob.GetAsync("/user")))["identities"]!.AsArray();
            Assert.Equal(["email", "google"], identities.Select(i => (string?)i!["provider"]));
            var enrolled = await server.OkJsonAsync(await asBob.PostAsJsonAsync("/factors",
                new { factor_type = "totp", friendly_name = "second" }));
            await server.OkJsonAsync(await asBob.DeleteAsync($"/factors/{(string)enrolled["id"]!}"));
            Assert.Equal(System.Net.HttpStatusCode.NoContent, (await asBob.PostAsync("/logout", null)).StatusCode);
        }
        using (var asAlice = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)alice["access_token"]!))
            await server.OkJsonAsync(await asAlice.PutAsJsonAsync("/user", new { data = new { theme = "dark" } }));

        var after = await SchemaSnapshot.TakeAsync(server.Db.ConnectionString);

        Assert.Empty(server.Before.Facts.Except(after.Facts));
        var added = Assert.Single(after.Facts.Except(server.Before.Facts));
        Assert.StartsWith("trigger users authserver_on_auth_user_created INSERT AFTER", added);
    }
}
