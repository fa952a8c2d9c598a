using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;
using AuthServer.Tests.Infrastructure.GoTrue;

namespace AuthServer.Tests.Features;

/// <summary>
/// TOTP secrets with GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT on and a rotated key, as GoTrue handles them
/// (internal/models/factor.go SetSecret/GetSecret, internal/api/mfa.go verifyTOTPFactor): new secrets are
/// stored encrypted under the current key, bound to the factor id; plaintext secrets and secrets under an
/// older key are rewritten under the current key when used.
/// </summary>
public sealed class AdoptEncryptionTests(GoTrueEncryptingFixture server) : IClassFixture<GoTrueEncryptingFixture>
{
    static readonly Guid Alice = Guid.Parse("11111111-1111-4111-8111-111111111111");

    [Fact]
    public async Task Enroll_EncryptionOn_StoresSecretEncryptedUnderCurrentKeyAndItVerifies()
    {
        var session = await server.SignInAsync("alice@example.com", GoTrueFixture.Password);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);

        var enrolled = await server.OkJsonAsync(await client.PostAsJsonAsync("/factors",
            new { factor_type = "totp", friendly_name = "encrypted" }));

        var factorId = Guid.Parse((string)enrolled["id"]!);
        var secret = (string)enrolled["totp"]!["secret"]!;
        var stored = await Adopted.StoredSecretAsync(server, factorId);
        Assert.DoesNotContain(secret, stored);
        Assert.Equal(GoTrueEncryptingFixture.NewKeyId, GoTrueCrypto.KeyId(stored));
        Assert.Equal(secret, GoTrueCrypto.Decrypt(stored, factorId, GoTrueEncryptingFixture.NewKey));
        // Bound to the row: the same value does not decrypt as another row's.
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(
            () => GoTrueCrypto.Decrypt(stored, Alice, GoTrueEncryptingFixture.NewKey));

        var challengeId = await Adopted.ChallengeAsync(server, (string)session["access_token"]!, factorId);
        var aal2 = await server.OkJsonAsync(await Adopted.VerifyAsync(client, factorId, challengeId,
            TotpCodes.At(secret, server.Clock.GetUtcNow())));
        Assert.Equal("aal2", (string?)Jwt.Payload((string)aal2["access_token"]!)["aal"]);
        Assert.Equal(stored, await Adopted.StoredSecretAsync(server, factorId)); // already under the current key
    }

    [Fact]
    public async Task MfaVerify_SecretUnderOlderKey_VerifiesAndRewritesItUnderCurrentKey()
    {
        Assert.Equal(GoTrueFixture.EncryptionKeyId, GoTrueCrypto.KeyId(await Adopted.StoredSecretAsync(server, Adopted.FrankFactor)));

        await Adopted.VerifyTotpAsync(server, "frank@example.com", Adopted.Frank, Adopted.FrankFactor);

        var stored = await Adopted.StoredSecretAsync(server, Adopted.FrankFactor);
        Assert.Equal(GoTrueEncryptingFixture.NewKeyId, GoTrueCrypto.KeyId(stored));
        Assert.Equal(Adopted.TotpSecret, GoTrueCrypto.Decrypt(stored, Adopted.FrankFactor, GoTrueEncryptingFixture.NewKey));
    }

    [Fact]
    public async Task MfaVerify_PlaintextSecretWrongCode_Returns422AndStillEncryptsTheSecret()
    {
        var session = await server.SignInAsync("bob@example.com", GoTrueFixture.Password);
        var accessToken = (string)session["access_token"]!;
        var challengeId = await Adopted.ChallengeAsync(server, accessToken, Adopted.BobFactor);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024, accessToken);

        var response = await Adopted.VerifyAsync(client, Adopted.BobFactor, challengeId,
            Adopted.WrongCode(Adopted.TotpSecret, server.Clock.GetUtcNow()));

        await ApiAssert.ErrorAsync(response, 422, "mfa_verification_failed", "Invalid TOTP code entered");
        var stored = await Adopted.StoredSecretAsync(server, Adopted.BobFactor);
        Assert.Equal(GoTrueEncryptingFixture.NewKeyId, GoTrueCrypto.KeyId(stored));
        Assert.Equal(Adopted.TotpSecret, GoTrueCrypto.Decrypt(stored, Adopted.BobFactor, GoTrueEncryptingFixture.NewKey));

        // The rewritten secret verifies.
        var aal2 = await server.OkJsonAsync(await Adopted.VerifyAsync(client, Adopted.BobFactor, challengeId,
            TotpCodes.At(Adopted.TotpSecret, server.Clock.GetUtcNow())));
        Assert.Equal("aal2", (string?)Jwt.Payload((string)aal2["access_token"]!)["aal"]);
    }

    [Fact]
    public async Task Verify_PendingUserEmailTypeWithOtpGoTrueMailed_ConfirmsAndReturnsSession()
    {
        using var client = server.CreateClient();

        var session = await server.OkJsonAsync(await client.PostAsJsonAsync("/verify",
            new { type = "email", email = "pending@example.com", token = "123456" }));

        Assert.Equal(Adopted.Pending.ToString(), (string?)session["user"]!["id"]);
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>(
            "select email_confirmed_at from auth.users where id = @Pending", new { Adopted.Pending }));
    }
}

/// <summary>
/// A GoTrue database with encrypted values started without GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS:
/// a server misconfiguration, answered as GoTrue does (500, "Database error verifying MFA TOTP secret"),
/// with the missing key id in the server log.
/// </summary>
public sealed class AdoptMissingKeyTests(GoTrueWithoutKeysFixture server) : IClassFixture<GoTrueWithoutKeysFixture>
{
    [Fact]
    public async Task MfaVerify_SecretUnderKeyNotConfigured_Returns500AndLogsTheKeyId()
    {
        // Frank's password is encrypted under the same key; give him a plain bcrypt hash to get a session.
        await server.Db.ExecuteAsync(
            "update auth.users set encrypted_password = (select encrypted_password from auth.users where email = 'alice@example.com') where id = @Frank",
            new { Adopted.Frank });
        var session = await server.SignInAsync("frank@example.com", GoTrueFixture.Password);
        var accessToken = (string)session["access_token"]!;
        var challengeId = await Adopted.ChallengeAsync(server, accessToken, Adopted.FrankFactor);
        var before = await Adopted.StoredSecretAsync(server, Adopted.FrankFactor);

        await server.AssertErrorBothShapesAsync(
            c => Adopted.VerifyAsync(c, Adopted.FrankFactor, challengeId, TotpCodes.At(Adopted.TotpSecret, server.Clock.GetUtcNow())),
            500, "unexpected_failure", "Database error verifying MFA TOTP secret", bearer: accessToken);

        Assert.Contains($"decryption key with name \"{GoTrueFixture.EncryptionKeyId}\" does not exist", server.ServerLog);
        Assert.Contains("GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS", server.ServerLog);
        Assert.DoesNotContain(Adopted.TotpSecret, server.ServerLog);
        Assert.Equal(before, await Adopted.StoredSecretAsync(server, Adopted.FrankFactor));
        Assert.Equal("aal1", await server.Db.ScalarAsync<string>(
            "select aal::text from auth.sessions where id = @id::uuid", new { id = Refresh.SessionId(session) }));
    }

    [Fact]
    public async Task MfaVerify_PlaintextSecretWithoutKeys_StillVerifies()
    {
        await Adopted.VerifyTotpAsync(server, "bob@example.com", Adopted.Bob, Adopted.BobFactor);
    }
}
