using System.Net.Http.Json;
using AuthServer.Tests.Features;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>Catalogue group X: audit rows for each committed action, and no secret in them or in logs.</summary>
[Trait("catalogue", "X")]
public sealed class AuditTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    sealed class AuditRow
    {
        public string Action { get; init; } = "";
        public string Payload { get; init; } = "";
        public string IpAddress { get; init; } = "";
    }

    Task<List<AuditRow>> RowsAsync(Guid userId) => server.Db.QueryAsync<AuditRow>(
        """
        select payload->>'action' as action, payload::text as payload, ip_address
        from auth.audit_log_entries where payload->>'actor_id' = @id order by created_at, id
        """, new { id = userId.ToString() });

    [Fact] // X1★ X2★
    [Trait("catalogue", "X1")]
    [Trait("catalogue", "X2")]
    public async Task Flow_SignupLoginRefreshReusePasswordChangeLogout_AuditedWithoutSecrets()
    {
        var (email, password, signup) = await server.NewUserAsync("audit");
        var userId = Guid.Parse((string)signup["user"]!["id"]!);
        var login = await server.SignInAsync(email, password);
        var r0 = Refresh.Token(login);
        var r1 = await Refresh.OkAsync(server, r0);
        await Refresh.OkAsync(server, Refresh.Token(r1));
        server.Clock.Advance(TimeSpan.FromSeconds(1));
        using (var anon = server.CreateClient())
            await Refresh.PostAsync(anon, r0); // reuse → family revoked
        const string newPassword = "another-horse-battery";
        using (var client = server.CreateClient(bearer: (string)signup["access_token"]!))
        {
            await server.OkJsonAsync(await client.PutAsJsonAsync("/user", new { password = newPassword }));
        }
        var fresh = await server.SignInAsync(email, newPassword);
        using (var client = server.CreateClient(bearer: (string)fresh["access_token"]!))
            await ApiAssert.NoContentAsync(await client.PostAsync("/logout", null));

        var rows = await RowsAsync(userId);
        var actions = rows.Select(r => r.Action).ToList();
        foreach (var expected in new[] { "user_signedup", "login", "token_refreshed", "token_revoked", "user_updated_password", "logout" })
            Assert.Contains(expected, actions);
        Assert.All(rows, r => Assert.Equal("127.0.0.1", r.IpAddress));

        var secrets = new[] { password, newPassword, r0, Refresh.Token(r1), (string)signup["access_token"]!, (string)fresh["refresh_token"]! };
        foreach (var secret in secrets)
        {
            Assert.All(rows, r => Assert.DoesNotContain(secret, r.Payload));
            Assert.DoesNotContain(secret, server.ServerLog);
        }
    }
}
