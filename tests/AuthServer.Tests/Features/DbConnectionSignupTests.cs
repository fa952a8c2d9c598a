using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>POST /dbconnections/signup (issue 7 §1) with autoconfirm off: users are created unverified.</summary>
public sealed class DbConnectionSignupTests(DbConnectionFixture server) : IClassFixture<DbConnectionFixture>
{
    const string Password = "correct-horse-battery";
    static int ipCounter;

    /// <summary>A client address of its own, so every test has a fresh rate-limit budget.</summary>
    static string NewIp()
    {
        var n = Interlocked.Increment(ref ipCounter);
        return $"198.51.{n / 250}.{n % 250 + 1}";
    }

    async Task<HttpResponseMessage> PostAsync(object body, string? ip = null, string path = "/dbconnections/signup")
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Forwarded-For", ip ?? NewIp());
        return await client.SendAsync(request);
    }

    /// <summary>This route always answers errors as <c>{code, message}</c>, with x-sb-error-code.</summary>
    static async Task<JsonObject> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code, string? message = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status} {code}, got {(int)response.StatusCode} {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(code, (string?)body["code"]);
        Assert.False(body.ContainsKey("msg"), text);
        Assert.False(body.ContainsKey("error_code"), text);
        if (message is not null) Assert.Equal(message, (string?)body["message"]);
        else Assert.False(string.IsNullOrEmpty((string?)body["message"]), text);
        Assert.Equal(code, response.Headers.GetValues("x-sb-error-code").Single());
        return body;
    }

    Task<long> UserCountAsync(string email) =>
        server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email });

    async Task<JsonObject> CreateConnectionAsync(object body)
    {
        using var admin = server.CreateClient(bearer: ServiceRole.Key());
        var response = await admin.PostAsJsonAsync("/connections", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    [Theory]
    [InlineData("/dbconnections/signup")]
    [InlineData("/auth/v1/dbconnections/signup")]
    public async Task Signup_ValidRequest_Returns200CreatedUnverifiedUserWithoutSession(string path)
    {
        var email = AuthServerFixture.NewEmail("Db.Conn");

        var response = await PostAsync(new
        {
            client_id = DbConnectionFixture.ClientId,
            email = email.ToUpperInvariant(),
            password = Password,
            name = "Ada Lovelace",
            given_name = "Ada",
            family_name = "Lovelace",
            user_metadata = new { plan = "free" },
        }, path: path);

        var body = await server.OkJsonAsync(response);
        var userId = Guid.Parse((string)body["user_id"]!);
        ApiAssert.JsonEqual($$"""{"status":"created","user_id":"{{userId}}","email_verified":false}""", body);
        Assert.False(response.Headers.Contains("Set-Cookie"));

        var lower = email.ToLowerInvariant();
        var user = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @userId", new { userId });
        Assert.Equal(lower, user.Email);
        Assert.Null(user.EmailConfirmedAt);
        Assert.True(BCrypt.Net.BCrypt.Verify(Password, user.EncryptedPassword));
        Assert.Equal("authenticated", user.Role);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email"]}""", JsonNode.Parse(user.RawAppMetaData!));
        ApiAssert.JsonEqual($$"""
            {"plan":"free","name":"Ada Lovelace","given_name":"Ada","family_name":"Lovelace","sub":"{{userId}}",
             "email":"{{lower}}","email_verified":false,"phone_verified":false}
            """, JsonNode.Parse(user.RawUserMetaData!));
        Assert.Equal("email", await server.Db.ScalarAsync<string>(
            "select provider from auth.identities where user_id = @userId", new { userId }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId", new { userId }));
        // The profile row came from the auth.users trigger, in the same transaction.
        Assert.Equal("Ada Lovelace", await server.Db.ScalarAsync<string>(
            "select display_name from public.users where id = @userId", new { userId }));
        // verify_email_auto_send (default on): the verification token is stored for the mailer.
        Assert.NotNull(user.ConfirmationSentAt);
        Assert.Equal(lower, await server.Db.ScalarAsync<string>(
            "select relates_to from auth.one_time_tokens where user_id = @userId and token_type = 'confirmation_token'", new { userId }));
        Assert.Contains("user_signedup", await server.Db.QueryAsync<string>(
            "select payload->>'action' from auth.audit_log_entries where payload->>'actor_id' = @id", new { id = userId.ToString() }));
    }

    [Fact]
    public async Task Signup_NewUser_CannotSignInUntilVerified()
    {
        var email = AuthServerFixture.NewEmail();
        await server.OkJsonAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email, password = Password }));

        using var client = server.CreateClient();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = Password }),
            400, "email_not_confirmed", "Email not confirmed");
    }

    [Fact]
    public async Task Signup_VerifyEmailAutoSendOff_StoresNoVerificationToken()
    {
        var connection = await CreateConnectionAsync(new
        {
            name = "quiet-" + Guid.NewGuid().ToString("N"),
            enabled_clients = new[] { "app-quiet" },
            verify_email_auto_send = false,
        });
        Assert.False((bool)connection["verify_email_auto_send"]!);

        var body = await server.OkJsonAsync(await PostAsync(new { client_id = "app-quiet", email = AuthServerFixture.NewEmail(), password = Password }));

        var user = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @id::uuid", new { id = (string)body["user_id"]! });
        Assert.Null(user.ConfirmationSentAt);
        Assert.Equal("", user.ConfirmationToken);
    }

    [Fact]
    public async Task Signup_MissingClientId_Returns400ValidationFailed()
    {
        var email = AuthServerFixture.NewEmail();
        await ErrorAsync(await PostAsync(new { email, password = Password }), HttpStatusCode.BadRequest, "validation_failed",
            "client_id is required");
        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    public async Task Signup_UnknownClientId_Returns400InvalidClient()
    {
        var email = AuthServerFixture.NewEmail();
        await ErrorAsync(await PostAsync(new { client_id = "nobody", email, password = Password }), HttpStatusCode.BadRequest,
            "invalid_client");
        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    public async Task Signup_ConnectionNotEnabledForClient_Returns400InvalidConnection()
    {
        var email = AuthServerFixture.NewEmail();
        await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email, password = Password, connection = "other" }),
            HttpStatusCode.BadRequest, "invalid_connection",
            "Connection \"other\" does not exist or is not enabled for this client");
        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    public async Task Signup_ClientWithTwoConnectionsAndNoName_Returns400ThenNamedConnectionWorks()
    {
        var client = "app-two-" + Guid.NewGuid().ToString("N");
        var names = new[] { "a-" + client, "b-" + client };
        foreach (var name in names)
            await CreateConnectionAsync(new { name, enabled_clients = new[] { client } });

        await ErrorAsync(await PostAsync(new { client_id = client, email = AuthServerFixture.NewEmail(), password = Password }),
            HttpStatusCode.BadRequest, "invalid_connection");
        await server.OkJsonAsync(await PostAsync(new { client_id = client, email = AuthServerFixture.NewEmail(), password = Password, connection = names[1] }));
    }

    [Theory]
    [InlineData(null, "email is required")]
    [InlineData("", "email is required")]
    [InlineData("not-an-email", "Unable to validate email address: invalid format")]
    public async Task Signup_MissingOrInvalidEmail_Returns400ValidationFailed(string? email, string message)
    {
        await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email, password = Password }),
            HttpStatusCode.BadRequest, "validation_failed", message);
    }

    [Fact]
    public async Task Signup_MissingPassword_Returns400ValidationFailed()
    {
        await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = AuthServerFixture.NewEmail() }),
            HttpStatusCode.BadRequest, "validation_failed", "password is required");
    }

    [Fact]
    public async Task Signup_PasswordShorterThanSeededPolicy_Returns400WithPolicyText()
    {
        var email = AuthServerFixture.NewEmail();
        var body = await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email, password = "short1" }),
            HttpStatusCode.BadRequest, "invalid_password", "Password must be at least 8 characters long.");
        ApiAssert.JsonEqual("""{"reasons":["length"]}""", body["weak_password"]);
        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    public async Task Signup_PasswordMissingRequiredCharacters_Returns400WithPolicyText()
    {
        var name = "strict-" + Guid.NewGuid().ToString("N");
        await CreateConnectionAsync(new
        {
            name,
            enabled_clients = new[] { "app-strict" },
            password_min_length = 10,
            password_required_characters = new[] { "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789" },
        });
        var email = AuthServerFixture.NewEmail();

        var body = await ErrorAsync(await PostAsync(new { client_id = "app-strict", email, password = "alllowercase" }),
            HttpStatusCode.BadRequest, "invalid_password",
            "Password must be at least 10 characters long and contain at least one character of each: " +
            "abcdefghijklmnopqrstuvwxyz, ABCDEFGHIJKLMNOPQRSTUVWXYZ, 0123456789.");
        ApiAssert.JsonEqual("""{"reasons":["characters"]}""", body["weak_password"]);
        Assert.Equal(0, await UserCountAsync(email));
        await server.OkJsonAsync(await PostAsync(new { client_id = "app-strict", email, password = "Mixed1Case2Ok" }));
    }

    [Fact]
    public async Task Signup_ConnectionWithDisableSignup_Returns403SignupDisabled()
    {
        var connection = await CreateConnectionAsync(new { name = "closed-" + Guid.NewGuid().ToString("N"), enabled_clients = new[] { "app-closed" } });
        await server.OkJsonAsync(await PostAsync(new { client_id = "app-closed", email = AuthServerFixture.NewEmail(), password = Password }));

        // Faable's documented management call.
        using var admin = server.CreateClient(bearer: ServiceRole.Key());
        var update = await admin.PostAsJsonAsync($"/connection/{connection["id"]}", new { disable_signup = true });
        Assert.True((bool)(await server.OkJsonAsync(update))["disable_signup"]!);

        var email = AuthServerFixture.NewEmail();
        await ErrorAsync(await PostAsync(new { client_id = "app-closed", email, password = Password }),
            HttpStatusCode.Forbidden, "signup_disabled", "Public signup is disabled for this connection");
        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    public async Task Signup_ExistingEmail_Returns409EmailTakenAndChangesNothing()
    {
        var email = AuthServerFixture.NewEmail();
        var existingId = await server.Db.InsertEmailUserAsync(email, "another-password");

        await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = email.ToUpperInvariant(), password = Password }),
            HttpStatusCode.Conflict, "email_taken", "A user with this email address already exists");

        Assert.Equal(1, await UserCountAsync(email));
        var user = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @existingId", new { existingId });
        Assert.True(BCrypt.Net.BCrypt.Verify("another-password", user.EncryptedPassword));
    }

    [Fact]
    public async Task Signup_TwoConcurrentRequestsForOneEmail_OneCreatedOneConflictNever500()
    {
        for (var round = 0; round < 5; round++)
        {
            var email = AuthServerFixture.NewEmail("race");
            var body = new { client_id = DbConnectionFixture.ClientId, email, password = Password };

            var responses = await Task.WhenAll(PostAsync(body), PostAsync(body));

            var statuses = responses.Select(r => r.StatusCode).Order().ToArray();
            Assert.True(statuses.SequenceEqual([HttpStatusCode.OK, HttpStatusCode.Conflict]),
                $"round {round}: {string.Join(", ", statuses)}\n{server.ServerLog}");
            await ErrorAsync(responses.Single(r => r.StatusCode == HttpStatusCode.Conflict), HttpStatusCode.Conflict, "email_taken");
            Assert.Equal(1, await UserCountAsync(email));
            Assert.Equal(1, await server.Db.ScalarAsync<long>(
                "select count(*) from public.users p join auth.users u on u.id = p.id where u.email = @email", new { email }));
        }
    }

    [Fact]
    public async Task Signup_SixthRequestWithinAMinute_Returns429WithRetryAfter()
    {
        var ip = NewIp();
        // Every request counts, whatever its outcome.
        for (var i = 0; i < 5; i++)
        {
            var response = await PostAsync(new { client_id = "nobody" }, ip);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        var limited = await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = AuthServerFixture.NewEmail(), password = Password }, ip);

        await ErrorAsync(limited, HttpStatusCode.TooManyRequests, "over_request_rate_limit", "Request rate limit reached");
        var retryAfter = int.Parse(limited.Headers.GetValues("Retry-After").Single());
        Assert.InRange(retryAfter, 1, 12); // GCRA: one request per 60 s / 5 after the burst
        // Another client address is unaffected.
        await server.OkJsonAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = AuthServerFixture.NewEmail(), password = Password }));

        // The budget comes back with time: one request per 12 s after the burst.
        server.Clock.Advance(TimeSpan.FromSeconds(retryAfter));
        await server.OkJsonAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = AuthServerFixture.NewEmail(), password = Password }, ip));
        Assert.Equal(HttpStatusCode.TooManyRequests,
            (await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = AuthServerFixture.NewEmail(), password = Password }, ip)).StatusCode);
    }

    [Fact]
    public async Task Signup_BudgetSpentByAnotherInstance_Returns429()
    {
        // The state lives in PostgreSQL: a budget exhausted by any instance is exhausted for all.
        var ip = NewIp();
        await server.Db.ExecuteAsync(
            """
            insert into authserver.rate_limit_buckets (key, tokens, allowed, updated_at, expires_at)
            values (@key, 0, false, @now, @now + interval '1 minute')
            """,
            new { key = "dbconnections_signup:" + ip, now = server.Clock.GetUtcNow().UtcDateTime });

        var email = AuthServerFixture.NewEmail();
        await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email, password = Password }, ip),
            HttpStatusCode.TooManyRequests, "over_request_rate_limit");
        Assert.Equal(0, await UserCountAsync(email));
    }

    [Fact]
    public async Task Signup_MalformedJson_Returns400BadJson()
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/dbconnections/signup")
        {
            Content = new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Forwarded-For", NewIp());
        await ErrorAsync(await client.SendAsync(request), HttpStatusCode.BadRequest, "bad_json");
    }

    [Fact]
    public async Task Signup_UserMetadataNotAnObject_Returns400BadJson()
    {
        await ErrorAsync(await PostAsync(new { client_id = DbConnectionFixture.ClientId, email = AuthServerFixture.NewEmail(), password = Password, user_metadata = "x" }),
            HttpStatusCode.BadRequest, "bad_json");
    }
}

