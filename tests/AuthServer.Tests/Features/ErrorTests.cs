using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>errors.md §1: shapes, version negotiation, framework-level failures.</summary>
public sealed class ErrorTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"email\": \"a@example.com\", ")]
    [InlineData("[1, 2")]
    [InlineData("{\"email\": 123, \"password\": \"correct-horse-battery\"}")]
    [InlineData("{\"email\": \"a@example.com\", \"password\": \"correct-horse-battery\"} trailing")]
    public async Task Signup_MalformedJson_Returns400BadJson(string body)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/signup", Json(body)),
            400, "bad_json", messagePrefix: "Could not parse request body as JSON");
    }

    [Fact]
    public async Task Signup_EmptyBody_Returns400BadJson()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/signup", Json("")),
            400, "bad_json", messagePrefix: "Could not parse request body as JSON");
    }

    [Fact]
    public async Task Token_MalformedJson_Returns400BadJsonAndWritesNothing()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/token?grant_type=password", Json("{\"email\":")),
            400, "bad_json", messagePrefix: "Could not parse request body as JSON");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions"));
    }

    [Fact]
    public async Task Error_LegacyClient_GetsNumericCodeErrorCodeAndMsgWithoutVersionHeader()
    {
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail() });

        var body = await ApiAssert.ErrorAsync(response, 400, "validation_failed", "Signup requires a valid password");
        Assert.Equal(["code", "error_code", "msg"], body.Select(p => p.Key).Order());
        Assert.Equal("validation_failed", response.Headers.GetValues("x-sb-error-code").Single());
        Assert.False(response.Headers.Contains("X-Supabase-Api-Version"));
    }

    [Theory]
    [InlineData("2024-01-01")]
    [InlineData("2025-06-30")]
    public async Task Error_ApiVersion2024OrLater_GetsCodeAndMessageAndEchoedHeader(string version)
    {
        using var client = server.CreateClient(apiVersion: version);

        var response = await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail() });

        Assert.Equal(400, (int)response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(["code", "message"], body.Select(p => p.Key).Order());
        Assert.Equal("validation_failed", (string?)body["code"]);
        Assert.Equal("Signup requires a valid password", (string?)body["message"]);
        Assert.Equal("2024-01-01", response.Headers.GetValues("X-Supabase-Api-Version").Single());
        Assert.Equal("validation_failed", response.Headers.GetValues("x-sb-error-code").Single());
    }

    [Theory]
    [InlineData("2023-12-31")]
    [InlineData("not-a-date")]
    [InlineData("")]
    public async Task Error_ApiVersionBefore2024OrUnparseable_GetsLegacyShape(string version)
    {
        using var client = server.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("X-Supabase-Api-Version", version);

        var response = await client.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail() });

        Assert.Equal(400, (int)response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(400, (int?)body["code"]);
        Assert.Equal("validation_failed", (string?)body["error_code"]);
        Assert.Equal("Signup requires a valid password", (string?)body["msg"]);
        Assert.False(response.Headers.Contains("X-Supabase-Api-Version"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Signup_BodyOver1MiB_Returns413RequestEntityTooLarge(bool chunked)
    {
        var padding = new string('a', 1024 * 1024 + 16);
        var json = $$$"""{"email":"{{{AuthServerFixture.NewEmail()}}}","password":"correct-horse-battery","data":{"pad":"{{{padding}}}"}}""";

        await server.AssertErrorBothShapesAsync(c =>
            {
                HttpContent content = chunked
                    ? new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(json)))
                    : Json(json);
                content.Headers.ContentType = new("application/json");
                var request = new HttpRequestMessage(HttpMethod.Post, "/signup") { Content = content };
                request.Headers.TransferEncodingChunked = chunked;
                return c.SendAsync(request);
            },
            413, "request_entity_too_large", "Request body too large (max 1048576 bytes)");

        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users"));
    }

    [Theory]
    [InlineData("/token?grant_type=client_credentials")]
    [InlineData("/token")]
    [InlineData("/auth/v1/token?grant_type=authorization_code")]
    public async Task Token_UnsupportedGrantType_Returns400InvalidCredentials(string path)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync(path, new { email = "a@example.com", password = "x" }),
            400, "invalid_credentials", "unsupported_grant_type");
    }

    [Theory]
    [InlineData("nul\u0000byte@example.com")]
    [InlineData("lone\ud800surrogate@example.com")]
    public async Task Signup_ControlCharacterInEmail_Returns400NotServerError(string email)
    {
        using var client = server.CreateClient();

        var response = await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" });

        Assert.Equal(400, (int)response.StatusCode);
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.users"));
    }
}
