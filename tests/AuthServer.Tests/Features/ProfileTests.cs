using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using Npgsql;

namespace AuthServer.Tests.Features;

/// <summary>The public.users profile layer with GOTRUE_PROFILE_AUTO_CREATE on (the default).</summary>
public sealed class ProfileTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static string Token(JsonObject session) => (string)session["access_token"]!;
    static string Id(JsonObject session) => (string)session["user"]!["id"]!;

    async Task<JsonObject> NewSessionAsync(object? data = null) =>
        await server.SignUpAsync(AuthServerFixture.NewEmail(), "correct-horse-battery", data);

    [Fact]
    public async Task Get_AutoCreatedProfile_ReturnsRowWithNameAndAvatarFromMetadata()
    {
        var session = await NewSessionAsync(new { full_name = "Grace Hopper", avatar_url = "https://img.example.com/g.png" });
        using var client = server.CreateClient(bearer: Token(session));

        var profile = await server.OkJsonAsync(await client.GetAsync("/profile"));

        Assert.Equal(Id(session), (string?)profile["id"]);
        Assert.Equal("Grace Hopper", (string?)profile["display_name"]);
        Assert.Equal("https://img.example.com/g.png", (string?)profile["avatar_url"]);
        Assert.True(DateTimeOffset.TryParse((string?)profile["created_at"], out _));
        Assert.True(DateTimeOffset.TryParse((string?)profile["updated_at"], out _));
    }

    [Fact]
    public async Task Get_WithoutToken_Returns401NoAuthorization() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/profile"), 401, "no_authorization");

    [Fact]
    public async Task AuthUserInsert_InOpenTransaction_HasProfileRowBeforeCommitAndNoneAfterRollback()
    {
        // "Every new auth user gets its row in the same transaction", whoever inserts the user.
        var id = Guid.NewGuid();
        await using var conn = new NpgsqlConnection(server.Db.ConnectionString);
        await conn.OpenAsync();
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await using (var insert = new NpgsqlCommand(
                """
                insert into auth.users (instance_id, id, aud, role, email, raw_user_meta_data, created_at, updated_at)
                values ('00000000-0000-0000-0000-000000000000', @id, 'authenticated', 'authenticated', @email,
                        '{"given_name":"Alan","family_name":"Turing"}', now(), now())
                """, conn))
            {
                insert.Parameters.AddWithValue("id", id);
                insert.Parameters.AddWithValue("email", AuthServerFixture.NewEmail());
                await insert.ExecuteNonQueryAsync();
            }
            await using (var select = new NpgsqlCommand("select display_name from public.users where id = @id", conn))
            {
                select.Parameters.AddWithValue("id", id);
                Assert.Equal("Alan Turing", await select.ExecuteScalarAsync());
            }
            await tx.RollbackAsync();
        }
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from public.users where id = @id", new { id }));
    }

    [Fact]
    public async Task Post_ExistingProfile_Returns409AlreadyRegisteredWithRowAndChangesNothing()
    {
        var session = await NewSessionAsync(new { name = "Original" });
        var before = await server.Db.ScalarAsync<string>("select to_jsonb(u)::text from public.users u where id = @id::uuid", new { id = Id(session) });

        var body = await ApiAssert.ErrorAsync(
            await server.CreateClient(AuthServerFixture.ApiVersion2024, Token(session)).PostAsJsonAsync("/profile", new { display_name = "Changed" }),
            409, "already_registered", "User is already registered");

        Assert.Equal("Original", (string?)body["profile"]!["display_name"]);
        Assert.Equal(Id(session), (string?)body["profile"]!["id"]);
        Assert.Equal(before, await server.Db.ScalarAsync<string>("select to_jsonb(u)::text from public.users u where id = @id::uuid", new { id = Id(session) }));
    }

    [Fact]
    public async Task Patch_KnownFields_Returns200UpdatedRow()
    {
        var session = await NewSessionAsync();
        using var client = server.CreateClient(bearer: Token(session));
        var before = await server.OkJsonAsync(await client.GetAsync("/profile"));
        server.Clock.Advance(TimeSpan.FromSeconds(5));

        var updated = await server.OkJsonAsync(await client.PatchAsJsonAsync("/profile",
            new { display_name = "New Name", avatar_url = (string?)null }));

        Assert.Equal("New Name", (string?)updated["display_name"]);
        Assert.Null(updated["avatar_url"]);
        Assert.Equal((string?)before["created_at"], (string?)updated["created_at"]);
        Assert.True(DateTimeOffset.Parse((string)updated["updated_at"]!) > DateTimeOffset.Parse((string)before["updated_at"]!));
        Assert.Equal("New Name", await server.Db.ScalarAsync<string>("select display_name from public.users where id = @id::uuid", new { id = Id(session) }));
    }

    [Theory]
    [InlineData("""{"display_name":"x","favourite_colour":"red"}""", "Unknown profile field \"favourite_colour\"")]
    [InlineData("""{"id":"00000000-0000-0000-0000-000000000001"}""", "Profile field \"id\" is read-only")]
    [InlineData("""{"created_at":"2020-01-01T00:00:00Z"}""", "Profile field \"created_at\" is read-only")]
    public async Task Patch_UnknownOrReadOnlyField_Returns400NamingIt(string json, string message)
    {
        var session = await NewSessionAsync(new { name = "Keep" });

        await server.AssertErrorBothShapesAsync(
            c => c.PatchAsync("/profile", new StringContent(json, System.Text.Encoding.UTF8, "application/json")),
            400, "validation_failed", message, bearer: Token(session));

        Assert.Equal("Keep", await server.Db.ScalarAsync<string>("select display_name from public.users where id = @id::uuid", new { id = Id(session) }));
    }

    [Fact]
    public async Task Patch_ColumnAddedByAppMigration_IsWritableWithItsType()
    {
        // Writable columns are discovered in the database; an app's own column is writable once granted (docs/beyond-gotrue.md "Profiles").
        await server.Db.ExecuteAsync("alter table public.users add column if not exists age integer check (age >= 0)");
        await server.Db.ExecuteAsync("grant update (age) on public.users to authenticated");
        var session = await NewSessionAsync();
        using var client = server.CreateClient(bearer: Token(session));

        var updated = await server.OkJsonAsync(await client.PatchAsJsonAsync("/profile", new { age = 42 }));
        Assert.Equal(42, (int)updated["age"]!);

        await server.AssertErrorBothShapesAsync(c => c.PatchAsJsonAsync("/profile", new { age = "old" }),
            400, "validation_failed", bearer: Token(session), messagePrefix: "Invalid profile value: ");
        await server.AssertErrorBothShapesAsync(c => c.PatchAsJsonAsync("/profile", new { age = -1 }),
            400, "validation_failed", bearer: Token(session), messagePrefix: "Invalid profile value: ");
        Assert.Equal(42, await server.Db.ScalarAsync<int>("select age from public.users where id = @id::uuid", new { id = Id(session) }));
    }

    [Fact]
    [Trait("catalogue", "M-3")]
    public async Task M3_PatchColumnWithoutGrant_Returns403AndChangesNothing()
    {
        // Review M-3: a column the app added (and did not grant) was written as the server's own role.
        await server.Db.ExecuteAsync("alter table public.users add column if not exists is_admin boolean not null default false");
        var session = await NewSessionAsync(new { name = "Keep" });

        await server.AssertErrorBothShapesAsync(c => c.PatchAsJsonAsync("/profile", new { is_admin = true }),
            403, "profile_field_not_writable", bearer: Token(session), messagePrefix: "Profile field not writable: ");
        await server.AssertErrorBothShapesAsync(c => c.PatchAsJsonAsync("/profile", new { display_name = "Changed", is_admin = true }),
            403, "profile_field_not_writable", bearer: Token(session));

        var row = await server.Db.SingleAsync<(bool IsAdmin, string DisplayName)>(
            "select is_admin, display_name from public.users where id = @id::uuid", new { id = Id(session) });
        Assert.False(row.IsAdmin);
        Assert.Equal("Keep", row.DisplayName);
    }

    [Fact]
    [Trait("catalogue", "M-3")]
    public async Task M3_PatchColumnGrantedToAuthenticated_Returns200()
    {
        await server.Db.ExecuteAsync("alter table public.users add column if not exists plan text not null default 'free'");
        await server.Db.ExecuteAsync("grant update (plan) on public.users to authenticated");
        var session = await NewSessionAsync();
        using var client = server.CreateClient(bearer: Token(session));

        var updated = await server.OkJsonAsync(await client.PatchAsJsonAsync("/profile", new { plan = "pro", display_name = "Pro" }));

        Assert.Equal("pro", (string?)updated["plan"]);
        Assert.Equal("pro", await server.Db.ScalarAsync<string>("select plan from public.users where id = @id::uuid", new { id = Id(session) }));
    }

    [Fact]
    [Trait("catalogue", "M-3")]
    public async Task M3_ShippedGrants_AreColumnLevelOnly()
    {
        Assert.False(await server.Db.ScalarAsync<bool>("select has_table_privilege('authenticated', 'public.users', 'UPDATE')"));
        Assert.False(await server.Db.ScalarAsync<bool>("select has_table_privilege('authenticated', 'public.users', 'INSERT')"));
        Assert.True(await server.Db.ScalarAsync<bool>("select has_column_privilege('authenticated', 'public.users', 'display_name', 'UPDATE')"));
        Assert.True(await server.Db.ScalarAsync<bool>("select has_column_privilege('authenticated', 'public.users', 'avatar_url', 'UPDATE')"));
        Assert.False(await server.Db.ScalarAsync<bool>("select has_column_privilege('authenticated', 'public.users', 'id', 'UPDATE')"));
    }

    [Fact]
    public async Task Patch_NotAnObject_Returns400BadJson()
    {
        var session = await NewSessionAsync();
        await server.AssertErrorBothShapesAsync(
            c => c.PatchAsync("/profile", new StringContent("[1]", System.Text.Encoding.UTF8, "application/json")),
            400, "bad_json", bearer: Token(session), messagePrefix: "Could not parse request body as JSON");
    }

    [Fact]
    public async Task Rls_AuthenticatedRoleWithJwtClaims_SeesAndUpdatesOnlyOwnRow()
    {
        var mine = await NewSessionAsync(new { name = "Mine" });
        var theirs = await NewSessionAsync(new { name = "Theirs" });
        await using var conn = new NpgsqlConnection(server.Db.ConnectionString);
        await conn.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();

        // What PostgREST does with a verified JWT: the claims as a setting, then the token's role.
        var claims = Jwt.Payload(Token(mine)).ToJsonString();
        await Exec("select set_config('request.jwt.claims', @claims, true)", ("claims", claims));
        await Exec("set local role authenticated");

        Assert.Equal([Id(mine)], await Strings("select id::text from public.users"));
        Assert.Equal(0, await Exec("update public.users set display_name = 'hacked' where id = @id::uuid", ("id", Id(theirs))));
        Assert.Equal(1, await Exec("update public.users set display_name = 'Renamed' where id = @id::uuid", ("id", Id(mine))));
        var denied = await Assert.ThrowsAsync<PostgresException>(() =>
            Exec("insert into public.users (id) values (gen_random_uuid())"));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, denied.SqlState);
        await tx.RollbackAsync();

        Assert.Equal("Theirs", await server.Db.ScalarAsync<string>("select display_name from public.users where id = @id::uuid", new { id = Id(theirs) }));

        async Task<int> Exec(string sql, params (string Name, object Value)[] args)
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            foreach (var (name, value) in args) cmd.Parameters.AddWithValue(name, value);
            return await cmd.ExecuteNonQueryAsync();
        }

        async Task<List<string>> Strings(string sql)
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            await using var reader = await cmd.ExecuteReaderAsync();
            var list = new List<string>();
            while (await reader.ReadAsync()) list.Add(reader.GetString(0));
            return list;
        }
    }
}

