using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.External.Providers;
using AuthServer.Features.Identity;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.External;

/// The OAuth code flow with external providers: `GET /authorize` and `GET|POST /callback` (api.md §3,
/// GoTrue `internal/api/external.go`). The flow_state id is the OAuth `state`; our side of the flow
/// also uses PKCE towards the provider (RFC 7636), with the verifier kept server-side.
internal static class ExternalEndpoints
{
    public static void MapExternal(this IEndpointRouteBuilder app)
    {
        app.MapGet("/authorize", AuthorizeAsync);
        app.MapGet("/callback", CallbackAsync);
        app.MapPost("/callback", CallbackAsync);
    }

    // Parameters that are ours or the OAuth protocol's; everything else is forwarded to the provider.
    static readonly HashSet<string> NotForwarded =
    [
        "provider", "scopes", "redirect_to", "invite_token", "skip_http_redirect", "code_challenge",
        "code_challenge_method", "client_id", "client_secret", "redirect_uri", "response_type", "state", "code_verifier",
    ];

    static async Task<IResult> AuthorizeAsync(HttpContext http, CancellationToken ct) =>
        Results.Redirect(await StartAsync(http, linkingTarget: null, ct));

    /// Creates the flow_state and answers the provider's authorize URL (also for manual linking).
    internal static async Task<string> StartAsync(HttpContext http, UserRow? linkingTarget, CancellationToken ct)
    {
        var services = http.RequestServices;
        var api = services.GetRequiredService<ApiOptions>();
        var query = http.Request.Query;
        var name = query["provider"].ToString().Trim().ToLowerInvariant();
        var provider = await ExternalProviders.FindAsync(services, name, ct);
        var (challenge, method) = PkceParams(query["code_challenge"].ToString(), query["code_challenge_method"].ToString());
        var db = services.GetRequiredService<NpgsqlDataSource>();
        var inviteToken = query["invite_token"].ToString() is { Length: > 0 } invite ? invite : null;
        if (inviteToken is not null)
        {
            await using var check = await db.OpenConnectionAsync(ct);
            if (!await FlowStateQueries.InviteExistsAsync(check, inviteToken, ct))
                throw ApiError.NotFound(ErrorCode.UserNotFound, "User identified by token not found");
        }

        var state = Guid.NewGuid();
        var verifier = Secrets.NewToken();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var forwarded = query.Where(kv => !NotForwarded.Contains(kv.Key))
            .Select(kv => KeyValuePair.Create(kv.Key == "workos_provider" ? "provider" : kv.Key, kv.Value.ToString()));
        var idTokens = services.GetRequiredService<IdTokens>();
        string url;
        if (provider.Spec is { OAuth1: true })
            // Twitter's request token (and its secret) is kept server-side in the flow, where PKCE keeps its verifier.
            (url, verifier) = await Twitter.StartAsync(idTokens.Http, provider, state.ToString(), services.GetRequiredService<TimeProvider>(), ct);
        else
            url = await OAuthExchange.AuthorizeUrlAsync(idTokens, provider, state.ToString(), verifier, query["scopes"].ToString(),
                forwarded, ct);
        await using (var conn = await db.OpenConnectionAsync(ct))
            await FlowStateQueries.CreateAsync(conn, state, name, Guid.NewGuid().ToString(), challenge, method,
                Redirects.Referrer(http, api), inviteToken, linkingTarget?.Id, Guid.NewGuid(), verifier, now, ct);
        return url;
    }

    static async Task<IResult> CallbackAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var api = services.GetRequiredService<ApiOptions>();
        var external = services.GetRequiredService<ExternalOptions>();
        var db = services.GetRequiredService<NpgsqlDataSource>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(ct) : null;
        string Param(string key) => form?[key].ToString() is { Length: > 0 } v ? v : http.Request.Query[key].ToString();

        // State problems go to SITE_URL (303), with the error in the query only.
        var stateText = Param("state");
        if (stateText.Length == 0)
            return CallbackErrors.StateError(api, ApiError.BadRequest(ErrorCode.BadOAuthCallback, "OAuth state parameter missing"));
        FlowStateRow? flow = null;
        if (Guid.TryParse(stateText, out var stateId))
        {
            await using var conn = await db.OpenConnectionAsync(ct);
            flow = await FlowStateQueries.FindAsync(conn, stateId, forUpdate: false, ct);
        }
        if (flow is null || now > DateTime.SpecifyKind(flow.CreatedAt ?? DateTime.MinValue, DateTimeKind.Utc) + external.FlowStateExpiry)
            return CallbackErrors.StateError(api, ApiError.BadRequest(ErrorCode.BadOAuthState, "OAuth callback with invalid state"));
        if (flow.UserId is not null || flow.AuthCodeIssuedAt is not null)
            return CallbackErrors.StateError(api, ApiError.BadRequest(ErrorCode.FlowStateAlreadyUsed, "State has already been used"));

