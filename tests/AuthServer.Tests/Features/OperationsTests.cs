using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using AuthServer.Tests.Security;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AuthServer.Tests.Features;

/// Issue 11: OpenAPI, metrics, and the CLI of the published binary. /openapi.json is opt-in on the API port
/// (GOTRUE_OPENAPI_ENABLED, review L-2); /metrics lives on its own listener (Security/ExposureTests).
public sealed class OperationsTests(OpenApiOnFixture server) : IClassFixture<OpenApiOnFixture>
{
    static readonly string CheckedInOpenApi =
        Path.Combine(RepoRoot(), "deploy", "openapi.json");

    [Fact]
    public async Task OpenApi_Get_ListsEveryRouteTheServerMaps()
    {
        using var client = server.CreateClient();

        var doc = await server.OkJsonAsync(await client.GetAsync("/openapi.json"));

        var documented = doc["paths"]!.AsObject().Select(p => p.Key).ToHashSet();
        var missing = Routes().Where(r => !documented.Contains(r)).ToList();
        Assert.True(missing.Count == 0, "routes missing from the OpenAPI document: " + string.Join(", ", missing));
    }

    [Fact]
    public async Task OpenApi_CheckedInCopy_MatchesWhatTheServerServes()
    {
        using var client = server.CreateClient();
        var served = JsonNode.Parse(await client.GetStringAsync("/openapi.json"))!;
        // The server URL differs per run; compare the API itself.
        served.AsObject().Remove("servers");
        var text = served.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n";
        if (Environment.GetEnvironmentVariable("UPDATE_OPENAPI") == "1")
            await File.WriteAllTextAsync(CheckedInOpenApi, text);

        var checkedIn = File.Exists(CheckedInOpenApi) ? await File.ReadAllTextAsync(CheckedInOpenApi) : "";
        Assert.True(checkedIn == text,
            "deploy/openapi.json is stale: run `UPDATE_OPENAPI=1 dotnet test tests/AuthServer.Tests --filter OpenApi_CheckedInCopy` and commit it");
    }

    [Fact]
    public async Task Cors_ErrorResponse_CarriesAllowOriginSoBrowsersCanReadIt()
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/token?grant_type=password")
        {
            Content = JsonContent.Create(new { email = "nobody@example.com", password = "wrong-password" }),
        };
        request.Headers.Add("Origin", "http://localhost:3000");

        var response = await client.SendAsync(request);

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal("http://localhost:3000", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task Cors_Preflight_AllowsSupabaseJsHeaders()
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, "/auth/v1/token?grant_type=password");
        request.Headers.Add("Origin", "http://localhost:3000");
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "apikey,authorization,content-type,x-client-info,x-supabase-api-version");

        var response = await client.SendAsync(request);

        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
        var allowed = string.Join(",", response.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant();
        Assert.Contains("x-supabase-api-version", allowed);
        Assert.Contains("apikey", allowed);
    }

    [Fact]
    public async Task Cli_KeysPrintAnon_PrintsAnHs256KeyTheServerAccepts()
    {
        var (code, stdout, stderr) = await RunCliAsync(["keys", "print-anon"], new() { ["GOTRUE_JWT_SECRET"] = AuthServerFixture.JwtSecret });

        Assert.True(code == 0, stderr);
        var key = stdout.Trim();
        var payload = Jwt.Payload(key);
        Assert.Equal("anon", (string?)payload["role"]);
        Assert.Equal(key, AuthServerFixture.Resign(key, _ => { }));
    }

    [Fact]
    public async Task Cli_KeysGenerate_PrintsASigningJwkArray()
    {
        var (code, stdout, stderr) = await RunCliAsync(["keys", "generate", "--alg", "RS256"], []);

        Assert.True(code == 0, stderr);
        var jwk = Assert.Single(JsonNode.Parse(stdout)!.AsArray())!;
        Assert.Equal("RSA", (string?)jwk["kty"]);
        Assert.Equal("RS256", (string?)jwk["alg"]);
        Assert.Contains("sign", jwk["key_ops"]!.AsArray().Select(o => (string?)o));
        Assert.False(string.IsNullOrEmpty((string?)jwk["d"]));
    }

    [Fact]
    public async Task Cli_UsersCreate_CreatesAConfirmedUserWhoCanSignIn()
    {
        var email = AuthServerFixture.NewEmail();
        var (code, stdout, stderr) = await RunCliAsync(["users", "create", "--email", email, "--password", "correct-horse-battery"], new()
        {
            ["GOTRUE_JWT_SECRET"] = AuthServerFixture.JwtSecret,
            ["GOTRUE_DB_DRIVER"] = "postgres",
            ["DATABASE_URL"] = server.Db.ConnectionString,
            ["GOTRUE_PASSWORD_HASH_COST"] = "4",
        });

        Assert.True(code == 0, stderr);
        Assert.True(Guid.TryParse(stdout.Trim(), out _), stdout);
        await server.SignInAsync(email, "correct-horse-battery");
    }

    [Fact]
    public async Task Cli_MissingSecret_ExitsNonZeroNamingTheVariable()
    {
        var (code, _, stderr) = await RunCliAsync(["keys", "print-service"], []);

        Assert.NotEqual(0, code);
        Assert.Contains("GOTRUE_JWT_SECRET", stderr);
    }

    [Fact]
    public async Task Server_BadSetting_ExitsNonZeroNamingTheVariable()
    {
        var (code, _, stderr) = await RunCliAsync([], new()
        {
            ["GOTRUE_JWT_SECRET"] = AuthServerFixture.JwtSecret,
            ["GOTRUE_SITE_URL"] = "http://localhost:3000",
            ["API_EXTERNAL_URL"] = "http://localhost:9999",
            ["GOTRUE_DB_DRIVER"] = "postgres",
            ["DATABASE_URL"] = server.Db.ConnectionString,
            ["GOTRUE_DISABLE_SIGNUP"] = "maybe",
        });

        Assert.Equal(1, code);
        Assert.Contains("GOTRUE_DISABLE_SIGNUP", stderr);
    }

    IEnumerable<string> Routes() =>
        server.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            // Method-less catch-alls (the "feature disabled" answers) are not part of the API surface.
            .Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>() is not null)
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
            .Where(r => r is not ("/openapi.json" or "/metrics") && !r.Contains("{*"))
            .Distinct();

    /// Runs the built AuthServer.dll as its own process with only the given GOTRUE_* variables.
    static async Task<(int Code, string Stdout, string Stderr)> RunCliAsync(string[] args, Dictionary<string, string> env)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "AuthServer.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("GOTRUE_") || k is "DATABASE_URL" or "API_EXTERNAL_URL" or "PORT").ToList())
            start.Environment.Remove(key);
        foreach (var (k, v) in env) start.Environment[k] = v;
        start.Environment["PORT"] = "0";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuthServer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
