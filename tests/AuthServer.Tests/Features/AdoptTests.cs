using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using AuthServer.Tests.Infrastructure.GoTrue;

namespace AuthServer.Tests.Features;

/// <summary>
/// The server started on a database GoTrue created and used (gotrue_database.sql): every seeded kind of
/// record keeps working, and GoTrue's schema is left as it was (issue 8).
/// </summary>
public sealed class AdoptTests(GoTrueFixture server) : IClassFixture<GoTrueFixture>
{
    static readonly Guid Alice = Guid.Parse("11111111-1111-4111-8111-111111111111");
    static readonly Guid Frank = Guid.Parse("66666666-6666-4666-8666-666666666666");

    // v2 tokens computed outside AuthServer (Python, see gotrue_database.sql) for alice's session at
    // counters 3 (the one GoTrue last handed out), 4 (its successor) and 300 (never issued).
    const string AliceV2Session = "aaaaaaaa-0000-4000-8000-000000000002";
    const string AliceV2Counter3 = "AKqqqqoAAEAAgAAAAAAAAAIDBsMl_ecnlhnlv59fF8aoYzvN58Y";
    const string AliceV2Counter4 = "AKqqqqoAAEAAgAAAAAAAAAIEHVsn4mjI-boHqDo7SKYq5vMzyFE";
    const string AliceV2Counter300 = "AKqqqqoAAEAAgAAAAAAAAAKsAqSGhDmkoQak0llv2pKDtzqHbHbZ";
    const string FrankV2Counter0 = "AP____8AAEAAgAAAAAAAAAMAAlF18CqDBEyrgxHw62H-ic7wCCA";

    [Fact]
    public async Task Migrate_GoTrueDatabase_RecordsInitialMigrationAsAdoptedAndLogsWhatItFound()
    {
        var adopted = await server.Db.SingleAsync<(int Versions, string First, string Last, long Users)>(
            "select gotrue_versions, gotrue_first_version, gotrue_last_version, users from authserver.adopted_schema");
        Assert.Equal((76, "00", "20260302000000", 6L), adopted);
        Assert.Contains("0001_create_auth_schema.sql",
            await server.Db.QueryAsync<string>("select name from authserver.migrations"));
        Assert.Equal(76, await server.Db.ScalarAsync<long>("select count(*) from auth.schema_migrations"));
        var report = Assert.Single(server.MigratorLog, m => m.StartsWith("Adopting the GoTrue-managed auth schema", StringComparison.Ordinal));
        Assert.Contains("76 versions, 00 … 20260302000000", report);
        Assert.Contains("6 users (1 soft-deleted)", report);
        Assert.Contains("5 sessions (2 with v2 refresh tokens)", report);
    }

    [Fact]
    public async Task Migrate_GoTrueDatabase_LeavesGoTrueSchemaUnchangedExceptTheProfileTrigger()
    {
        // Traffic first, so the comparison also covers what requests write.
        await server.SignInAsync("alice@example.com", GoTrueFixture.Password);

        var after = await SchemaSnapshot.TakeAsync(server.Db.ConnectionString);

        // 0003_create_public_users adds one trigger to auth.users; nothing else may differ.
        var added = after.Facts.Except(server.Before.Facts).ToList();
        var removed = server.Before.Facts.Except(after.Facts).ToList();
        Assert.Empty(removed);
        var trigger = Assert.Single(added);
        Assert.StartsWith("trigger users authserver_on_auth_user_created INSERT AFTER", trigger);
    }

    [Fact]
    public async Task SignIn_PasswordHashedByGoBcrypt_ReturnsSessionAndKeepsMetadata()
    {
        var session = await server.SignInAsync("alice@example.com", GoTrueFixture.Password);

        var user = session["user"]!.AsObject();
        Assert.Equal(Alice.ToString(), (string?)user["id"]);
        var (app, meta) = server.BeforeMetadata[Alice];
        ApiAssert.JsonEqual(meta!, user["user_metadata"]);
        ApiAssert.JsonEqual(app!, user["app_metadata"]);
        ApiAssert.JsonEqual(meta!, Jwt.Payload((string)session["access_token"]!)["user_metadata"]);
        var stored = await server.Db.SingleAsync<(string? App, string? User, string Hash)>(
            "select raw_app_meta_data::text, raw_user_meta_data::text, encrypted_password from auth.users where id = @Alice",
            new { Alice });
        Assert.Equal((app, meta), (stored.App, stored.User));
        Assert.Equal("$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga", stored.Hash);
    }