        var target = external.RedirectUrl ?? (string.IsNullOrEmpty(flow.Referrer) ? api.SiteUrl : flow.Referrer);
        try
        {
            return await CompleteAsync(http, flow, Param, target, now, ct);
        }
        catch (Exception e) when (e is ApiError or OAuthError or IssuerUnavailableException)
        {
            return CallbackErrors.ErrorRedirect(target, e);
        }
    }

    static async Task<IResult> CompleteAsync(HttpContext http, FlowStateRow flow, Func<string, string> param,
        string target, DateTime now, CancellationToken ct)
    {
        var services = http.RequestServices;
        var external = services.GetRequiredService<ExternalOptions>();
        var idTokens = services.GetRequiredService<IdTokens>();
        if (param("error") is { Length: > 0 } providerError)
            throw new OAuthError(providerError, param("error_description"));
        var provider = await ExternalProviders.FindAsync(services, flow.ProviderType ?? "", ct, "oauth_provider_not_supported");

        // Network first, transaction after (STYLE §4).
        ExternalUser data;
        string? providerToken, providerRefreshToken = null;
        if (provider.Spec is { OAuth1: true })
            (data, providerToken) = await Twitter.CompleteAsync(idTokens.Http, provider, flow.CodeVerifier ?? "",
                param("oauth_token"), param("oauth_verifier"), new DateTimeOffset(now, TimeSpan.Zero), ct);
        else
        {
            var code = param("code");
            if (code.Length == 0)
                throw ApiError.BadRequest(ErrorCode.BadOAuthCallback, "OAuth callback with missing authorization code missing");
            (data, providerToken, providerRefreshToken) = await OAuthExchange.ExchangeAsync(idTokens, provider, code,
                flow.CodeVerifier, new DateTimeOffset(now, TimeSpan.Zero), ct);
        }
        if (string.IsNullOrEmpty(data.Email) && !provider.EmailOptional)
            throw ApiError.Internal("Error getting user email from external provider");

        var db = services.GetRequiredService<NpgsqlDataSource>();
        var ip = ClientInfo.Ip(http);
        var mailer = services.GetRequiredService<Mailer>();
        // Mail links go back to the redirect validated at /authorize, as the session does.
        var links = string.IsNullOrEmpty(flow.Referrer) ? mailer.Links(http) : mailer.Links(http, flow.Referrer);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var locked = await FlowStateQueries.FindAsync(conn, flow.Id, forUpdate: true, ct);
        if (locked is null || locked.UserId is not null)
            throw ApiError.BadRequest(ErrorCode.FlowStateAlreadyUsed, "State has already been used");
        Guid userId;
        var created = false;
        try
        {
            if (flow.LinkingTargetId is { } targetId)
            {
                var targetUser = await IdentityQueries.LockUserAsync(conn, targetId, ct)
                    ?? throw ApiError.Unprocessable(ErrorCode.UserNotFound, "Linking target user not found");
                await ExternalAccounts.LinkToUserAsync(conn, targetUser, data, provider.Name, ip, mailer,
                    services.GetRequiredService<Notifications>(), links, now, ct);
                userId = targetId;
            }
            else if (flow.InviteToken is { Length: > 0 } invite)
                userId = await ExternalAccounts.AcceptInviteAsync(conn, invite, data, provider.Name, ip, now, ct);
            else
            {
                var jwt = services.GetRequiredService<JwtOptions>();
                (userId, created) = await ExternalAccounts.ResolveAsync(conn, data, provider.Name,
                    SignupEndpoints.RequestAudience(http, jwt), services.GetRequiredService<AuthOptions>(), jwt, external,
                    ip, mailer, links, now, ct,
                    // GoTrue `hasEmails`: an email_optional provider that gave no email has nothing to confirm.
                    hasEmails: !provider.EmailOptional || !string.IsNullOrEmpty(data.Email));
            }
        }
        catch (CommitThenThrow e)
        {
            await FlowStateQueries.DeleteAsync(conn, flow.Id, flow.OauthClientStateId, ct);
            await tx.CommitAsync(ct);
            mailer.Outbox.Notify();
            throw e.Error;
        }

        var signup = created ? new[] { KeyValuePair.Create("signup", "true") } : [];
        if (flow.IsPkce)
        {
            await FlowStateQueries.IssueAuthCodeAsync(conn, flow.Id, userId, providerToken, providerRefreshToken, now, ct);
            await tx.CommitAsync(ct);
            return Results.Redirect(RedirectUrls.WithQuery(target,
                [KeyValuePair.Create("code", flow.AuthCode ?? ""), .. signup]));
        }

        var session = await services.GetRequiredService<SessionIssuer>().StartAsync(conn, userId, "oauth", http, now, ct,
            provider: provider.Name);
        await FlowStateQueries.DeleteAsync(conn, flow.Id, flow.OauthClientStateId, ct);
        await tx.CommitAsync(ct);
        var fragment = new List<KeyValuePair<string, string>>
        {
            new("access_token", (string)session["access_token"]!),
            new("expires_at", session["expires_at"]!.ToJsonString()),
            new("expires_in", session["expires_in"]!.ToJsonString()),
            new("refresh_token", (string)session["refresh_token"]!),
            new("token_type", "bearer"),
            new("provider_token", providerToken ?? ""),
            new("sb", ""),
        };
        if (!string.IsNullOrEmpty(providerRefreshToken)) fragment.Add(new("provider_refresh_token", providerRefreshToken));
        fragment.AddRange(signup);
        return Results.Redirect(RedirectUrls.WithFragment(target, fragment));
    }

    /// GoTrue `validatePKCEParams`: both or neither, 43–128 characters, `s256` or `plain` (stored lower-case).
    internal static (string? Challenge, string? Method) PkceParams(string challenge, string method)
    {
        if (challenge.Length == 0 && method.Length == 0) return (null, null);
        if (challenge.Length == 0 || method.Length == 0)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "PKCE flow requires code_challenge_method and code_challenge");
        method = method.ToLowerInvariant();
        if (method is not ("s256" or "plain"))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "code challenge method not supported");
        if (challenge.Length is < 43 or > 128)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "code challenge has to be between 43 and 128 characters");
        return (challenge, method);
    }
}
