using AuthServer.Data;
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

/// `grant_type=id_token` (api.md §3, GoTrue `internal/api/token_oidc.go`): native Sign in with Apple /
/// Google and any configured OIDC issuer. Most failures use GoTrue's OAuth error shape with
/// `"invalid request"` (space included) — errors.md §1.4.
internal static class IdTokenGrant
{
    internal sealed record IdTokenRequest(string? IdToken, string? AccessToken, string? Nonce, string? Provider,
        string? ClientId, string? Issuer, bool? LinkIdentity);

    sealed record ResolvedProvider(string Type, OidcProviderOptions Options, IReadOnlyList<string> Audiences);

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
                throw new OAuthError("invalid request", "Linking an identity requires a valid user session");
            linkTarget = await AuthUser.BindAsync(http);
        }

        var provider = Resolve(body, external);
        VerifiedIdToken token;
        try
        {
            token = await services.GetRequiredService<IdTokens>().VerifyAsync(body.IdToken,
                provider.Options.AcceptedIssuers, now, body.AccessToken, ct);
        }
        catch (IdTokenIssuerException) when (provider.Type == "apple")
        {
            // GoTrue validates Apple's `iss` against its two issuers before fetching any key.
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Unacceptable issuer in Apple id_token");
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
        if (string.IsNullOrEmpty(data.Subject))
            throw new OAuthError("invalid request", "Missing sub claim in id_token");
        var audiences = token.Audiences;
        var azp = token.Str("azp");
        // OIDC Core §3.1.3.7: with several audiences, the authorized party must be one of ours too (beyond GoTrue).
        if (!audiences.Any(provider.Audiences.Contains) ||
            (audiences.Count > 1 && azp is not null && !provider.Audiences.Contains(azp)))
            throw new OAuthError("invalid request", $"Unacceptable audience in id_token: [{string.Join(" ", audiences)}]");

        if (!provider.Options.SkipNonceCheck)
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
                    ip, mailer, mailer.Links(http), utcNow, ct);
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

    /// GoTrue `IdTokenGrantParams.getProvider`: the provider name, or a known issuer, picks the
    /// configuration; the issuer of an unknown provider must be on the allow-list. The issuer used for
    /// keys is always the configured one.
    static ResolvedProvider Resolve(IdTokenRequest body, ExternalOptions external)
    {
        var name = body.Provider?.Trim().ToLowerInvariant();
        // Plain OAuth 2.0 providers (GitHub, Discord…) have no ID tokens: unknown here, as in GoTrue's switch.
        var options = (external.Find(name) is { Spec: not null, Issuer.Length: 0 } ? null : external.Find(name))
            ?? (string.IsNullOrEmpty(name) && body.Issuer is { Length: > 0 } issuer
                ? external.Providers.Values.FirstOrDefault(p => p.AcceptedIssuers.Contains(issuer.TrimEnd('/')))
                : null);
        if (options is not null)
        {
            if (!options.Enabled)
                throw ApiError.BadRequest(ErrorCode.ProviderDisabled, $"Provider (issuer \"{options.Issuer}\") is not enabled");
            return new ResolvedProvider(options.Name, options, options.Audiences.ToList());
        }

        // Deprecated `issuer` + `client_id` form, only for issuers on GOTRUE_EXTERNAL_ALLOWED_ID_TOKEN_ISSUERS.
        if (body.Issuer is { Length: > 0 } allowed && external.AllowedIdTokenIssuers.Contains(allowed) &&
            Uri.TryCreate(allowed, UriKind.Absolute, out var uri) && (uri.Scheme == "https" || uri.IsLoopback))
        {
            var adHoc = new OidcProviderOptions
            {
                Name = allowed,
                Enabled = true,
                Issuer = allowed,
                AcceptedIssuers = [allowed],
                ClientIds = [body.ClientId ?? ""],
            };
            return new ResolvedProvider(allowed, adHoc, adHoc.Audiences.ToList());
        }
        throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Custom OIDC provider \"{body.Provider ?? ""}\" not allowed");
    }
}
