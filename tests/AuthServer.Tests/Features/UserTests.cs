using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GET /user and the bearer-token checks every user route shares (api.md §2 "User auth detail").</summary>
public sealed class UserTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    const string BadJwtPrefix = "invalid JWT: unable to parse or verify signature";

    static string AccessToken(JsonObject session) => (string)session["access_token"]!;

    [Theory]
    [InlineData("/user")]
    [InlineData("/auth/v1/user")]
    public async Task User_GetWithValidToken_ReturnsUser(string path)
    {
        var (email, _, signup) = await server.NewUserAsync();
        using var client = server.CreateClient(bearer: AccessToken(signup));

        var user = await server.OkJsonAsync(await client.GetAsync(path));

        Assert.Equal((string?)signup["user"]!["id"], (string?)user["id"]);
        Assert.Equal(email, (string?)user["email"]);
        Assert.Equal("authenticated", (string?)user["aud"]);
        Assert.Equal("email", (string?)Assert.Single(user["identities"]!.AsArray())!["provider"]);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", user["app_metadata"]);
        Assert.False(user.ContainsKey("access_token"));
    }

    [Fact]
    public async Task User_GetWithLowercaseBearerScheme_ReturnsUser()
    {
        var (_, _, signup) = await server.NewUserAsync();
        using var client = server.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "bearer " + AccessToken(signup));

        await server.OkJsonAsync(await client.GetAsync("/user"));
    }

    [Fact]
    public async Task User_GetWithMatchingAudHeader_ReturnsUser()
    {
        var (_, _, signup) = await server.NewUserAsync();
        using var client = server.CreateClient(bearer: AccessToken(signup));
        client.DefaultRequestHeaders.Add("X-JWT-AUD", "authenticated");

        await server.OkJsonAsync(await client.GetAsync("/user"));
    }

    [Fact]
    public async Task User_GetWithoutAuthorization_Returns401NoAuthorization()
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
    }

    [Fact]
    public async Task User_GetWithNonBearerAuthorization_Returns401NoAuthorization()
    {
        await server.AssertErrorBothShapesAsync(c =>
            {
                c.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic dXNlcjpwYXNz");
                return c.GetAsync("/user");
            },
            401, "no_authorization", "This endpoint requires a valid Bearer token");
    }

    [Fact]
    public async Task User_GetWithTokenSignedByOtherSecret_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var forged = AuthServerFixture.Resign(AccessToken(signup), _ => { }, secret: "another-secret-that-is-at-least-32-characters");

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: forged, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithTamperedClaims_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var parts = AccessToken(signup).Split('.');
        var claims = Jwt.Payload(AccessToken(signup));
        claims["role"] = "service_role";
        var tampered = $"{parts[0]}.{Jwt.Sign(claims, "x").Split('.')[1]}.{parts[2]}";

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: tampered, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithAlgNone_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var unsigned = Jwt.Unsigned(Jwt.Payload(AccessToken(signup)));

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: unsigned, messagePrefix: BadJwtPrefix);
    }

    [Theory]
    [InlineData("None")]
    [InlineData("HS256")]
    public async Task User_GetWithEmptySignature_Returns403BadJwt(string alg)
    {
        var (_, _, signup) = await server.NewUserAsync();
        var signed = Jwt.Sign(Jwt.Payload(AccessToken(signup)), AuthServerFixture.JwtSecret, new JsonObject { ["alg"] = alg, ["typ"] = "JWT" });
        var stripped = signed[..(signed.LastIndexOf('.') + 1)];

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: stripped, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithFutureNbf_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var notYet = AuthServerFixture.Resign(AccessToken(signup), c => c["nbf"] = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds());

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: notYet, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithExpiredToken_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var expired = AuthServerFixture.Resign(AccessToken(signup), c =>
        {
            c["iat"] = now - 3700;
            c["exp"] = now - 100;
        });

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: expired, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithTokenWithoutExp_Returns403BadJwt()
    {
        // security-tests T4★: a user token must expire (admin routes accept exp-less service keys).
        var (_, _, signup) = await server.NewUserAsync();
        var eternal = AuthServerFixture.Resign(AccessToken(signup), c => c.Remove("exp"));

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: eternal, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithTokenIssuedInTheFuture_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var future = AuthServerFixture.Resign(AccessToken(signup), c =>
        {
            c["iat"] = now + 600;
            c["exp"] = now + 4200;
        });

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: future, messagePrefix: BadJwtPrefix);
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    public async Task User_GetWithGarbageToken_Returns403BadJwt(string token)
    {
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "bad_jwt", bearer: token, messagePrefix: BadJwtPrefix);
    }

    [Fact]
    public async Task User_GetWithTokenMissingSub_Returns403BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var noSub = AuthServerFixture.Resign(AccessToken(signup), c => c.Remove("sub"));

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "bad_jwt", bearer: noSub);
    }

    [Fact]
    public async Task User_GetWithNonUuidSub_Returns400BadJwt()
    {
        var (_, _, signup) = await server.NewUserAsync();
        var badSub = AuthServerFixture.Resign(AccessToken(signup), c => c["sub"] = "not-a-uuid");

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 400, "bad_jwt", bearer: badSub);
    }

    [Fact]
    public async Task User_GetAfterLogout_Returns403SessionNotFound()
    {
        var (_, _, signup) = await server.NewUserAsync();
        using (var client = server.CreateClient(bearer: AccessToken(signup)))
            await ApiAssert.NoContentAsync(await client.PostAsync("/logout", null));

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "session_not_found", "Session from session_id claim in JWT does not exist", bearer: AccessToken(signup));
    }

    [Fact]
    public async Task User_GetForDeletedUser_Returns403UserNotFound()
    {
        var (_, _, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("delete from auth.users where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"),
            403, "user_not_found", "User from sub claim in JWT does not exist", bearer: AccessToken(signup));
    }

    [Fact]
    public async Task User_GetForBannedUser_Returns403UserBanned()
    {
        var (_, _, signup) = await server.NewUserAsync();
        await server.Db.ExecuteAsync("update auth.users set banned_until = now() + interval '1 day' where id = @id::uuid", new { id = (string)signup["user"]!["id"]! });

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "user_banned", bearer: AccessToken(signup));
    }

    [Fact]
    public async Task User_GetWithMismatchedAudHeader_Returns400ValidationFailed()
    {
        var (_, _, signup) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c =>
            {
                c.DefaultRequestHeaders.Add("X-JWT-AUD", "some-other-audience");
                return c.GetAsync("/user");
            },
            400, "validation_failed", "Token audience doesn't match request audience", bearer: AccessToken(signup));
    }
}