/// <summary>GOTRUE_PROFILE_AUTO_CREATE=false: rows only from explicit registration.</summary>
public sealed class ProfileManualTests(ProfileManualFixture server) : IClassFixture<ProfileManualFixture>
{
    [Fact]
    public async Task Startup_AutoCreateOff_IsStoredWhereTheTriggerReadsIt() =>
        Assert.False(await server.Db.ScalarAsync<bool>("select auto_create from authserver.profile_settings"));

    [Fact]
    public async Task Register_NewUser_404ThenPost201ThenGetThenPost409()
    {
        var session = await server.SignUpAsync(AuthServerFixture.NewEmail(), "correct-horse-battery", new { name = "Not Copied" });
        var token = (string)session["access_token"]!;
        var id = (string)session["user"]!["id"]!;
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from public.users where id = @id::uuid", new { id }));

        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/profile"), 404, "profile_not_found", "User has no profile yet", bearer: token);
        await server.AssertErrorBothShapesAsync(c => c.PatchAsJsonAsync("/profile", new { display_name = "x" }), 404, "profile_not_found", bearer: token);

        using var client = server.CreateClient(bearer: token);
        var created = await client.PostAsJsonAsync("/profile", new { display_name = "Registered", avatar_url = "https://a.example/x.png" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var row = (await created.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(id, (string?)row["id"]);
        Assert.Equal("Registered", (string?)row["display_name"]);

        Assert.True(JsonNode.DeepEquals(row, await server.OkJsonAsync(await client.GetAsync("/profile"))));
        var conflict = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/profile", new { display_name = "Again" }),
            409, "already_registered", "User is already registered");
        Assert.True(JsonNode.DeepEquals(row, conflict["profile"]));
    }

    [Fact]
    [Trait("catalogue", "M-3")]
    public async Task M3_PostColumnWithoutGrant_Returns403AndCreatesNoRow()
    {
        await server.Db.ExecuteAsync("alter table public.users add column if not exists credits integer not null default 0");
        var session = await server.SignUpAsync(AuthServerFixture.NewEmail(), "correct-horse-battery");
        var token = (string)session["access_token"]!;
        var id = (string)session["user"]!["id"]!;

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/profile", new { display_name = "Rich", credits = 999 }),
            403, "profile_field_not_writable", bearer: token);

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from public.users where id = @id::uuid", new { id }));
    }

    [Fact]
    public async Task Register_AnonymousUser_Returns201()
    {
        using var anonymous = server.CreateClient();
        var session = await server.OkJsonAsync(await anonymous.PostAsJsonAsync("/signup", new { }));
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var created = await client.PostAsJsonAsync("/profile", new { display_name = "Guest" });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("Guest", await server.Db.ScalarAsync<string>("select display_name from public.users where id = @id::uuid",
            new { id = (string)session["user"]!["id"]! }));
    }
}
