using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>The admin users API (api.md §2–§3 "Admin users"; GoTrue internal/api/admin.go).</summary>
public sealed class AdminUsersTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static readonly string ServiceKey = TestKeys.ServiceRoleKey(withExp: false);

    HttpClient Admin(string? apiVersion = AuthServerFixture.ApiVersion2024) => server.CreateClient(apiVersion, ServiceKey);

    async Task<JsonObject> CreateAsync(object body)
    {
        using var client = Admin();
        return await server.OkJsonAsync(await client.PostAsJsonAsync("/admin/users", body));
    }

    // ---- authorization (shared by every admin route through AdminUser) ----

    [Theory]
    [InlineData("GET", "/admin/users")]
    [InlineData("POST", "/admin/users")]
    [InlineData("GET", "/admin/users/00000000-0000-0000-0000-000000000001")]
    [InlineData("PUT", "/admin/users/00000000-0000-0000-0000-000000000001")]
    [InlineData("DELETE", "/admin/users/00000000-0000-0000-0000-000000000001")]
    [InlineData("GET", "/admin/users/00000000-0000-0000-0000-000000000001/factors")]
    [InlineData("PUT", "/admin/users/00000000-0000-0000-0000-000000000001/factors/00000000-0000-0000-0000-000000000002")]
    [InlineData("DELETE", "/admin/users/00000000-0000-0000-0000-000000000001/factors/00000000-0000-0000-0000-000000000002")]
    [InlineData("GET", "/admin/audit")]
    public async Task AdminRoute_NoBearer_Returns401NoAuthorization(string method, string path) =>
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)),
            401, "no_authorization");

    [Theory]
    [InlineData("GET", "/admin/users")]
    [InlineData("POST", "/admin/users")]
    [InlineData("DELETE", "/admin/users/00000000-0000-0000-0000-000000000001")]
    [InlineData("GET", "/admin/audit")]
    public async Task AdminRoute_UserToken_Returns403NotAdmin(string method, string path)
    {
        var (_, _, session) = await server.NewUserAsync("notadmin");
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)),
            403, "not_admin", "User not allowed", bearer: (string)session["access_token"]!);
    }

    [Fact]
    public async Task AdminRoute_AnonKey_Returns403NotAdmin() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "not_admin",
            bearer: TestKeys.ServiceRoleKey(role: "anon"));

    [Fact]
    public async Task AdminRoute_ServiceKeySignedWithOtherSecret_Returns403BadJwt() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt",
            bearer: TestKeys.ServiceRoleKey(secret: "another-secret-entirely-0123456789-abcdef"),
            messagePrefix: "invalid JWT: unable to parse or verify signature, token signature is invalid");

    [Fact]
    public async Task AdminRoute_ExpiredServiceKey_Returns403BadJwt()
    {
        var expired = Jwt.Sign(new JsonObject { ["role"] = "service_role", ["exp"] = 1_000_000 }, AuthServerFixture.JwtSecret);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "bad_jwt", bearer: expired,
            message: "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired");
    }

    [Fact]
    public async Task AdminRoute_SupabaseAdminRoleWithoutExpOrKid_IsAccepted()
    {
        using var client = server.CreateClient(bearer: TestKeys.ServiceRoleKey(withExp: false, role: "supabase_admin"));
        await server.OkJsonAsync(await client.GetAsync("/admin/users"));
    }

    [Fact]
    public async Task AdminRoute_AdminTokenWithDeletedSession_Returns403SessionNotFound()
    {
        var token = Jwt.Sign(new JsonObject { ["role"] = "service_role", ["session_id"] = Guid.NewGuid().ToString() },
            AuthServerFixture.JwtSecret);
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/admin/users"), 403, "session_not_found", bearer: token);
    }

    // ---- GET /admin/users ----

    [Fact]
    public async Task ListUsers_PagedInOwnAudience_ReturnsLinkAndTotalHeaders()
    {
        var aud = "aud-" + Guid.NewGuid().ToString("N")[..8];
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add((string)(await CreateAsync(new { email = AuthServerFixture.NewEmail("page"), aud }))["id"]!);
            server.Clock.Advance(TimeSpan.FromSeconds(1));
        }
        using var client = Admin();
        client.DefaultRequestHeaders.Add("X-JWT-AUD", aud);

        var first = await client.GetAsync("/admin/users?page=1&per_page=2");
        var body = await server.OkJsonAsync(first);
        Assert.Equal(aud, (string?)body["aud"]);
        var users = body["users"]!.AsArray();
        Assert.Equal([ids[2], ids[1]], users.Select(u => (string)u!["id"]!)); // newest first
        Assert.Null(users[0]!["identities"]); // GoTrue lists without eager loading
        Assert.Equal("3", first.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal("</admin/users?page=2&per_page=2>; rel=\"next\", </admin/users?page=2&per_page=2>; rel=\"last\"",
            first.Headers.GetValues("Link").Single());

        var second = await client.GetAsync("/auth/v1/admin/users?per_page=2&page=2");
        body = await server.OkJsonAsync(second);
        Assert.Equal(ids[0], (string?)Assert.Single(body["users"]!.AsArray())!["id"]);
        Assert.Equal("</auth/v1/admin/users?page=2&per_page=2>; rel=\"last\"", second.Headers.GetValues("Link").Single());

        var beyond = await client.GetAsync("/admin/users?page=9&per_page=2");
        Assert.Empty((await server.OkJsonAsync(beyond))["users"]!.AsArray());
        Assert.Equal("</admin/users?page=2&per_page=2>; rel=\"last\"", beyond.Headers.GetValues("Link").Single());

        var ascending = await server.OkJsonAsync(await client.GetAsync("/admin/users?sort=created_at%20asc"));
        Assert.Equal(ids, ascending["users"]!.AsArray().Select(u => (string)u!["id"]!));
    }

    [Fact]
    public async Task ListUsers_EmptyAudience_ReturnsZeroTotal()
    {
        using var client = Admin();
        client.DefaultRequestHeaders.Add("X-JWT-AUD", "nobody-" + Guid.NewGuid());
        var response = await client.GetAsync("/admin/users");
        Assert.Empty((await server.OkJsonAsync(response))["users"]!.AsArray());
        Assert.Equal("0", response.Headers.GetValues("X-Total-Count").Single());
        Assert.Equal("</admin/users?page=0>; rel=\"last\"", response.Headers.GetValues("Link").Single());
    }

    [Fact]
    public async Task ListUsers_Filter_MatchesEmailOrFullName()
    {
        var tag = Guid.NewGuid().ToString("N")[..10];
        var byEmail = await CreateAsync(new { email = $"filter-{tag}@example.com" });
        var byName = await CreateAsync(new { email = AuthServerFixture.NewEmail("other"), user_metadata = new { full_name = $"Ada {tag.ToUpperInvariant()}" } });
        await CreateAsync(new { email = AuthServerFixture.NewEmail("unrelated") });
        using var client = Admin();

        var body = await server.OkJsonAsync(await client.GetAsync($"/admin/users?filter={tag}"));

        Assert.Equal(new[] { (string)byName["id"]!, (string)byEmail["id"]! }.Order(),
            body["users"]!.AsArray().Select(u => (string)u!["id"]!).Order());
    }

    [Theory]
    [InlineData("/admin/users?per_page=0", "Bad Pagination Parameters: per_page must be greater than 0")]
    [InlineData("/admin/users?page=abc", "Bad Pagination Parameters: strconv.ParseUint: parsing \"abc\": invalid syntax")]
    [InlineData("/admin/users?page=-1", "Bad Pagination Parameters: strconv.ParseUint: parsing \"-1\": invalid syntax")]
    [InlineData("/admin/users?sort=email", "Bad Sort Parameters: bad field for sort 'email'")]
    [InlineData("/admin/users?sort=created_at%20up", "Bad Sort Parameters: bad direction for sort 'up', only 'asc' and 'desc' allowed")]
    public async Task ListUsers_BadParameters_Returns400ValidationFailed(string path, string message) =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync(path), 400, "validation_failed", message, bearer: ServiceKey);

    // ---- POST /admin/users ----

    [Fact]
    public async Task CreateUser_EmailWithEverything_CreatesConfirmedUserWithoutSendingAnything()
    {
        var email = AuthServerFixture.NewEmail("Create").ToUpperInvariant();
        var user = await CreateAsync(new
        {
            email,
            password = "admin-set-password",
            email_confirm = true,
            role = " editor ",
            user_metadata = new { full_name = "Ada" },
            app_metadata = new { plan = "pro", provider = "custom" },
        });

        var id = Guid.Parse((string)user["id"]!);
        Assert.Equal(email.ToLowerInvariant(), (string?)user["email"]);
        Assert.Equal("editor", (string?)user["role"]);
        Assert.Equal("authenticated", (string?)user["aud"]);
        Assert.NotNull(user["email_confirmed_at"]);
        ApiAssert.JsonEqual("""{"provider":"custom","providers":["email"],"plan":"pro"}""", user["app_metadata"]);
        ApiAssert.JsonEqual("""{"full_name":"Ada","email_verified":true}""", user["user_metadata"]);
        var identity = Assert.Single(user["identities"]!.AsArray())!;
        Assert.Equal("email", (string?)identity["provider"]);
        ApiAssert.JsonEqual($$"""{"sub":"{{id}}","email":"{{email.ToLowerInvariant()}}","email_verified":false,"phone_verified":false}""",
            identity["identity_data"]);
        Assert.False(user.ContainsKey("factors"));

        var row = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @id", new { id });
        Assert.Equal(Guid.Empty, row.InstanceId);
        Assert.Null(row.ConfirmationSentAt);
        Assert.Equal("", row.ConfirmationToken);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));
        var audit = await server.Db.ScalarAsync<string>(
            "select payload::text from auth.audit_log_entries where payload->'traits'->>'user_id' = @id", new { id = id.ToString() });
        var payload = JsonNode.Parse(audit)!;
        Assert.Equal("user_signedup", (string?)payload["action"]);
        Assert.Equal("service_role", (string?)payload["actor_username"]);
        Assert.Equal(Guid.Empty.ToString(), (string?)payload["actor_id"]);

        var session = await server.SignInAsync(email.ToLowerInvariant(), "admin-set-password");
        Assert.Equal("editor", (string?)Jwt.Payload((string)session["access_token"]!)["role"]);
    }

    [Fact]
    public async Task CreateUser_WithoutConfirm_CannotSignInUntilConfirmed()
    {
        var email = AuthServerFixture.NewEmail("unconfirmed");
        var user = await CreateAsync(new { email, password = "some-password" });
        Assert.False(user.ContainsKey("email_confirmed_at"));
        ApiAssert.JsonEqual("{}", user["user_metadata"]);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "some-password" }),
            400, "email_not_confirmed");
    }

    [Fact]
    public async Task CreateUser_PhoneConfirmed_HasPhoneIdentity()
    {
        var phone = "1555" + Random.Shared.Next(1000000, 9999999);
        var user = await CreateAsync(new { phone = "+" + phone, phone_confirm = true });
        Assert.Equal(phone, (string?)user["phone"]);
        Assert.NotNull(user["phone_confirmed_at"]);
        ApiAssert.JsonEqual("""{"provider":"phone","providers":["phone"]}""", user["app_metadata"]);
        Assert.Equal("phone", (string?)Assert.Single(user["identities"]!.AsArray())!["provider"]);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/users", new { phone }), 422, "phone_exists",
            "Phone number already registered by another user", bearer: ServiceKey);
    }

    [Fact]
    public async Task CreateUser_EmailAndPhone_HasBothProvidersAndIdentities()
    {
        var user = await CreateAsync(new { email = AuthServerFixture.NewEmail("both"), phone = "1666" + Random.Shared.Next(1000000, 9999999) });
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email","phone"]}""", user["app_metadata"]);
        Assert.Equal(["email", "phone"], user["identities"]!.AsArray().Select(i => (string)i!["provider"]!).Order());
    }

    [Fact]
    public async Task CreateUser_ExistingEmail_Returns422EmailExists()
    {
        var (email, _, _) = await server.NewUserAsync("taken");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/users", new { email = email.ToUpperInvariant() }),
            422, "email_exists", "A user with this email address has already been registered", bearer: ServiceKey);
    }

    [Theory]
    [InlineData("""{}""", 400, "validation_failed", "Cannot create a user without either an email or phone")]
    [InlineData("""{"email":"not-an-email"}""", 400, "validation_failed", "Unable to validate email address: invalid format")]
    [InlineData("""{"phone":"+0abc"}""", 400, "validation_failed", "Invalid phone number format (E.164 required)")]
    [InlineData("""{"email":"pw-both@example.com","password":"x","password_hash":"$2a$10$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"}""", 400, "validation_failed", "Only a password or a password hash should be provided")]
    [InlineData("""{"email":"id-bad@example.com","id":"not-a-uuid"}""", 400, "validation_failed", "ID must conform to the uuid v4 format")]
    [InlineData("""{"email":"id-nil@example.com","id":"00000000-0000-0000-0000-000000000000"}""", 400, "validation_failed", "ID cannot be a nil uuid")]
    [InlineData("""{"email":"ban-bad@example.com","ban_duration":"forever"}""", 400, "validation_failed", "invalid format for ban duration: time: invalid duration \"forever\"")]
    [InlineData("""{"email":"ban-unit@example.com","ban_duration":"10"}""", 400, "validation_failed", "invalid format for ban duration: time: missing unit in duration \"10\"")]
    [InlineData("""{"email":"hash-bad@example.com","password_hash":"plaintext"}""", 400, "validation_failed", null)]
    [InlineData("""{"email":"long@example.com","password":"0123456789012345678901234567890123456789012345678901234567890123456789012"}""", 400, "validation_failed", "bcrypt: password length exceeds 72 bytes")]
    [InlineData("""{"email":"typed@example.com","email_confirm":"yes"}""", 400, "bad_json", null)]
    [InlineData("""not json""", 400, "bad_json", null)]
    public async Task CreateUser_InvalidInput_Returns4xx(string json, int status, string code, string? message)
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsync("/admin/users", new StringContent(json, System.Text.Encoding.UTF8, "application/json")),
            status, code, message, bearer: ServiceKey);
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.users where email in ('pw-both@example.com','id-bad@example.com','id-nil@example.com','ban-bad@example.com','ban-unit@example.com','hash-bad@example.com','long@example.com','typed@example.com')"));
    }

    [Fact]
    public async Task CreateUser_CustomId_UsesItAndRefusesItTwice()
    {
        var id = Guid.NewGuid();
        var user = await CreateAsync(new { id, email = AuthServerFixture.NewEmail("customid") });
        Assert.Equal(id.ToString(), (string?)user["id"]);
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/admin/users", new { id, email = AuthServerFixture.NewEmail("again") }),
            422, "user_already_exists", bearer: ServiceKey);
    }

    [Theory]
    [InlineData('a', "$2a$")]
    [InlineData('b', "$2b$")]
    [InlineData('y', "$2y$")]
    public async Task CreateUser_BcryptPasswordHash_IsStoredAsIsAndSignsIn(char revision, string prefix)
    {
        var email = AuthServerFixture.NewEmail("import");
        var hash = BCrypt.Net.BCrypt.HashPassword("imported-password", BCrypt.Net.BCrypt.GenerateSalt(4, revision));
        Assert.StartsWith(prefix, hash);
        var user = await CreateAsync(new { email, password_hash = hash, email_confirm = true });

        Assert.Equal(hash, await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @id::uuid",
            new { id = (string)user["id"]! }));
        await server.SignInAsync(email, "imported-password");
    }

    [Fact]
    public async Task CreateUser_NoPassword_StoresARandomOne()
    {
        var email = AuthServerFixture.NewEmail("nopw");
        var user = await CreateAsync(new { email, email_confirm = true });
        var hash = await server.Db.ScalarAsync<string>("select encrypted_password from auth.users where id = @id::uuid", new { id = (string)user["id"]! });
        Assert.StartsWith("$2", hash);
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "" }), 400, "invalid_credentials");
    }

    [Fact]
    public async Task CreateUser_BanDuration_BlocksSignIn()
    {
        var email = AuthServerFixture.NewEmail("banned");
        var user = await CreateAsync(new { email, password = "banned-password", email_confirm = true, ban_duration = "1h30m" });
        var until = (DateTime)user["banned_until"]!;
        Assert.InRange(until - server.Clock.GetUtcNow().UtcDateTime, TimeSpan.FromMinutes(89), TimeSpan.FromMinutes(91));
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "banned-password" }),
            400, "user_banned");
    }

    // ---- GET /admin/users/{id} ----

    [Fact]
    public async Task GetUser_Existing_ReturnsUserWithIdentitiesAndFactors()
    {
        var (email, _, session) = await server.NewUserAsync("get");
        var id = Guid.Parse((string)session["user"]!["id"]!);
        var factorId = Guid.NewGuid();
        await server.Db.ExecuteAsync(
            "insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at) values (@factorId, @id, 'phone app', 'totp', 'verified', now(), now())",
            new { factorId, id });
        using var client = Admin();

        var user = await server.OkJsonAsync(await client.GetAsync($"/admin/users/{id}"));

        Assert.Equal(email, (string?)user["email"]);
        Assert.Single(user["identities"]!.AsArray());
        var factor = Assert.Single(user["factors"]!.AsArray())!;
        Assert.Equal(factorId.ToString(), (string?)factor["id"]);
        Assert.Equal(["id", "aud", "role", "email", "email_confirmed_at", "phone", "confirmed_at", "last_sign_in_at",
            "app_metadata", "user_metadata", "factors", "identities", "created_at", "updated_at", "is_anonymous"], user.Select(p => p.Key));
    }

    [Fact]
    public async Task GetUser_Unknown_Returns404UserNotFound() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/users/{Guid.NewGuid()}"), 404, "user_not_found",
            "User not found", bearer: ServiceKey);

    [Theory]
    [InlineData("GET", "/admin/users/not-a-uuid")]
    [InlineData("PUT", "/admin/users/123")]
    [InlineData("DELETE", "/admin/users/xyz")]
    [InlineData("GET", "/admin/users/xyz/factors")]
    public async Task UserRoute_NonUuidId_Returns404ValidationFailed(string method, string path) =>
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(new HttpRequestMessage(new HttpMethod(method), path)
        { Content = method == "GET" ? null : JsonContent.Create(new { }) }),
            404, "validation_failed", "user_id must be an UUID", bearer: ServiceKey);

    // ---- PUT /admin/users/{id} ----

    [Fact]
    public async Task UpdateUser_EmailRoleMetadata_AppliesImmediately()
    {
        var (_, _, session) = await server.NewUserAsync("update");
        var id = (string)session["user"]!["id"]!;
        var newEmail = AuthServerFixture.NewEmail("changed");
        await server.Db.ExecuteAsync("update auth.users set raw_user_meta_data = raw_user_meta_data || '{\"drop\":1,\"keep\":2}' where id = @id::uuid", new { id });
        using var client = Admin();

        var user = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{id}", new
        {
            email = newEmail,
            email_confirm = true,
            role = "moderator",
            user_metadata = new JsonObject { ["drop"] = null, ["added"] = "yes" },
            app_metadata = new { tier = 3 },
        }));

        Assert.Equal(newEmail, (string?)user["email"]);
        Assert.False(user.ContainsKey("new_email"));
        Assert.Equal("moderator", (string?)user["role"]);
        Assert.Null(user["user_metadata"]!["drop"]);
        Assert.Equal(2, (int?)user["user_metadata"]!["keep"]);
        Assert.Equal("yes", (string?)user["user_metadata"]!["added"]);
        Assert.Equal(3, (int?)user["app_metadata"]!["tier"]);
        Assert.Equal("email", (string?)user["app_metadata"]!["provider"]);
        var identity = Assert.Single(user["identities"]!.AsArray())!;
        Assert.Equal(newEmail, (string?)identity["identity_data"]!["email"]);
        Assert.True((bool?)identity["identity_data"]!["email_verified"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'user_modified' and payload->'traits'->>'user_id' = @id", new { id }));
    }

    [Fact]
    public async Task UpdateUser_Password_EndsAllSessionsAndNewPasswordSignsIn()
    {
        var (email, _, session) = await server.NewUserAsync("pwchange");
        var id = (string)session["user"]!["id"]!;
        using var client = Admin();

        await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{id}", new { password = "brand-new-password" }));

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id::uuid", new { id }));
        using var user = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await user.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }), 400, "refresh_token_not_found");
        await server.SignInAsync(email, "brand-new-password");
    }

    [Fact]
    public async Task UpdateUser_Ban_BlocksRefreshAndUserRoutes_NoneLiftsIt()
    {
        var (email, password, session) = await server.NewUserAsync("ban");
        var id = (string)session["user"]!["id"]!;
        using var client = Admin();

        var banned = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{id}", new { ban_duration = "24h" }));
        Assert.NotNull(banned["banned_until"]);

        using var user = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);
        await ApiAssert.ErrorAsync(await user.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }), 400, "user_banned");
        await ApiAssert.ErrorAsync(await user.GetAsync("/user"), 403, "user_banned");
        await ApiAssert.ErrorAsync(await user.PostAsJsonAsync("/token?grant_type=password", new { email, password }), 400, "user_banned");

        var lifted = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{id}", new { ban_duration = "none" }));
        Assert.False(lifted.ContainsKey("banned_until"));
        await server.SignInAsync(email, password);
    }

    [Fact]
    public async Task UpdateUser_WeakPassword_Returns422() =>
        await server.AssertErrorBothShapesAsync(async c =>
        {
            var (_, _, session) = await server.NewUserAsync("weak");
            return await c.PutAsJsonAsync($"/admin/users/{(string)session["user"]!["id"]!}", new { password = "123" });
        }, 422, "weak_password", bearer: ServiceKey);

    [Fact]
    public async Task UpdateUser_EmailOfAnotherUser_Returns422EmailExists()
    {
        var (taken, _, _) = await server.NewUserAsync("other");
        var (_, _, session) = await server.NewUserAsync("mover");
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync($"/admin/users/{(string)session["user"]!["id"]!}", new { email = taken }),
            422, "email_exists", bearer: ServiceKey);
    }

    [Fact]
    public async Task UpdateUser_Unknown_Returns404UserNotFound() =>
        await server.AssertErrorBothShapesAsync(c => c.PutAsJsonAsync($"/admin/users/{Guid.NewGuid()}", new { role = "x" }),
            404, "user_not_found", bearer: ServiceKey);

    [Fact]
    public async Task UpdateUser_AddPhoneConfirmed_CreatesPhoneIdentity()
    {
        var (_, _, session) = await server.NewUserAsync("addphone");
        var phone = "1777" + Random.Shared.Next(1000000, 9999999);
        using var client = Admin();
        var user = await server.OkJsonAsync(await client.PutAsJsonAsync($"/admin/users/{(string)session["user"]!["id"]!}",
            new { phone, phone_confirm = true }));
        Assert.Equal(phone, (string?)user["phone"]);
        Assert.NotNull(user["phone_confirmed_at"]);
        var phoneIdentity = user["identities"]!.AsArray().Single(i => (string?)i!["provider"] == "phone")!;
        Assert.True((bool?)phoneIdentity["identity_data"]!["phone_verified"]);
    }

    // ---- DELETE /admin/users/{id} ----

    [Fact]
    public async Task DeleteUser_Hard_RemovesUserAndEndsSessions()
    {
        var (_, _, session) = await server.NewUserAsync("delete");
        var id = (string)session["user"]!["id"]!;
        using var client = Admin();

        var response = await client.DeleteAsync($"/admin/users/{id}");
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users where id = @id::uuid", new { id }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id::uuid", new { id }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.refresh_tokens where user_id = @id", new { id }));
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.audit_log_entries where payload->>'action' = 'user_deleted' and payload->>'log_type' = 'team' and payload->'traits'->>'user_id' = @id", new { id }));
        using var user = server.CreateClient(AuthServerFixture.ApiVersion2024, (string)session["access_token"]!);
        await ApiAssert.ErrorAsync(await user.GetAsync("/user"), 403, "user_not_found");
        await ApiAssert.ErrorAsync(await user.PostAsJsonAsync("/token?grant_type=refresh_token",
            new { refresh_token = (string)session["refresh_token"]! }), 400, "refresh_token_not_found");
        await server.AssertErrorBothShapesAsync(c => c.GetAsync($"/admin/users/{id}"), 404, "user_not_found", bearer: ServiceKey);
    }

    [Fact]
    public async Task DeleteUser_Soft_ObfuscatesAndKeepsRow()
    {
        var (email, password, session) = await server.NewUserAsync("soft");
        var id = Guid.Parse((string)session["user"]!["id"]!);
        await server.Db.ExecuteAsync(
            "insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at) values (gen_random_uuid(), @id, 'totp', 'verified', now(), now())",
            new { id });
        using var client = Admin();

        var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/admin/users/{id}")
        { Content = JsonContent.Create(new { should_soft_delete = true }) });
        Assert.Equal("{}", await response.Content.ReadAsStringAsync());

        var user = await server.OkJsonAsync(await client.GetAsync($"/admin/users/{id}"));
        Assert.NotNull(user["deleted_at"]);
        static string Obfuscate(Guid id, string value) => Convert.ToBase64String(
            System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id + value))).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(Obfuscate(id, email), (string?)user["email"]);
        Assert.Equal(Obfuscate(id, "")[..15], (string?)user["phone"]);
        ApiAssert.JsonEqual("{}", user["user_metadata"]);
        ApiAssert.JsonEqual("{}", user["app_metadata"]);
        var identity = Assert.Single(user["identities"]!.AsArray())!;
        ApiAssert.JsonEqual("{}", identity["identity_data"]);
        Assert.Equal(Obfuscate(id, "email:" + id), (string?)identity["id"]);
        Assert.False(user.ContainsKey("factors"));
        Assert.Null(await server.Db.ScalarAsync<string?>("select encrypted_password from auth.users where id = @id", new { id }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));

        // The address is free again.
        await server.SignUpAsync(email, password);
        // A second soft delete is a no-op that still answers {}.
        var again = await client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/admin/users/{id}")
        { Content = JsonContent.Create(new { should_soft_delete = true }) });
        Assert.Equal("{}", await again.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task DeleteUser_Unknown_Returns404UserNotFound() =>
        await server.AssertErrorBothShapesAsync(c => c.DeleteAsync($"/admin/users/{Guid.NewGuid()}"), 404, "user_not_found",
            bearer: ServiceKey);

    [Fact]
    public async Task DeleteUser_MalformedBody_Returns400BadJson()
    {
        var (_, _, session) = await server.NewUserAsync("badbody");
        var id = (string)session["user"]!["id"]!;
        await server.AssertErrorBothShapesAsync(c => c.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"/admin/users/{id}")
        { Content = new StringContent("{nope", System.Text.Encoding.UTF8, "application/json") }), 400, "bad_json", bearer: ServiceKey);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.users where id = @id::uuid", new { id }));
    }
}
