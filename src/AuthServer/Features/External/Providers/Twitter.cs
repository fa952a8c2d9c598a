using System.Text.Json;
using System.Web;
using AuthServer.Config;
using AuthServer.Features.Identity;
using AuthServer.Http;
using AuthServer.Security;

namespace AuthServer.Features.External.Providers;

/// Twitter's OAuth 1.0a sign-in (GoTrue provider/twitter.go with mrjones/oauth): a request token whose
/// callback carries our state, the user sent to `/oauth/authenticate`, then the verifier traded for an
/// access token and `verify_credentials` read with it. GoTrue keeps the request token in a session
/// cookie; we keep it in the flow's server-side row.
internal static class Twitter
{
    public static async Task<(string AuthorizeUrl, string Stored)> StartAsync(HttpClient http, OidcProviderOptions provider,
        string state, TimeProvider clock, CancellationToken ct)
    {
        var urls = provider.Spec!.Urls(provider.Url);
        var endpoint = new Uri(urls.Api + "/oauth/request_token");
        var answer = await SignedAsync(http, HttpMethod.Post, endpoint, [], provider, null, null,
            [new("oauth_callback", provider.RedirectUri + "?state=" + state)], clock.GetUtcNow(), ct)
            ?? throw ApiError.Internal("Error getting request token from Twitter");
        var token = answer["oauth_token"] ?? "";
        var secret = answer["oauth_token_secret"] ?? "";
        if (token.Length == 0) throw ApiError.Internal("Error getting request token from Twitter");
        return (RedirectUrls.WithQuery(urls.Authorize, [new("oauth_token", token)]),
            JsonSerializer.Serialize(new[] { token, secret }));
    }

    public static async Task<(ExternalUser User, string AccessToken)> CompleteAsync(HttpClient http, OidcProviderOptions provider,
        string stored, string oauthToken, string verifier, DateTimeOffset now, CancellationToken ct)
    {
        var request = JsonSerializer.Deserialize<string[]>(stored.Length > 0 ? stored : "[]") ?? [];
        if (request.Length != 2 || !Secrets.FixedTimeEquals(request[0], oauthToken))
            throw ApiError.Internal("Request token doesn't match token in callback");
        var urls = provider.Spec!.Urls(provider.Url);
        var access = await SignedAsync(http, HttpMethod.Post, new Uri(urls.Token), [], provider, request[0], request[1],
            [new("oauth_verifier", verifier)], now, ct);
        var accessToken = access?["oauth_token"];
        var accessSecret = access?["oauth_token_secret"];
        if (string.IsNullOrEmpty(accessToken)) throw ApiError.Internal("Unable to retrieve access token");

        var userInfoUrl = urls.Api + "/1.1/account/verify_credentials.json";
        JsonElement u;
        try
        {
            var query = new KeyValuePair<string, string>[] { new("include_entities", "false"), new("skip_status", "true"), new("include_email", "true") };
            var url = new Uri(RedirectUrls.WithQuery(userInfoUrl, query));
            using var message = new HttpRequestMessage(HttpMethod.Get, url);
            message.Headers.TryAddWithoutValidation("Authorization", OAuth1.Header("GET", url, query, provider.ClientIds[0],
                provider.Secret, accessToken, accessSecret, [], Secrets.NewToken(), now.ToUnixTimeSeconds()));
            using var response = await http.SendAsync(message, ct);
            if (!response.IsSuccessStatusCode) throw new HttpRequestException($"verify_credentials answered {(int)response.StatusCode}");
            u = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.Clone();
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException)
        {
            throw ApiError.Internal("Error getting user email from external provider", e);
        }
        var id = ProviderCall.Str(u, "id_str");
        var user = ProviderUser.Of(
            [
                new("iss", userInfoUrl), new("sub", id), new("name", ProviderCall.Str(u, "name")),
                new("picture", ProviderCall.Str(u, "profile_image_url_https")),
                new("preferred_username", ProviderCall.Str(u, "screen_name")), new("user_name", ProviderCall.Str(u, "screen_name")),
                new("full_name", ProviderCall.Str(u, "name")), new("avatar_url", ProviderCall.Str(u, "profile_image_url_https")),
                new("provider_id", id),
            ],
            ProviderUser.Single(ProviderCall.Str(u, "email"), true));
        return (user.ToExternalUser(), accessToken);
    }

    /// A signed POST answered form-encoded (RFC 5849 §2); null when the provider refuses.
    static async Task<System.Collections.Specialized.NameValueCollection?> SignedAsync(HttpClient http, HttpMethod method,
        Uri url, KeyValuePair<string, string>[] parameters, OidcProviderOptions provider, string? token, string? tokenSecret,
        KeyValuePair<string, string>[] protocol, DateTimeOffset now, CancellationToken ct)
    {
        try
        {
            using var message = new HttpRequestMessage(method, url);
            message.Headers.TryAddWithoutValidation("Authorization", OAuth1.Header(method.Method, url, parameters,
                provider.ClientIds[0], provider.Secret, token, tokenSecret, protocol, Secrets.NewToken(), now.ToUnixTimeSeconds()));
            using var response = await http.SendAsync(message, ct);
            return response.IsSuccessStatusCode ? HttpUtility.ParseQueryString(await response.Content.ReadAsStringAsync(ct)) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException)
        {
            return null;
        }
    }
}
