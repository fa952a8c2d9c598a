using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AuthServer.Tests.Infrastructure;

public static partial class ApiAssert
{
    /// <summary>A redirect (302) whose Location fragment carries the result of an OAuth/OTP flow, decoded.</summary>
    public static Dictionary<string, string> RedirectFragment(HttpResponseMessage response)
    {
        Assert.Equal(System.Net.HttpStatusCode.Found, response.StatusCode);
        return Fragment(response.Headers.Location!);
    }

    /// <summary>The `#a=b&amp;c=d` part of a redirect target, decoded.</summary>
    public static Dictionary<string, string> Fragment(Uri location) =>
        location.Fragment.TrimStart('#').Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => System.Web.HttpUtility.UrlDecode(p.Length > 1 ? p[1] : ""));

    /// <summary>
    /// Checks a GoTrue error (errors.md §1.2) in the shape the request asked for: with
    /// X-Supabase-Api-Version ≥ 2024-01-01 `{code, message}` and the header echoed, otherwise the legacy
    /// `{code: status, error_code, msg}` without it; `x-sb-error-code` in both.
    /// </summary>
    public static async Task<JsonObject> ErrorAsync(HttpResponseMessage response, int status, string errorCode,
        string? message = null, string? messagePrefix = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        var what = $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery} → {(int)response.StatusCode} {text}";
        Assert.True(status == (int)response.StatusCode, $"expected {status} {errorCode}: {what}");
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType ?? "");
        var body = JsonNode.Parse(text)!.AsObject();

        var v2024 = response.RequestMessage!.Headers.TryGetValues("X-Supabase-Api-Version", out var requested)
            && string.CompareOrdinal(requested.Single(), AuthServerFixture.ApiVersion2024) >= 0;
        string? actualMessage;
        if (v2024)
        {
            Assert.Equal(errorCode, (string?)body["code"]);
            Assert.False(body.ContainsKey("msg"), what);
            Assert.False(body.ContainsKey("error_code"), what);
            actualMessage = (string?)body["message"];
            Assert.True(response.Headers.TryGetValues("X-Supabase-Api-Version", out var echoed), $"version header not echoed: {what}");
            Assert.Equal(AuthServerFixture.ApiVersion2024, echoed.Single());
        }
        else
        {
            Assert.Equal(status, (int?)body["code"]);
            Assert.Equal(errorCode, (string?)body["error_code"]);
            Assert.False(body.ContainsKey("message"), what);
            actualMessage = (string?)body["msg"];
            Assert.False(response.Headers.Contains("X-Supabase-Api-Version"), $"version header echoed to a legacy client: {what}");
        }

        // errors.md §1.3: GoTrue's 2024 weak_password path omits the header; setting it is harmless.
        if (response.Headers.TryGetValues("x-sb-error-code", out var header))
            Assert.Equal(errorCode, header.Single());
        else
            Assert.True(v2024 && errorCode == "weak_password", $"x-sb-error-code missing: {what}");

        if (message is not null)
            Assert.Equal(message, actualMessage);
        if (messagePrefix is not null)
            Assert.StartsWith(messagePrefix, actualMessage ?? "");
        if (status < 500)
            Assert.False(body.ContainsKey("error_id"), $"error_id is only for 5xx: {what}");
        else if (!v2024)
            Assert.False(string.IsNullOrEmpty((string?)body["error_id"]), $"error_id missing on a legacy 5xx: {what}");
        return body;
    }

    /// <summary>A session response (api.md §1.4) with a v1 refresh token; returns it.</summary>
    public static JsonObject Session(JsonObject session, TimeProvider clock)
    {
        Assert.Equal("bearer", (string?)session["token_type"]);
        Assert.Matches(RefreshTokenV1(), (string?)session["refresh_token"] ?? "");
        var expiresIn = (long)session["expires_in"]!;
        var expiresAt = (long)session["expires_at"]!;
        Assert.InRange(expiresIn, 3590, 3600);
        Assert.InRange(expiresAt - clock.GetUtcNow().ToUnixTimeSeconds(), 3590, 3601);
        var claims = Jwt.Payload((string)session["access_token"]!);
        Assert.Equal(expiresAt, (long)claims["exp"]!);
        Assert.True(Jwt.HasValidHs256Signature((string)session["access_token"]!, AuthServerFixture.JwtSecret));
        Assert.IsType<JsonObject>(session["user"]);
        return session;
    }

    public static void JsonEqual(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {expected}\n     got {actual?.ToJsonString()}");

    public static async Task NoContentAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.NoContent, $"expected 204, got {(int)response.StatusCode} {body}");
        Assert.Equal("", body);
    }

    /// <summary>jwt.md §5.1: 12 characters of lower-case base32.</summary>
    [GeneratedRegex("^[a-z2-7]{12}$")]
    public static partial Regex RefreshTokenV1();
}
