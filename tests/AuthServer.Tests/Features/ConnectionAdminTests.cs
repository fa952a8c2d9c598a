using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>service_role management of database connections (issue 7 §1 "Connections are data").</summary>
public sealed class ConnectionAdminTests(DbConnectionFixture server) : IClassFixture<DbConnectionFixture>
{
    HttpClient Admin() => server.CreateClient(bearer: ServiceRole.Key());

    static string UniqueName() => "conn-" + Guid.NewGuid().ToString("N");

    [Fact]
    public async Task List_ServiceRole_ReturnsDefaultConnectionSeededFromConfiguration()
    {
        using var admin = Admin();

        var list = JsonNode.Parse(await (await admin.GetAsync("/connections")).Content.ReadAsStringAsync())!.AsArray();

        var seeded = list.Single(c => (string?)c!["name"] == "Username-Password-Authentication")!.AsObject();
        ApiAssert.JsonEqual($"""["{DbConnectionFixture.ClientId}"]""", seeded["enabled_clients"]);
        Assert.Equal(8, (int)seeded["password_min_length"]!); // GOTRUE_PASSWORD_MIN_LENGTH
        Assert.False((bool)seeded["disable_signup"]!);
        Assert.True((bool)seeded["verify_email_auto_send"]!);
        Assert.False((bool)seeded["welcome_email_enabled"]!);
        Assert.Equal("auth0", (string?)seeded["strategy"]);
        Assert.True(Guid.TryParse((string?)seeded["id"], out _));
    }

    [Fact]
    public async Task List_WithoutToken_Returns401NoAuthorization() =>
        await server.AssertErrorBothShapesAsync(c => c.GetAsync("/connections"), 401, "no_authorization");

    [Fact]
    public async Task Update_WithUserToken_Returns403NotAdmin()
    {
        var email = AuthServerFixture.NewEmail();
        await server.Db.InsertEmailUserAsync(email, "correct-horse-battery");
        var session = await server.SignInAsync(email, "correct-horse-battery");
        using var admin = Admin();
        var id = (string)(await (await admin.GetAsync("/connections")).Content.ReadFromJsonAsync<JsonArray>())![0]!["id"]!;

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/connection/{id}", new { disable_signup = true }),
            403, "not_admin", "User not allowed", bearer: (string)session["access_token"]!);

        Assert.False(await server.Db.ScalarAsync<bool>("select disable_signup from authserver.db_connections where id = @id::uuid", new { id }));
    }

    [Fact]
    public async Task Create_ValidBody_Returns201AndStoresConnection()
    {
        using var admin = Admin();
        var name = UniqueName();

        var response = await admin.PostAsJsonAsync("/connections", new
        {
            name,
            enabled_clients = new[] { "c1", "c2", "c1" },
            disable_signup = false,
            password_min_length = 12,
            password_required_characters = new[] { "0123456789" },
            verify_email_auto_send = false,
            welcome_email_enabled = true,
        });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(name, (string?)created["name"]);
        ApiAssert.JsonEqual("""["c1","c2"]""", created["enabled_clients"]);
        Assert.Equal(12, (int)created["password_min_length"]!);
        ApiAssert.JsonEqual("""["0123456789"]""", created["password_required_characters"]);
        Assert.False((bool)created["verify_email_auto_send"]!);
        Assert.True((bool)created["welcome_email_enabled"]!);

        var stored = await server.OkJsonAsync(await admin.GetAsync($"/connections/{created["id"]}"));
        Assert.True(JsonNode.DeepEquals(created, stored), $"{created}\n{stored}");
    }

    [Fact]
    public async Task Create_DuplicateName_Returns409Conflict()
    {
        using var admin = Admin();
        var name = UniqueName();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/connections", new { name })).StatusCode);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/connections", new { name }), 409, "conflict",
            "A connection with this name already exists", bearer: ServiceRole.Key());
    }

    [Theory]
    [InlineData("""{}""", "name is required")]
    [InlineData("""{"name":"x","colour":"red"}""", "Unknown connection field \"colour\"")]
    [InlineData("""{"name":"x","password_min_length":3}""", "password_min_length must be between 6 and 72")]
    [InlineData("""{"name":"x","disable_signup":"yes"}""", "Invalid value for connection field \"disable_signup\"")]
    [InlineData("""{"name":"x","enabled_clients":[""]}""", "enabled_clients must be non-empty strings")]
    public async Task Create_InvalidBody_Returns400ValidationFailed(string json, string message)
    {
        await server.AssertErrorBothShapesAsync(
            c => c.PostAsync("/connections", new StringContent(json, System.Text.Encoding.UTF8, "application/json")),
            400, "validation_failed", message, bearer: ServiceRole.Key());
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from authserver.db_connections where name = 'x'"));
    }

    [Fact]
    public async Task Update_PartialBody_ChangesOnlyGivenFields()
    {
        using var admin = Admin();
        var created = (await (await admin.PostAsJsonAsync("/connections",
            new { name = UniqueName(), enabled_clients = new[] { "keep" }, password_min_length = 9 })).Content.ReadFromJsonAsync<JsonObject>())!;

        var updated = await server.OkJsonAsync(await admin.PatchAsJsonAsync($"/connections/{created["id"]}",
            new { disable_signup = true, welcome_email_enabled = true }));

        Assert.True((bool)updated["disable_signup"]!);
        Assert.True((bool)updated["welcome_email_enabled"]!);
        ApiAssert.JsonEqual("""["keep"]""", updated["enabled_clients"]);
        Assert.Equal(9, (int)updated["password_min_length"]!);
        Assert.Equal((string?)created["name"], (string?)updated["name"]);
    }

    [Theory]
    [InlineData("00000000-0000-0000-0000-000000000001")]
    [InlineData("not-a-uuid")]
    public async Task Update_UnknownId_Returns404ConnectionNotFound(string id) =>
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync($"/connection/{id}", new { disable_signup = true }),
            404, "connection_not_found", "Connection not found", bearer: ServiceRole.Key());
}
