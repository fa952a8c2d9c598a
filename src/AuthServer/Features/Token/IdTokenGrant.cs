using AuthServer.Data;
using System.Text.Json;
using System.Text.RegularExpressions;
using AuthServer.Features.CustomProviders;
using AuthServer.Features.External.Providers;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using System.Security.Cryptography;
using System.Text;
using AuthServer.Config;
using AuthServer.Features.Identity;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.Token;

/// `grant_type=id_token` (api.md §3, GoTrue `internal/api/token_oidc.go`): the ID tokens of Apple, Google,
/// Azure (any tenant), Facebook Limited Login, Keycloak, Kakao, Vercel Marketplace, Snapchat, admin-defined
/// OIDC providers (`custom:<identifier>`), ours by `GOTRUE_EXTERNAL_<P>_ISSUER`, and the deprecated
/// `issuer` + `client_id` form. Most failures use GoTrue's OAuth error shape with `"invalid request"`
/// (space included) — errors.md §1.4.
internal static partial class IdTokenGrant
{
    internal sealed record IdTokenRequest(string? IdToken, string? AccessToken, string? Nonce, string? Provider,
        string? ClientId, string? Issuer, bool? LinkIdentity);

    /// The provider's configuration, the `iss` values its token may carry (keys come from that issuer), and the
    /// accepted audiences.
    sealed record ResolvedProvider(string Type, OidcProviderOptions Options, IReadOnlyList<string> Issuers,
        IReadOnlyList<string> Audiences, bool SkipNonceCheck);

    /// GoTrue's fixed issuers (`provider.IssuerFacebook`, `IssuerKakao`, `IssuerVercelMarketplace`,
    /// `IssuerSnapchat`) of table providers; `GOTRUE_EXTERNAL_<P>_ISSUER` (ours) replaces one.
    static readonly Dictionary<string, string> FixedIssuers = new()
    {
        ["facebook"] = "https://www.facebook.com",
        ["kakao"] = "https://kauth.kakao.com",
        ["vercel_marketplace"] = "https://marketplace.vercel.com",
        ["snapchat"] = ProviderMappings.SnapchatIssuer,
    };

    public static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var external = services.GetRequiredService<ExternalOptions>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        var body = await BodyReader.ReadAsync<IdTokenRequest>(http.Request, ct);

        if (string.IsNullOrEmpty(body.IdToken))
            throw new OAuthError("invalid request", "id_token required");
        if (string.IsNullOrEmpty(body.Provider) && (string.IsNullOrEmpty(body.ClientId) || string.IsNullOrEmpty(body.Issuer)))
            throw new OAuthError("invalid request", "provider or client_id and issuer required");

        AuthUser? linkTarget = null;
        if (body.LinkIdentity == true)
        {
            if (!external.ManualLinkingEnabled)
                throw ApiError.NotFound(ErrorCode.ManualLinkingDisabled, "Manual linking is disabled");
            if (string.IsNullOrEmpty(http.Request.Headers.Authorization.ToString()))
                throw new OAuthError("invalid request", "Linking requires a valid user access token in Authorization");
            linkTarget = await AuthUser.BindAsync(http);
        }

        var provider = await ResolveAsync(body, external, services, ct);
        VerifiedIdToken token;
        try
        {
            token = await services.GetRequiredService<IdTokens>().VerifyAsync(body.IdToken,
                provider.Issuers, now, body.AccessToken, ct);
        }
        catch (Exception e) when (e is IdTokenInvalidException or IdTokenIssuerException)
        {
            throw new OAuthError("invalid request", "Bad ID token");
        }
        catch (IssuerUnavailableException e)
        {
            throw new ApiError(503, ErrorCode.UnexpectedFailure,
                "Unable to reach the identity provider, please retry", e);
        }

        var data = ExternalUser.FromClaims(token.Claims, provider.Options);
        if (string.IsNullOrEmpty(token.Str("sub")))
            throw new OAuthError("invalid request", "Missing sub claim in id_token");
        var audiences = token.Audiences;
        var azp = token.Str("azp");
        // OIDC Core §3.1.3.7: with several audiences, the authorized party must be one of ours too (beyond GoTrue).
        if (!audiences.Any(provider.Audiences.Contains) ||
            (audiences.Count > 1 && azp is not null && !provider.Audiences.Contains(azp)))
            throw new OAuthError("invalid request", $"Unacceptable audience in id_token: [{string.Join(" ", audiences)}]");

