using AuthServer.Config;
using AuthServer.Security;
using Microsoft.Extensions.Configuration;
using System.Net;
using System.Net.Sockets;

namespace AuthServer.Tests.Security;

/// Azure's ID-token sign-in accepts any tenant's issuer named by the token (GoTrue's `IsAzureIssuer`), so a
/// client chooses which issuers the server caches discovery for; the cache must stay bounded.
public sealed class IdTokenIssuerCacheTests
{
    [Fact]
    [Trait("catalogue", "IP4")]
    public async Task ManyDistinctIssuers_CacheStaysBounded()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GOTRUE_INTERNAL_HTTP_TIMEOUT"] = "2s",
        }).Build();
        using var idTokens = new IdTokens(ExternalOptions.Load(new EnvReader(config), config, new Uri("http://localhost:9999")));
        var closedPort = ClosedLoopbackPort(); // every discovery fetch is refused at once

        for (var i = 0; i < IdTokens.MaxIssuers + 40; i++)
        {
            await Assert.ThrowsAsync<IssuerUnavailableException>(() =>
                idTokens.GetConfigurationAsync($"http://127.0.0.1:{closedPort}/tenant-{i}/v2.0", CancellationToken.None));
            Assert.InRange(idTokens.CachedIssuers, 1, IdTokens.MaxIssuers);
        }
    }

    static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again when disposed
    }
}
