using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Web;
using AuthServer.Config;
using AuthServer.Features.CustomProviders;
using AuthServer.Features.External.Providers;
using AuthServer.Features.Identity;
using AuthServer.Http;
using AuthServer.Security;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace AuthServer.Features.External;

/// The provider side of the code flow: the authorize URL, and code → tokens → user (GoTrue
/// `GetOAuthToken` + `GetUserData`). Discovery-driven OIDC providers read their endpoints from the
/// issuer; table providers (Providers/ProviderCatalog) from their row.
internal static partial class OAuthExchange
{
    /// The provider's authorize URL with our parameters; <paramref name="extra"/> are the forwarded ones.
    public static async Task<string> AuthorizeUrlAsync(IdTokens idTokens, OidcProviderOptions provider, string state,
        string verifier, string requestedScopes, IEnumerable<KeyValuePair<string, string>> extra, CancellationToken ct)
    {
        List<string> scopes;
        string authorizeEndpoint;
        var pkce = true;
        if (provider.IsCustom)
        {
            authorizeEndpoint = provider.Spec?.Urls(null).Authorize ?? (await ConfigurationAsync(idTokens, provider, ct)).AuthorizationEndpoint;
            // GoTrue loadCustomProvider: a `scopes` query (space-separated) replaces the stored scopes; OIDC always has openid.
            var requested = requestedScopes.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            scopes = requested.Length > 0 ? [.. requested] : [.. provider.Scopes ?? []];
            if (provider.Spec is null && !scopes.Contains("openid")) scopes.Insert(0, "openid");
            pkce = provider.Pkce;
        }
        else if (provider.Spec is { } spec)
        {
            authorizeEndpoint = spec.Urls(provider.Url).Authorize;
            scopes = [.. provider.Scopes ?? spec.DefaultScopes];
            // GoTrue appends the `scopes` query split on commas, for the providers that take any.
            if (spec.AcceptsExtraScopes && requestedScopes.Length > 0) scopes.AddRange(requestedScopes.Split(','));
            pkce = spec.RequiresPkce;
        }
        else
        {
            authorizeEndpoint = (await ConfigurationAsync(idTokens, provider, ct)).AuthorizationEndpoint;
            // Apple knows only `name` and `email`, and then answers by form_post (GoTrue provider/apple.go).
            scopes = provider.Scopes is { } stored ? [.. stored]
                : provider.Name == "apple" ? ["name", "email"] : ["openid", "email", "profile"];
            foreach (var scope in requestedScopes.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
                if (!scopes.Contains(scope)) scopes.Add(scope);
            pkce = provider.Pkce;
        }
        var parameters = new List<KeyValuePair<string, string>>
        {
            new("client_id", provider.ClientIds[0]),
            new("redirect_uri", provider.RedirectUri),
            new("response_type", "code"),
            new("state", state),
        };
        if (scopes.Count > 0) parameters.Add(new("scope", string.Join(' ', scopes)));
        if (pkce)
        {
            parameters.Add(new("code_challenge", Base64Url.Encode(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes(verifier)))));
            parameters.Add(new("code_challenge_method", "S256"));
        }
        if (provider.Name == "apple") parameters.Add(new("response_mode", "form_post"));
        foreach (var (key, value) in provider.AuthorizationParams) parameters.Add(new(key, value));
        // A custom provider's authorization_params are set after the forwarded query, so they win (Go `url.Values.Set`).
        parameters.AddRange(extra.Where(kv => !provider.AuthorizationParams.ContainsKey(kv.Key)));
        return RedirectUrls.WithQuery(authorizeEndpoint, parameters);
    }