        if (!provider.SkipNonceCheck)
        {
            var tokenNonce = token.Str("nonce") ?? "";
            var requestNonce = body.Nonce ?? "";
            if (tokenNonce.Length > 0 != requestNonce.Length > 0)
                throw new OAuthError("invalid request", "Passed nonce and nonce in id_token should either both exist or not.");
            // The app sends the raw nonce, the provider signed its lower-case hex SHA-256.
            if (tokenNonce.Length > 0 && !Secrets.FixedTimeEquals(
                    Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(requestNonce))), tokenNonce))
                throw new OAuthError("invalid nonce", "Nonces mismatch");
        }

        var db = services.GetRequiredService<NpgsqlDataSource>();
        var sessions = services.GetRequiredService<SessionIssuer>();
        var mailer = services.GetRequiredService<Mailer>();
        var ip = ClientInfo.Ip(http);
        var utcNow = now.UtcDateTime;
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        try
        {
            var expiresAt = DateTimeOffset.FromUnixTimeSeconds((long)token.Claims.GetProperty("exp").GetDouble()).UtcDateTime;
            if (!await SingleUse.TryUseAsync(conn, SingleUse.IdToken, body.IdToken, expiresAt, utcNow, ct))
                throw new OAuthError("invalid request", "Bad ID token"); // replayed (beyond GoTrue)
            Guid userId;
            if (linkTarget is not null)
            {
                await ExternalAccounts.LinkToUserAsync(conn, linkTarget.User, data, provider.Type, ip, mailer,
                    services.GetRequiredService<Notifications>(), mailer.Links(http), utcNow, ct);
                userId = linkTarget.User.Id;
            }
            else
            {
                var aud = SignupEndpoints.RequestAudience(http, services.GetRequiredService<JwtOptions>());
                (userId, _) = await ExternalAccounts.ResolveAsync(conn, data, provider.Type, aud,
                    services.GetRequiredService<AuthOptions>(), services.GetRequiredService<JwtOptions>(), external,
                    ip, mailer, mailer.Links(http), utcNow, ct,
                    hasEmails: !provider.Options.EmailOptional || data.Emails.Any(e => e.Primary));
            }
            var session = await sessions.StartAsync(conn, userId, "oauth", http, utcNow, ct, provider: provider.Type);
            await tx.CommitAsync(ct);
            return Results.Json(session, Json.Options);
        }
        catch (CommitThenThrow e)
        {
            await tx.CommitAsync(ct);
            mailer.Outbox.Notify();
            throw e.Error;
        }
        catch (Exception e) when (e is not (ApiError or OAuthError or OperationCanceledException)
                                  && e is not NpgsqlException { IsTransient: true })
        {
            services.GetRequiredService<ILogger<IdTokenRequest>>().LogError(e, "id_token grant failed");
            throw new OAuthError("server_error", "Internal Server Error");
        }
    }

    /// GoTrue `IdTokenGrantParams.getProvider`: the provider name, or a known issuer, picks the configuration,
    /// in GoTrue's order; an issuer of an unknown provider must be on the allow-list. Keys always come from a
    /// configured issuer (or, for Apple and Azure, one GoTrue's issuer rules accept), never from the request.
    static async Task<ResolvedProvider> ResolveAsync(IdTokenRequest body, ExternalOptions external, IServiceProvider services,
        CancellationToken ct)
    {
        var name = body.Provider?.Trim().ToLowerInvariant() ?? "";
        var issuer = body.Issuer ?? "";
        bool Is(string provider) => name == provider ||
            (issuer.Length > 0 && external.Find(provider) is { } p && Issuers(p).Contains(issuer.TrimEnd('/')));

        if (Is("apple"))
            return Detected(external.Find("apple")!, body, "Apple", iss => Issuers(external.Find("apple")!).Contains(iss));
        if (Is("google")) return Fixed(external.Find("google")!);
        if (name == "azure" || AzureIssuer().IsMatch(issuer) || Is("azure"))
        {
            var azure = external.Find("azure")!;
            // GoTrue accepts any tenant's issuer (v2 or v1); ours `GOTRUE_EXTERNAL_AZURE_ISSUER` pins one.
            return Detected(azure, body, "Azure", iss => IsOverridden(azure) ? Issuers(azure).Contains(iss)
                : iss.StartsWith("https://login.microsoftonline.com/", StringComparison.Ordinal) ||
                  iss.StartsWith("https://sts.windows.net/", StringComparison.Ordinal));
        }
        if (Is("facebook")) return Fixed(external.Find("facebook")!, skipNonceCheck: true); // Limited Login has no nonce hash
        if (name == "keycloak" || (external.Find("keycloak") is { Enabled: true } && Is("keycloak")))
            return external.Find("keycloak") is { } keycloak ? Fixed(keycloak)
                : throw ApiError.BadRequest(ErrorCode.ProviderDisabled, "Provider (issuer \"\") is not enabled");
        foreach (var fixedName in new[] { "kakao", "vercel_marketplace", "snapchat" })
            if (Is(fixedName)) return Fixed(external.Find(fixedName)!);
        if (body.Provider?.Trim() is { } identifier && identifier.StartsWith("custom:", StringComparison.Ordinal))
            return await CustomAsync(identifier, services, ct);

        // Ours: any other OIDC provider configured by `GOTRUE_EXTERNAL_<P>_ISSUER`, by name or issuer.
        var configured = external.Find(name) is { Spec: null } byName ? byName
            : name.Length == 0 && issuer.Length > 0
                ? external.Providers.Values.FirstOrDefault(p => p.Spec is null && p.AcceptedIssuers.Contains(issuer.TrimEnd('/')))
                : null;
        if (configured is not null) return Fixed(configured);

        // Deprecated `issuer` + `client_id` form, only for issuers on GOTRUE_EXTERNAL_ALLOWED_ID_TOKEN_ISSUERS.
        if (issuer.Length > 0 && external.AllowedIdTokenIssuers.Contains(issuer) &&
            Uri.TryCreate(issuer, UriKind.Absolute, out var uri) && (uri.Scheme == "https" || uri.IsLoopback))
        {
            var adHoc = new OidcProviderOptions
            {
                Name = issuer,
                Enabled = true,
                Issuer = issuer,
                AcceptedIssuers = [issuer],
                ClientIds = [body.ClientId ?? ""],
            };
            return new ResolvedProvider(issuer, adHoc, [issuer], adHoc.Audiences.ToList(), false);
        }
        throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Custom OIDC provider \"{body.Provider ?? ""}\" not allowed");
    }

    /// A provider with its configured issuer(s).
    static ResolvedProvider Fixed(OidcProviderOptions options, bool skipNonceCheck = false)
    {
        var issuers = Issuers(options);
        Enabled(options, issuers.FirstOrDefault() ?? "");
        return new ResolvedProvider(options.Name, options, issuers, options.Audiences.ToList(),
            skipNonceCheck || options.SkipNonceCheck);
    }

    /// Apple and Azure: the issuer is read from the token first (GoTrue `DetectAppleIDTokenIssuer`,
    /// `DetectAzureIDTokenIssuer`), must be one of the provider's, and must match a given `issuer`.
    static ResolvedProvider Detected(OidcProviderOptions options, IdTokenRequest body, string label, Func<string, bool> accepts)
    {
        var detected = UnverifiedIssuer(body.IdToken!)
            ?? throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Unable to detect issuer in ID token for {label} provider");
        if (!accepts(detected))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Detected ID token issuer is not an {label} ID token issuer");
        if (!string.IsNullOrEmpty(body.Issuer) && body.Issuer != detected)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Provided issuer does not match ID token issuer");
        Enabled(options, detected);
        return new ResolvedProvider(options.Name, options, [detected], options.Audiences.ToList(), options.SkipNonceCheck);
    }

    /// `custom:<identifier>`: an admin-defined OIDC provider (GoTrue `FindCustomOAuthProviderByIdentifier`).
    static async Task<ResolvedProvider> CustomAsync(string identifier, IServiceProvider services, CancellationToken ct)
    {
        if (!services.GetRequiredService<CustomOAuthOptions>().Enabled)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Custom OAuth providers are disabled");
        CustomProviderRow? row;
        await using (var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct))
            row = await CustomProviderQueries.FindAsync(conn, identifier, forUpdate: false, ct);
        if (row is null) throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Custom provider \"{identifier}\" not found");
        if (!row.Enabled) throw ApiError.BadRequest(ErrorCode.ProviderDisabled, $"Custom provider \"{identifier}\" is disabled");
        if (row.ProviderType != "oidc")
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Provider \"{identifier}\" is not an OIDC provider");
        if (string.IsNullOrEmpty(row.Issuer))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"OIDC provider \"{identifier}\" missing issuer");
        var issuer = row.Issuer.TrimEnd('/');
        var options = new OidcProviderOptions
        {
            Name = row.Identifier,
            Enabled = true,
            ClientIds = [row.ClientId, .. row.AcceptableClientIds],
            SkipNonceCheck = row.SkipNonceCheck,
            EmailOptional = row.EmailOptional,
            Issuer = issuer,
            AcceptedIssuers = [issuer],
        };
        return new ResolvedProvider(row.Identifier, options, [issuer], options.Audiences.ToList(), row.SkipNonceCheck);
    }

    static void Enabled(OidcProviderOptions options, string issuer)
    {
        if (!options.Enabled)
            throw ApiError.BadRequest(ErrorCode.ProviderDisabled, $"Provider (issuer \"{issuer}\") is not enabled");
    }

    /// The issuers a provider's tokens may carry: ours `GOTRUE_EXTERNAL_<P>_ISSUER` when set, else GoTrue's.
    static IReadOnlyList<string> Issuers(OidcProviderOptions options) =>
        FixedIssuers.TryGetValue(options.Name, out var builtIn) && !IsOverridden(options) ? [builtIn] : options.AcceptedIssuers;

    /// Table providers carry no issuer (Facebook, Kakao, Snapchat) or the catalog's (Azure, Vercel) unless overridden.
    static bool IsOverridden(OidcProviderOptions options) =>
        options.Issuer.Length > 0 && options.Issuer != ProviderCatalog.IdTokenIssuers.GetValueOrDefault(options.Name);

    /// The token's `iss` before any verification, only to pick the issuer whose keys verify it; null when the
    /// token is not a three-part JWT with a readable payload.
    static string? UnverifiedIssuer(string idToken)
    {
        if (idToken.Split('.').Length != 3) return null;
        try
        {
            return new JsonWebToken(idToken).Issuer;
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException or JsonException or FormatException)
        {
            return null;
        }
    }

    // GoTrue `provider.IsAzureIssuer`.
    [GeneratedRegex("^https://login[.]microsoftonline[.]com/([^/]+)/v2[.]0/?$")]
    private static partial Regex AzureIssuer();
}
