using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

public sealed class PasskeysFixture : AuthServerFixture
{
    public const string Origin = "http://localhost:5173";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_PASSKEY_ENABLED"] = "true";
        settings["GOTRUE_WEBAUTHN_RP_ID"] = "localhost";
        settings["GOTRUE_WEBAUTHN_RP_DISPLAY_NAME"] = "AuthServer tests";
        settings["GOTRUE_WEBAUTHN_RP_ORIGINS"] = Origin;
        settings["GOTRUE_RATE_LIMIT_PASSKEY"] = "1000000";
        settings["GOTRUE_PASSKEY_MAX_PASSKEYS_PER_USER"] = "3";
    }
}

/// <summary>
/// `/passkeys/*` (GoTrue internal/api/passkey_*.go) through a software authenticator: registration,
/// discoverable sign-in, management, and the ceremony's failure cases answered as GoTrue with nothing changed.
/// </summary>
public sealed class PasskeyTests(PasskeysFixture server) : IClassFixture<PasskeysFixture>
{
    const string Origin = PasskeysFixture.Origin;

    HttpClient Client(string? bearer = null) => server.CreateClient(AuthServerFixture.ApiVersion2024, bearer);

    async Task<(Guid Id, string Token)> NewUserAsync()
    {
        var (_, _, session) = await server.NewUserAsync("passkey");
        return (Guid.Parse((string)session["user"]!["id"]!), (string)session["access_token"]!);
    }

    async Task<JsonObject> RegistrationOptionsAsync(string token)
    {
        using var client = Client(token);
        return await server.OkJsonAsync(await client.PostAsJsonAsync("/passkeys/registration/options", new { }));
    }

    async Task<HttpResponseMessage> VerifyRegistrationAsync(string token, string challengeId, JsonObject credential)
    {
        using var client = Client(token);
        return await client.PostAsJsonAsync("/passkeys/registration/verify",
            new JsonObject { ["challenge_id"] = challengeId, ["credential"] = credential.DeepClone() });
    }