/// <summary>GOTRUE_DISABLE_SIGNUP applies to this route too.</summary>
public sealed class DbConnectionSignupDisabledTests(SignupDisabledFixture server) : IClassFixture<SignupDisabledFixture>
{
    [Fact]
    public async Task Signup_InstanceSignupDisabled_Returns403SignupDisabled()
    {
        using var client = server.CreateClient();
        var email = AuthServerFixture.NewEmail();

        var response = await client.PostAsJsonAsync("/dbconnections/signup", new { client_id = "any", email, password = "correct-horse-battery" });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("signup_disabled", (string?)(await response.Content.ReadFromJsonAsync<JsonObject>())!["code"]);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where email = @email", new { email }));
    }
}

/// <summary>With GOTRUE_MAILER_AUTOCONFIRM (the default fixture) the user is confirmed and signs in.</summary>
public sealed class DbConnectionAutoconfirmTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Fact]
    public async Task Signup_ThenPasswordGrant_ReturnsSessionForTheNewUser()
    {
        using var admin = server.CreateClient(bearer: ServiceRole.Key());
        var created = await admin.PostAsJsonAsync("/connections", new { name = "web", enabled_clients = new[] { "web-client" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        var signup = await server.OkJsonAsync(await client.PostAsJsonAsync("/dbconnections/signup",
            new { client_id = "web-client", email, password = "correct-horse-battery", name = "Web User" }));

        Assert.True((bool)signup["email_verified"]!);
        var session = await server.SignInAsync(email, "correct-horse-battery");
        Assert.Equal((string?)signup["user_id"], (string?)session["user"]!["id"]);
        Assert.Equal("Web User", (string?)session["user"]!["user_metadata"]!["name"]);
    }
}
