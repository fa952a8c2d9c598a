using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Features.Identity;

namespace AuthServer.Features.External.Providers;

/// How a provider wants the client credentials on its token endpoint (Go `oauth2.AuthStyle`).
internal enum TokenAuth
{
    /// HTTP Basic, as Go's auto-detection tries first (`AuthStyleInHeader`).
    Header,
    /// `client_id` and `client_secret` in the form body (`AuthStyleInParams`, Kakao).
    Params,
    /// Go's `AuthStyleAutoDetect` (custom providers): HTTP Basic, and the form when that is refused.
    AutoDetect,
}

/// The provider's endpoints for one configuration (its `_URL` override or the public hosts).
internal sealed record ProviderUrls(string Authorize, string Token, string Api);

/// One social provider of GoTrue's `internal/api/provider/*.go`, as data: its endpoints (from the
/// `GOTRUE_EXTERNAL_<P>_URL` base when set), scopes, token-request style, and how its user API maps to
/// identity data. <see cref="ProviderCatalog"/> holds the table.
internal sealed record ProviderSpec(
    string Name,
    Func<string?, ProviderUrls> Urls,
    IReadOnlyList<string> DefaultScopes,
    Func<ProviderCall, Task<ProviderUser>> FetchUser,
    TokenAuth Auth = TokenAuth.Header,
    bool AcceptsExtraScopes = true,
    bool RequiresPkce = false,
    bool OAuth1 = false);

/// An email as the provider reports it (GoTrue `provider.Email`).
internal sealed record ProviderEmail(string Address, bool Verified, bool Primary);

/// What a provider said about the user (GoTrue `UserProvidedData`): the claims (`provider.Claims`, empty
/// strings dropped as `structs:",omitempty"` does) and its emails.
internal sealed record ProviderUser(JsonObject Claims, IReadOnlyList<ProviderEmail> Emails)
{
    /// Claims with empty strings and nulls left out; `custom_claims` only when it has entries.
    public static ProviderUser Of(IEnumerable<KeyValuePair<string, string?>> claims, IEnumerable<ProviderEmail>? emails = null,
        JsonObject? custom = null)
    {
        var data = new JsonObject();
        foreach (var (key, value) in claims)
            if (!string.IsNullOrEmpty(value)) data[key] = value;
        if (custom is { Count: > 0 }) data["custom_claims"] = custom;
        return new ProviderUser(data, [.. (emails ?? []).Where(e => e.Address.Length > 0)]);
    }

    /// One email, primary, when the provider gave one.
    public static IEnumerable<ProviderEmail> Single(string? email, bool verified) =>
        string.IsNullOrEmpty(email) ? [] : [new ProviderEmail(email, verified, true)];

    /// GoTrue's callback: the primary email wins, else the last one; it becomes `email` / `email_verified`
    /// of the identity data (`email_verified` and `phone_verified` are always present).
    public ExternalUser ToExternalUser()
    {
        var data = (JsonObject)Claims.DeepClone();
        var chosen = Emails.FirstOrDefault(e => e.Primary) ?? Emails.LastOrDefault();
        if (chosen is not null) data["email"] = chosen.Address;
        data["email_verified"] = chosen?.Verified == true;
        data["phone_verified"] ??= false;
        var subject = data["sub"]?.GetValue<string>() ?? "";
        return new ExternalUser(subject, chosen?.Address, chosen?.Verified == true, data) { Emails = Emails };
    }
}

/// One callback's calls to the provider's API, after the code exchange.
internal sealed class ProviderCall(HttpClient http, ProviderUrls urls, JsonElement tokens, string clientId, string secret,
    CancellationToken ct)
{
    public ProviderUrls Urls => urls;
    public JsonElement Tokens => tokens;
    public string ClientId => clientId;
    public string Secret => secret;
    public CancellationToken Cancellation => ct;
    public string AccessToken => Str(tokens, "access_token") ?? "";

    /// GET with the bearer token (Go `makeRequest`): any non-2xx answer fails the sign-in.
    public async Task<JsonElement> GetJsonAsync(string url, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
        foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{new Uri(url).AbsolutePath} answered {(int)response.StatusCode}");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.Clone();
    }

    public static string? Str(JsonElement o, params string[] path)
    {
        foreach (var key in path)
        {
            if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty(key, out o)) return null;
        }
        return o.ValueKind switch
        {
            JsonValueKind.String => o.GetString(),
            JsonValueKind.Number => o.GetRawText(),
            _ => null,
        };
    }

    public static bool Bool(JsonElement o, string key) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;

    public static JsonNode? Node(JsonElement o, string key) =>
        o.ValueKind == JsonValueKind.Object && o.TryGetProperty(key, out var v) ? JsonNode.Parse(v.GetRawText()) : null;
}