    /// Code → tokens at the provider's token endpoint, then the user.
    public static async Task<(ExternalUser User, string? AccessToken, string? RefreshToken)> ExchangeAsync(IdTokens idTokens,
        OidcProviderOptions provider, string code, string? verifier, DateTimeOffset now, CancellationToken ct)
    {
        var spec = provider.Spec;
        var urls = spec?.Urls(provider.Url);
        var tokenEndpoint = urls?.Token ?? (await ConfigurationAsync(idTokens, provider, ct)).TokenEndpoint;
        var usesPkce = spec?.RequiresPkce ?? provider.Pkce;
        // Custom providers leave Go oauth2's AuthStyle unset: it probes HTTP Basic, then the form.
        var tokens = await TokenRequestAsync(idTokens.Http, provider, tokenEndpoint, code, usesPkce ? verifier : null,
            provider.IsCustom ? TokenAuth.AutoDetect : spec?.Auth ?? TokenAuth.Params, ct);
        var accessToken = ProviderCall.Str(tokens, "access_token");
        var refreshToken = ProviderCall.Str(tokens, "refresh_token");
        if (provider.IsCustom)
            return (await CustomUserAsync(idTokens, provider, urls, tokens, now, ct), accessToken, refreshToken);

        if (spec is not null && !ProviderCatalog.IdTokenIssuers.ContainsKey(spec.Name))
        {
            try
            {
                var call = new ProviderCall(idTokens.Http, urls!, tokens, provider.ClientIds[0], provider.Secret, ct);
                return ((await spec.FetchUser(call)).ToExternalUser(), accessToken, refreshToken);
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException
                or InvalidOperationException or FormatException or UriFormatException)
            {
                throw ApiError.Internal("Error getting user email from external provider", e);
            }
        }

        JsonElement claims;
        if (ProviderCall.Str(tokens, "id_token") is { } idToken)
        {
            try
            {
                var verified = await idTokens.VerifyAsync(idToken, AcceptedIssuers(provider, idToken), now, accessToken, ct);
                if (!verified.Audiences.Contains(provider.ClientIds[0]))
                    throw new IdTokenInvalidException("audience");
                claims = verified.Claims;
            }
            catch (Exception e) when (e is IdTokenInvalidException or IdTokenIssuerException)
            {
                throw ApiError.Internal("Error getting user profile from external provider", e);
            }
        }
        else if (spec is not null)
            // GoTrue's Azure, LinkedIn OIDC and Vercel providers read nothing but the ID token.
            throw ApiError.Internal("Error getting user email from external provider");
        else
        {
            try
            {
                var userInfo = (await ConfigurationAsync(idTokens, provider, ct)).UserInfoEndpoint;
                var call = new ProviderCall(idTokens.Http, new ProviderUrls("", tokenEndpoint, userInfo), tokens,
                    provider.ClientIds[0], provider.Secret, ct);
                claims = await call.GetJsonAsync(userInfo);
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException or InvalidOperationException)
            {
                throw ApiError.Internal("Error getting user profile from external provider", e);
            }
        }
        return (ExternalUser.FromClaims(claims, provider), accessToken, refreshToken);
    }

    /// GoTrue `CustomOAuthProvider.GetUserData` / `CustomOIDCProvider.GetUserData`: OAuth2 reads its userinfo URL;
    /// OIDC verifies the ID token when the token response has one (audience: client_id or an acceptable_client_ids
    /// entry), else reads the discovered userinfo endpoint. attribute_mapping applies to either.
    static async Task<ExternalUser> CustomUserAsync(IdTokens idTokens, OidcProviderOptions provider, ProviderUrls? urls,
        JsonElement tokens, DateTimeOffset now, CancellationToken ct)
    {
        try
        {
            if (urls is null && ProviderCall.Str(tokens, "id_token") is { } idToken)
            {
                // at_hash is not checked in the callback flow (GoTrue `SkipAccessTokenCheck`).
                var verified = await idTokens.VerifyAsync(idToken, provider.AcceptedIssuers, now, null, ct);
                if (!verified.Audiences.Any(provider.ClientIds.Contains))
                    throw new IdTokenInvalidException("token audience does not match any acceptable client ID");
                return CustomProviderClaims.FromIdToken(verified.Claims, provider.AttributeMapping).ToExternalUser();
            }
            var userInfo = urls?.Api ?? (await ConfigurationAsync(idTokens, provider, ct)).UserInfoEndpoint;
            if (string.IsNullOrEmpty(userInfo)) throw new InvalidOperationException("no ID token or userinfo endpoint available");
            var call = new ProviderCall(idTokens.Http, new ProviderUrls("", "", userInfo), tokens, provider.ClientIds[0], provider.Secret, ct);
            return CustomProviderClaims.FromUserInfo(await call.GetJsonAsync(userInfo), provider.AttributeMapping).ToExternalUser();
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException or InvalidOperationException
            or UriFormatException or IdTokenInvalidException or IdTokenIssuerException)
        {
            throw ApiError.Internal("Error getting user profile from external provider", e);
        }
    }