    [Fact]
    public async Task SignIn_PasswordStoredEncrypted_ReturnsSession()
    {
        var session = await server.SignInAsync("frank@example.com", GoTrueFixture.Password);

        Assert.Equal(Frank.ToString(), (string?)session["user"]!["id"]);
        Assert.StartsWith("{\"key_id\":\"fixture-key-1\"", await server.Db.ScalarAsync<string>(
            "select encrypted_password from auth.users where id = @Frank", new { Frank }));
    }

    [Fact]
    public async Task SignIn_EncryptedPasswordWrongPassword_Returns400InvalidCredentials()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/token?grant_type=password", new { email = "frank@example.com", password = "allmine!" }),
            400, "invalid_credentials", "Invalid login credentials");
    }

    [Fact]
    public async Task Refresh_GoTrueV1ActiveToken_RotatesInTheSameSession()
    {
        using var client = server.CreateClient();

        var refreshed = await server.OkJsonAsync(await Refresh.PostAsync(client, "bobtokenaaaa"));

        var next = Refresh.Token(refreshed);
        Assert.Matches(ApiAssert.RefreshTokenV1(), next);
        Assert.Equal("bbbbbbbb-0000-4000-8000-000000000001", Refresh.SessionId(refreshed));
        Assert.Equal("oauth", (string?)Jwt.Payload((string)refreshed["access_token"]!)["amr"]![0]!["method"]);
        var rows = await Refresh.RowsAsync(server, "bbbbbbbb-0000-4000-8000-000000000001");
        Assert.Equal(["bobtokenaaaa", next], rows.Select(r => r.Token));
        Assert.True(rows[0].Revoked);
        Assert.Equal("bobtokenaaaa", rows[1].Parent);
        Assert.Equal(Guid.Empty, rows[1].InstanceId);
    }

    [Fact]
    public async Task Refresh_GoTrueV1ParentOfActiveToken_ReturnsTheActiveToken()
    {
        // Rotated just now: the parent rule holds for the reuse interval, at least 10 s (review I-1).
        await server.Db.ExecuteAsync("update auth.refresh_tokens set updated_at = @now where token = 'fixtureoldaa'",
            new { now = server.Clock.GetUtcNow().UtcDateTime });
        using var client = server.CreateClient();

        var refreshed = await server.OkJsonAsync(await Refresh.PostAsync(client, "fixtureoldaa"));

        Assert.Equal("fixtureactiv", Refresh.Token(refreshed));
        Assert.Equal(2, (await Refresh.RowsAsync(server, "aaaaaaaa-0000-4000-8000-000000000001")).Count);
    }

    [Fact]
    public async Task Refresh_GoTrueV2Token_ReturnsNextCounterThenSameOnReplay()
    {
        using var client = server.CreateClient();

        var refreshed = await server.OkJsonAsync(await Refresh.PostAsync(client, AliceV2Counter3));

        Assert.Equal(AliceV2Counter4, Refresh.Token(refreshed));
        Assert.Equal(AliceV2Session, Refresh.SessionId(refreshed));
        Assert.Equal(4, await server.Db.ScalarAsync<long>(
            "select refresh_token_counter from auth.sessions where id = @AliceV2Session::uuid", new { AliceV2Session }));
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.refresh_tokens where session_id = @AliceV2Session::uuid", new { AliceV2Session }));

        // One behind (the client lost the response): the current token again, counter unchanged.
        var replay = await server.OkJsonAsync(await Refresh.PostAsync(client, AliceV2Counter3));
        Assert.Equal(AliceV2Counter4, Refresh.Token(replay));
        Assert.Equal(4, await server.Db.ScalarAsync<long>(
            "select refresh_token_counter from auth.sessions where id = @AliceV2Session::uuid", new { AliceV2Session }));
    }

    [Fact]
    public async Task Refresh_V2TokenAheadOfSessionCounter_Returns400NotIssuedByThisServer()
    {
        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, AliceV2Counter300),
            400, "validation_failed", "Invalid Refresh Token: Not Issued By This Server");
    }

    [Fact]
    public async Task Refresh_V2TokenWithEncryptedSessionKey_Refreshes()
    {
        using var client = server.CreateClient();

        var refreshed = await server.OkJsonAsync(await Refresh.PostAsync(client, FrankV2Counter0));

        Assert.Equal(Frank.ToString(), (string?)refreshed["user"]!["id"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>(
            "select refresh_token_counter from auth.sessions where id = 'ffffffff-0000-4000-8000-000000000003'"));
    }

    [Fact]
    public async Task User_OAuthLinkedUser_ListsEmailAndGoogleIdentities()
    {
        var session = await server.SignInAsync("bob@example.com", GoTrueFixture.Password);
        using var client = server.CreateClient(bearer: (string)session["access_token"]!);

        var user = await server.OkJsonAsync(await client.GetAsync("/user"));

        var identities = user["identities"]!.AsArray().Select(i => i!.AsObject()).ToList();
        Assert.Equal(["email", "google"], identities.Select(i => (string?)i["provider"]));
        var google = identities[1];
        Assert.Equal("109876543210987654321", (string?)google["id"]);
        Assert.Equal("b1000000-0000-4000-8000-000000000002", (string?)google["identity_id"]);
        Assert.Equal("Bob Builder", (string?)google["identity_data"]!["full_name"]);
        Assert.Equal("bob@example.com", (string?)google["email"]);
        ApiAssert.JsonEqual("""{"provider":"email","providers":["email","google"]}""", user["app_metadata"]);
    }

    [Fact]
    public async Task SignIn_BannedUser_Returns400UserBannedAndRefreshToo()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/token?grant_type=password", new { email = "banned@example.com", password = GoTrueFixture.Password }),
            400, "user_banned", "User is banned");
        await server.AssertErrorBothShapesAsync(c => Refresh.PostAsync(c, "davetokenaaa"),
            400, "user_banned", "Invalid Refresh Token: User Banned");
        Assert.Equal(new DateTime(2999, 1, 1, 0, 0, 0, DateTimeKind.Utc), await server.Db.ScalarAsync<DateTime>(
            "select banned_until from auth.users where email = 'banned@example.com'"));
    }

    [Fact]
    public async Task SignIn_SoftDeletedUser_Returns400InvalidCredentialsAndRowStaysDeleted()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/token?grant_type=password", new { email = "erin@example.com", password = GoTrueFixture.Password }),
            400, "invalid_credentials", "Invalid login credentials");

        var row = await server.Db.SingleAsync<(DateTime? DeletedAt, string Password, string Email)>(
            "select deleted_at, encrypted_password, email from auth.users where id = '55555555-5555-4555-8555-555555555555'");
        Assert.Equal(new DateTime(2024, 5, 5, 0, 0, 0, DateTimeKind.Utc), row.DeletedAt);
        Assert.Equal("", row.Password);
        Assert.EndsWith("@deleted.example.com", row.Email);
    }

    [Fact]
    public async Task SignIn_UserWithPendingConfirmation_Returns400EmailNotConfirmedAndKeepsTheMailedToken()
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsJsonAsync("/token?grant_type=password", new { email = "pending@example.com", password = GoTrueFixture.Password }),
            400, "email_not_confirmed", "Email not confirmed");

        // The token GoTrue mailed (OTP 123456) is still there for POST /verify (email feature).
        Assert.Equal("55a158e72c3f5bd1797c64eb7627b585e4dd0b76974f7188a7b969f5", await server.Db.ScalarAsync<string>(
            "select token_hash from auth.one_time_tokens where user_id = '33333333-3333-4333-8333-333333333333'"));
        Assert.Equal(AuthServer.Security.TokenHashes.Of("pending@example.com", "123456"), await server.Db.ScalarAsync<string>(
            "select confirmation_token from auth.users where id = '33333333-3333-4333-8333-333333333333'"));
    }
}
