using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>`GET /ready` (ours) with the database up; the outage case is in Security/FaultTests.</summary>
public sealed class ReadyTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    [Theory]
    [InlineData("/ready")]
    [InlineData("/auth/v1/ready")]
    public async Task Ready_DatabaseUp_Returns200Ok(string path)
    {
        using var client = server.CreateClient();

        var body = await server.OkJsonAsync(await client.GetAsync(path));

        ApiAssert.JsonEqual("""{"status":"ok","database":"ok"}""", body);
    }
}