    /// RFC 6749 §4.1.3; the answer may be JSON or, as GitHub's, form-encoded (Go oauth2 reads both).
    static async Task<JsonElement> TokenRequestAsync(HttpClient http, OidcProviderOptions provider, string tokenEndpoint,
        string code, string? verifier, TokenAuth auth, CancellationToken ct)
    {
        if (auth == TokenAuth.AutoDetect)
        {
            try
            {
                return await TokenRequestAsync(http, provider, tokenEndpoint, code, verifier, TokenAuth.Header, ct);
            }
            catch (ApiError)
            {
                return await TokenRequestAsync(http, provider, tokenEndpoint, code, verifier, TokenAuth.Params, ct);
            }
        }
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = provider.RedirectUri,
        };
        if (!string.IsNullOrEmpty(verifier)) form["code_verifier"] = verifier;
        using var request = new HttpRequestMessage(HttpMethod.Post, tokenEndpoint);
        if (auth == TokenAuth.Header)
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
                Uri.EscapeDataString(provider.ClientIds[0]) + ":" + Uri.EscapeDataString(provider.Secret))));
        else
        {
            form["client_id"] = provider.ClientIds[0];
            form["client_secret"] = provider.Secret;
        }
        request.Content = new FormUrlEncodedContent(form);
        try
        {
            using var response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode) throw new HttpRequestException($"token endpoint answered {(int)response.StatusCode}");
            var body = await response.Content.ReadAsStringAsync(ct);
            JsonElement tokens;
            if (response.Content.Headers.ContentType?.MediaType is "application/x-www-form-urlencoded" or "text/plain")
            {
                var values = HttpUtility.ParseQueryString(body);
                var o = new JsonObject();
                foreach (var key in values.AllKeys.OfType<string>()) o[key] = values[key];
                tokens = JsonSerializer.SerializeToElement(o);
            }
            else tokens = JsonDocument.Parse(body).RootElement.Clone();
            if (string.IsNullOrEmpty(ProviderCall.Str(tokens, "access_token")))
                throw new HttpRequestException("server response missing access_token");
            return tokens;
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException
            or InvalidOperationException or UriFormatException)
        {
            throw ApiError.Internal("Unable to exchange external code", e);
        }
    }

    /// The configured issuers; GoTrue's Azure (no `_ISSUER` of ours) takes any tenant's issuer, or only the
    /// tenant's own when `GOTRUE_EXTERNAL_AZURE_URL` names one (provider/azure.go `ExpectedIssuer`).
    static IReadOnlyList<string> AcceptedIssuers(OidcProviderOptions provider, string idToken)
    {
        if (provider.Name != "azure" || provider.Issuer != ProviderCatalog.IdTokenIssuers["azure"]) return provider.AcceptedIssuers;
        string iss;
        try { iss = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(idToken).Issuer; }
        catch (ArgumentException) { return []; }
        if (!AzureIssuer().IsMatch(iss)) return [];
        var expected = provider.Url is { } url ? url.TrimEnd('/') + "/v2.0" : null;
        if (expected is not null && AzureIssuer().IsMatch(expected) && !expected.Contains("/common/") && !expected.Contains("/organizations/"))
            return iss == expected ? [iss] : [];
        return [iss];
    }

    [GeneratedRegex("^https://login[.]microsoftonline[.]com/([^/]+)/v2[.]0/?$")]
    private static partial Regex AzureIssuer();

    static async Task<OpenIdConnectConfiguration> ConfigurationAsync(IdTokens idTokens, OidcProviderOptions provider,
        CancellationToken ct)
    {
        try
        {
            return await idTokens.GetConfigurationAsync(provider.Issuer, ct);
        }
        catch (IssuerUnavailableException e)
        {
            throw new ApiError(503, ErrorCode.UnexpectedFailure, "Unable to reach the identity provider, please retry", e);
        }
    }
}