/// <summary>PUT /user (api.md §3 PUT /user).</summary>
public sealed class UserUpdateTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static string AccessToken(JsonObject session) => (string)session["access_token"]!;

    static Task<HttpResponseMessage> PutUser(HttpClient client, object body) => client.PutAsJsonAsync("/user", body);

    [Fact]
    public async Task User_PutData_MergesKeysAndRemovesNullOnes()
    {
        var email = AuthServerFixture.NewEmail();
        var signup = await server.SignUpAsync(email, "correct-horse-battery", new { keep = 1, drop = "x", nested = new { a = 1 } });
        var userId = (string)signup["user"]!["id"]!;
        using var client = server.CreateClient(bearer: AccessToken(signup));

        var response = await PutUser(client, new { data = new Dictionary<string, object?> { ["drop"] = null, ["add"] = "y", ["nested"] = new { b = 2 } } });

        var user = await server.OkJsonAsync(response);
        var expected = $$$"""{"sub":"{{{userId}}}","email":"{{{email}}}","email_verified":true,"phone_verified":false,"keep":1,"add":"y","nested":{"b":2}}""";
        ApiAssert.JsonEqual(expected, user["user_metadata"]);
        ApiAssert.JsonEqual(expected, JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select raw_user_meta_data::text from auth.users where id = @userId::uuid", new { userId })));
        ApiAssert.JsonEqual(expected, (await server.OkJsonAsync(await client.GetAsync("/user")))["user_metadata"]);
    }

    [Fact]
    public async Task User_PutPassword_ChangesPasswordAndDeletesOtherSessions()
    {
        var (email, oldPassword, current) = await server.NewUserAsync();
        var other = await server.SignInAsync(email, oldPassword);
        var userId = (string)current["user"]!["id"]!;
        const string newPassword = "a-brand-new-password";
        using var client = server.CreateClient(bearer: AccessToken(current));

        var response = await PutUser(client, new { password = newPassword });

        var user = await server.OkJsonAsync(response);
        Assert.Equal(userId, (string?)user["id"]);
        Assert.Equal([Refresh.SessionId(current)], (await server.Db.QueryAsync<Guid>(
            "select id from auth.sessions where user_id = @userId::uuid", new { userId })).Select(id => id.ToString()));
        await server.OkJsonAsync(await client.GetAsync("/user"));
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/user"), 403, "session_not_found", bearer: AccessToken(other));
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=password", new { email, password = oldPassword }),
            400, "invalid_credentials", "Invalid login credentials");
        await server.SignInAsync(email, newPassword);
        Assert.Contains("user_updated_password", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @userId", new { userId }));
    }

    [Fact]
    public async Task User_PutSamePassword_Returns422SamePassword()
    {
        var (_, password, session) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c => PutUser(c, new { password }),
            422, "same_password", "New password should be different from the old password.", bearer: AccessToken(session));
    }

    [Fact]
    public async Task User_PutWeakPassword_Returns422WeakPassword()
    {
        var (email, password, session) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c => PutUser(c, new { password = "abc" }),
            422, "weak_password", "Password should be at least 6 characters.", bearer: AccessToken(session),
            inspect: body => ApiAssert.JsonEqual("""{"reasons":["length"]}""", body["weak_password"]));

        await server.SignInAsync(email, password);
    }

    [Fact]
    public async Task User_PutPasswordOver72Characters_Returns400ValidationFailed()
    {
        var (_, _, session) = await server.NewUserAsync();

        await server.AssertErrorBothShapesAsync(c => PutUser(c, new { password = new string('p', 73) }),
            400, "validation_failed", "Password cannot be longer than 72 characters", bearer: AccessToken(session));
    }

    [Fact]
    public async Task User_PutAppMetadataAsNonAdmin_Returns403NotAdmin()
    {
        var (_, _, session) = await server.NewUserAsync();
        var userId = (string)session["user"]!["id"]!;

        await server.AssertErrorBothShapesAsync(c => PutUser(c, new { app_metadata = new { role = "admin" } }),
            403, "not_admin", "Updating app_metadata requires admin privileges", bearer: AccessToken(session));

        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", JsonNode.Parse(await server.Db.ScalarAsync<string>(
            "select raw_app_meta_data::text from auth.users where id = @userId::uuid", new { userId })));
    }

    [Fact]
    public async Task User_PutWithoutAuthorization_Returns401NoAuthorization()
    {
        await server.AssertErrorBothShapesAsync(c => PutUser(c, new { data = new { a = 1 } }),
            401, "no_authorization", "This endpoint requires a valid Bearer token");
    }
}