    /// A user with one registered passkey held by <paramref name="authenticator"/>.
    async Task<(Guid UserId, string Token, Guid PasskeyId)> RegisteredAsync(SoftAuthenticator authenticator, string format = "none")
    {
        var (userId, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);
        var created = await server.OkJsonAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!,
            authenticator.Create(options["options"]!, Origin, format)));
        return (userId, token, Guid.Parse((string)created["id"]!));
    }

    async Task<JsonObject> AuthenticationOptionsAsync()
    {
        using var client = Client();
        return await server.OkJsonAsync(await client.PostAsJsonAsync("/passkeys/authentication/options", new { }));
    }

    async Task<HttpResponseMessage> VerifyAuthenticationAsync(string challengeId, JsonObject credential)
    {
        using var client = Client();
        return await client.PostAsJsonAsync("/passkeys/authentication/verify",
            new JsonObject { ["challenge_id"] = challengeId, ["credential"] = credential.DeepClone() });
    }

    Task<long> SignCountAsync(Guid passkeyId) =>
        server.Db.ScalarAsync<long>("select sign_count from auth.webauthn_credentials where id = @passkeyId", new { passkeyId });

    Task<long> SessionsAsync(Guid userId) =>
        server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId", new { userId });

    // ---- settings and options ----

    [Fact]
    public async Task Settings_PasskeysEnabled_ReportsTrue()
    {
        using var client = Client();
        var settings = await server.OkJsonAsync(await client.GetAsync("/settings"));
        Assert.True((bool)settings["passkeys_enabled"]!);
    }

    [Fact]
    public async Task RegistrationOptions_SignedIn_GoWebAuthnCreationOptions()
    {
        var (userId, token) = await NewUserAsync();

        var body = await RegistrationOptionsAsync(token);

        Assert.Equal(["challenge_id", "options", "expires_at"], body.Select(p => p.Key));
        var options = body["options"]!;
        Assert.Equal("localhost", (string?)options["rp"]!["id"]);
        Assert.Equal("AuthServer tests", (string?)options["rp"]!["name"]);
        Assert.Equal(SoftAuthenticator.B64(Encoding.UTF8.GetBytes(userId.ToString())), (string?)options["user"]!["id"]);
        Assert.Equal("required", (string?)options["authenticatorSelection"]!["residentKey"]);
        Assert.Equal("none", (string?)options["attestation"]);
        Assert.Contains(options["pubKeyCredParams"]!.AsArray(), p => (int)p!["alg"]! == -7);
        Assert.Contains(options["pubKeyCredParams"]!.AsArray(), p => (int)p!["alg"]! == -257);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.webauthn_challenges where user_id = @userId and challenge_type = 'registration'", new { userId }));
    }

    [Fact]
    public async Task RegistrationOptions_NoToken_Returns401() =>
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/passkeys/registration/options", new { }), 401, "no_authorization");

    [Fact]
    public async Task AuthenticationOptions_Anyone_DiscoverableRequestOptions()
    {
        var body = await AuthenticationOptionsAsync();

        var options = body["options"]!.AsObject();
        Assert.Equal("localhost", (string?)options["rpId"]);
        Assert.Equal("preferred", (string?)options["userVerification"]);
        Assert.False(options.ContainsKey("allowCredentials"));
        Assert.Null(await server.Db.ScalarAsync<Guid?>(
            "select user_id from auth.webauthn_challenges where id = @id", new { id = Guid.Parse((string)body["challenge_id"]!) }));
    }

    // ---- registration ----

    [Theory]
    [InlineData("none", false)]
    [InlineData("packed", false)]
    [InlineData("none", true)]
    [InlineData("packed", true)]
    public async Task RegistrationVerify_ValidAttestation_StoresPasskey(string format, bool rsa)
    {
        using var authenticator = new SoftAuthenticator(rsa);
        var (userId, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);

        var created = await server.OkJsonAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!,
            authenticator.Create(options["options"]!, Origin, format)));

        Assert.Equal(["id", "friendly_name", "created_at"], created.Select(p => p.Key));
        Assert.Equal("Passkey", (string?)created["friendly_name"]);
        Assert.Equal(authenticator.CredentialId, await server.Db.ScalarAsync<byte[]>(
            "select credential_id from auth.webauthn_credentials where user_id = @userId", new { userId }));
        using var client = Client(token);
        var list = JsonNode.Parse(await client.GetStringAsync("/passkeys"))!.AsArray();
        Assert.Equal((string?)created["id"], (string?)Assert.Single(list)!["id"]);
    }

    [Fact]
    public async Task RegistrationVerify_ReplayedChallenge_Returns400ChallengeNotFound()
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);
        var credential = authenticator.Create(options["options"]!, Origin);
        await server.OkJsonAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!, credential));

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!, credential),
            400, "webauthn_challenge_not_found", "Challenge not found or already used");
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.webauthn_credentials where user_id = @userId", new { userId }));
    }

    [Theory]
    [InlineData("http://evil.example.com", null)]
    [InlineData(Origin, "evil.example.com")]
    public async Task RegistrationVerify_WrongOriginOrRpIdHash_Returns400VerificationFailed(string origin, string? rpId)
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!,
            authenticator.Create(options["options"]!, origin, rpId: rpId)), 400, "webauthn_verification_failed", "Credential verification failed");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.webauthn_credentials where user_id = @userId", new { userId }));
    }

    [Fact]
    public async Task RegistrationVerify_AnotherUsersChallenge_Returns400ChallengeNotFound()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, tokenA) = await NewUserAsync();
        var (_, tokenB) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(tokenA);

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(tokenB, (string)options["challenge_id"]!,
            authenticator.Create(options["options"]!, Origin)), 400, "webauthn_challenge_not_found");
    }

    [Fact]
    public async Task RegistrationVerify_ExpiredChallenge_Returns400ChallengeExpired()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);
        var id = Guid.Parse((string)options["challenge_id"]!);
        await server.Db.ExecuteAsync("update auth.webauthn_challenges set expires_at = now() - interval '1 second' where id = @id", new { id });

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(token, id.ToString(), authenticator.Create(options["options"]!, Origin)),
            400, "webauthn_challenge_expired", "Challenge has expired");
    }

    [Theory]
    [InlineData("""{"credential":{}}""", "challenge_id is required")]
    [InlineData("""{"challenge_id":"abc"}""", "credential is required")]
    [InlineData("""{"challenge_id":"abc","credential":{}}""", "challenge_id must be a valid UUID")]
    public async Task RegistrationVerify_MissingFields_Returns400ValidationFailed(string json, string message)
    {
        var (_, token) = await NewUserAsync();
        using var client = Client(token);

        await ApiAssert.ErrorAsync(await client.PostAsync("/passkeys/registration/verify",
            new StringContent(json, Encoding.UTF8, "application/json")), 400, "validation_failed", message);
    }

    [Fact]
    public async Task RegistrationVerify_GarbageCredential_Returns400VerificationFailed()
    {
        var (_, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!,
            new JsonObject { ["id"] = "x", ["response"] = new JsonObject { ["clientDataJSON"] = "!!" } }), 400, "webauthn_verification_failed");
    }

    [Theory]
    [InlineData("clientDataJSON", "bm90IGpzb24")] // "not json"
    [InlineData("attestationObject", "oWNmbXQ")] // CBOR cut short
    public async Task RegistrationVerify_MalformedPart_Returns400VerificationFailed(string part, string value)
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, token) = await NewUserAsync();
        var options = await RegistrationOptionsAsync(token);
        var credential = authenticator.Create(options["options"]!, Origin);
        credential["response"]![part] = value;

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!, credential),
            400, "webauthn_verification_failed");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.webauthn_credentials where user_id = @userId", new { userId }));
    }

    [Fact]
    public async Task RegistrationVerify_CredentialAlreadyRegistered_Returns422CredentialExists()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, token) = await RegisteredAsync(authenticator) is var r ? (r.UserId, r.Token) : default;
        var options = await RegistrationOptionsAsync(token);

        await ApiAssert.ErrorAsync(await VerifyRegistrationAsync(token, (string)options["challenge_id"]!,
            authenticator.Create(options["options"]!, Origin)), 422, "webauthn_credential_exists", "This credential is already registered");
    }

    [Fact]
    public async Task RegistrationOptions_AtMaximum_Returns422TooManyPasskeys()
    {
        var (userId, token) = await NewUserAsync();
        await server.Db.ExecuteAsync(
            """
            insert into auth.webauthn_credentials (user_id, credential_id, public_key)
            select @userId, decode(md5(random()::text), 'hex'), '\x00'::bytea from generate_series(1, 3)
            """, new { userId });
        using var client = Client(token);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/passkeys/registration/options", new { }),
            422, "too_many_passkeys", "Maximum number of passkeys reached");
    }

    [Fact]
    public async Task RegistrationOptions_VerifiedFactorAndAal1Session_Returns403InsufficientAal()
    {
        var (userId, token) = await NewUserAsync();
        await server.Db.ExecuteAsync(
            """
            insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
            values (gen_random_uuid(), @userId, 'app', 'totp', 'verified', now(), now())
            """, new { userId });
        using var client = Client(token);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/passkeys/registration/options", new { }),
            403, "insufficient_aal", "AAL2 session is required to manage passkeys when MFA is enabled");
    }

    // ---- sign-in ----

    [Fact]
    public async Task AuthenticationVerify_RegisteredPasskey_IssuesSessionWithPasskeyAmr()
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, passkeyId) = await RegisteredAsync(authenticator);
        var options = await AuthenticationOptionsAsync();

        var session = await server.OkJsonAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            authenticator.Get(options["options"]!, Origin)));

        Assert.Equal(userId.ToString(), (string?)session["user"]!["id"]);
        var claims = Jwt.Payload((string)session["access_token"]!);
        Assert.Equal("passkey", (string?)Assert.Single(claims["amr"]!.AsArray())!["method"]);
        Assert.Equal("aal1", (string?)claims["aal"]);
        Assert.Equal(1, await SignCountAsync(passkeyId));
        Assert.NotNull(await server.Db.ScalarAsync<DateTime?>("select last_used_at from auth.webauthn_credentials where id = @passkeyId", new { passkeyId }));
    }

    [Fact]
    public async Task AuthenticationVerify_ReplayedChallenge_Returns400ChallengeNotFound()
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, _) = await RegisteredAsync(authenticator);
        var options = await AuthenticationOptionsAsync();
        var assertion = authenticator.Get(options["options"]!, Origin);
        await server.OkJsonAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!, assertion));
        var sessions = await SessionsAsync(userId);

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!, assertion),
            400, "webauthn_challenge_not_found", "Challenge not found or already used");
        Assert.Equal(sessions, await SessionsAsync(userId));
    }

    [Fact]
    public async Task AuthenticationVerify_AssertionForAnotherChallenge_Returns400VerificationFailed()
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, _) = await RegisteredAsync(authenticator);
        var first = await AuthenticationOptionsAsync();
        var second = await AuthenticationOptionsAsync();
        var sessions = await SessionsAsync(userId);

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)second["challenge_id"]!,
            authenticator.Get(first["options"]!, Origin)), 400, "webauthn_verification_failed");
        Assert.Equal(sessions, await SessionsAsync(userId));
    }

    [Theory]
    [InlineData("http://evil.example.com", null)]
    [InlineData(Origin, "evil.example.com")]
    public async Task AuthenticationVerify_WrongOriginOrRpIdHash_Returns400AndChangesNothing(string origin, string? rpId)
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, passkeyId) = await RegisteredAsync(authenticator);
        var options = await AuthenticationOptionsAsync();
        var sessions = await SessionsAsync(userId);

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            authenticator.Get(options["options"]!, origin, rpId)), 400, "webauthn_verification_failed", "Credential verification failed");
        Assert.Equal(sessions, await SessionsAsync(userId));
        Assert.Equal(0, await SignCountAsync(passkeyId));
    }

    [Fact]
    public async Task AuthenticationVerify_UnregisteredCredential_Returns400VerificationFailed()
    {
        using var registered = new SoftAuthenticator();
        using var stranger = new SoftAuthenticator();
        var (userId, _, _) = await RegisteredAsync(registered);
        var options = await AuthenticationOptionsAsync();

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            stranger.Get(options["options"]!, Origin, userHandle: Encoding.UTF8.GetBytes(userId.ToString()))),
            400, "webauthn_verification_failed");
    }

    [Fact]
    public async Task AuthenticationVerify_CounterGoingBackwards_Returns400AndKeepsCounter()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, _, passkeyId) = await RegisteredAsync(authenticator);
        authenticator.Counter = 10;
        var first = await AuthenticationOptionsAsync();
        await server.OkJsonAsync(await VerifyAuthenticationAsync((string)first["challenge_id"]!, authenticator.Get(first["options"]!, Origin)));
        Assert.Equal(11, await SignCountAsync(passkeyId));
        authenticator.Counter = 5; // a cloned authenticator lags behind
        var second = await AuthenticationOptionsAsync();

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)second["challenge_id"]!,
            authenticator.Get(second["options"]!, Origin)), 400, "webauthn_verification_failed");
        Assert.Equal(11, await SignCountAsync(passkeyId));
    }

    [Fact]
    public async Task AuthenticationVerify_UserHandleOfAnotherUser_Returns400VerificationFailed()
    {
        using var authenticator = new SoftAuthenticator();
        await RegisteredAsync(authenticator);
        var (otherUser, _) = await NewUserAsync();
        var options = await AuthenticationOptionsAsync();
        var sessions = await SessionsAsync(otherUser);

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            authenticator.Get(options["options"]!, Origin, userHandle: Encoding.UTF8.GetBytes(otherUser.ToString()))),
            400, "webauthn_verification_failed");
        Assert.Equal(sessions, await SessionsAsync(otherUser));
    }

    [Fact]
    public async Task AuthenticationVerify_DeletedPasskey_CanNoLongerSignIn()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, token, passkeyId) = await RegisteredAsync(authenticator);
        using (var client = Client(token))
            Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/passkeys/{passkeyId}")).StatusCode);
        var options = await AuthenticationOptionsAsync();

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            authenticator.Get(options["options"]!, Origin)), 400, "webauthn_verification_failed");
    }

    [Fact]
    public async Task AuthenticationVerify_SoftDeletedUser_CanNoLongerSignInAndPasskeysAreGone()
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, _) = await RegisteredAsync(authenticator);
        using (var admin = server.CreateClient(AuthServerFixture.ApiVersion2024, TestKeys.ServiceRoleKey()))
            Assert.Equal(HttpStatusCode.OK, (await admin.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/admin/users/{userId}")
            { Content = JsonContent.Create(new { should_soft_delete = true }) })).StatusCode);
        var options = await AuthenticationOptionsAsync();

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            authenticator.Get(options["options"]!, Origin)), 400, "webauthn_verification_failed");
        Assert.Equal(0L, await SessionsAsync(userId));
        Assert.Equal(0L, await server.Db.ScalarAsync<long>("select count(*) from auth.webauthn_credentials where user_id = @userId", new { userId }));
    }

    [Fact]
    public async Task AuthenticationVerify_TwoParallelVerificationsOfOneChallenge_OneSession()
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, _) = await RegisteredAsync(authenticator);
        var options = await AuthenticationOptionsAsync();
        var assertion = authenticator.Get(options["options"]!, Origin);
        var sessions = await SessionsAsync(userId);

        var responses = await Task.WhenAll(
            VerifyAuthenticationAsync((string)options["challenge_id"]!, assertion),
            VerifyAuthenticationAsync((string)options["challenge_id"]!, assertion));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        await ApiAssert.ErrorAsync(Assert.Single(responses, r => r.StatusCode != HttpStatusCode.OK), 400, "webauthn_challenge_not_found");
        Assert.Equal(sessions + 1, await SessionsAsync(userId));
    }

    [Theory]
    [InlineData("update auth.users set email_confirmed_at = null where id = @userId", 403, "email_not_confirmed")]
    [InlineData("update auth.users set banned_until = now() + interval '1 day' where id = @userId", 403, "user_banned")]
    public async Task AuthenticationVerify_UserNotAllowedToSignIn_Returns403(string sql, int status, string code)
    {
        using var authenticator = new SoftAuthenticator();
        var (userId, _, _) = await RegisteredAsync(authenticator);
        await server.Db.ExecuteAsync(sql, new { userId });
        var options = await AuthenticationOptionsAsync();

        await ApiAssert.ErrorAsync(await VerifyAuthenticationAsync((string)options["challenge_id"]!,
            authenticator.Get(options["options"]!, Origin)), status, code);
    }

    // ---- management ----

    [Fact]
    public async Task Update_OwnPasskey_RenamesIt()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, token, passkeyId) = await RegisteredAsync(authenticator);
        using var client = Client(token);

        var updated = await server.OkJsonAsync(await client.PatchAsJsonAsync($"/passkeys/{passkeyId}", new { friendly_name = "Work laptop" }));

        Assert.Equal("Work laptop", (string?)updated["friendly_name"]);
        Assert.Equal(passkeyId.ToString(), (string?)updated["id"]);
    }

    [Theory]
    [InlineData("", "friendly_name is required")]
    [InlineData(null, "friendly_name must be 120 characters or less")]
    public async Task Update_BadName_Returns400ValidationFailed(string? name, string message)
    {
        using var authenticator = new SoftAuthenticator();
        var (_, token, passkeyId) = await RegisteredAsync(authenticator);
        using var client = Client(token);

        await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"/passkeys/{passkeyId}", new { friendly_name = name ?? new string('é', 121) }),
            400, "validation_failed", message);
    }

    [Fact]
    public async Task UpdateAndDelete_AnotherUsersPasskey_Return404AndChangeNothing()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, _, passkeyId) = await RegisteredAsync(authenticator);
        var (_, otherToken) = await NewUserAsync();
        using var client = Client(otherToken);

        await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"/passkeys/{passkeyId}", new { friendly_name = "mine" }),
            404, "validation_failed", "Passkey not found");
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"/passkeys/{passkeyId}"), 404, "validation_failed", "Passkey not found");
        Assert.Equal("Passkey", await server.Db.ScalarAsync<string>("select friendly_name from auth.webauthn_credentials where id = @passkeyId", new { passkeyId }));
    }

    [Fact]
    public async Task Delete_MalformedId_Returns404()
    {
        var (_, token) = await NewUserAsync();
        using var client = Client(token);

        await ApiAssert.ErrorAsync(await client.DeleteAsync("/passkeys/not-a-uuid"), 404, "validation_failed", "Passkey not found");
    }

    [Fact]
    public async Task Delete_OwnPasskey_Returns204AndAudits()
    {
        using var authenticator = new SoftAuthenticator();
        var (_, token, passkeyId) = await RegisteredAsync(authenticator);
        using var client = Client(token);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/passkeys/{passkeyId}")).StatusCode);
        Assert.Equal("[]", await client.GetStringAsync("/passkeys"));
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'passkey_deleted' and payload->'traits'->>'passkey_id' = @id",
            new { id = passkeyId.ToString() }));
    }

    [Fact]
    public async Task List_NoToken_Returns401() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/passkeys"), 401, "no_authorization");
}
