using System.Text.Json.Nodes;
using AuthServer.Data;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Hooks;

/// The before- and after-user-created hooks (GoTrue internal/api/hooks.go `triggerBeforeUserCreated`,
/// `triggerAfterUserCreated`; internal/hooks/v0hooks). Every path that creates a user (sign-up by email,
/// phone or anonymously, OTP sign-up, OAuth and id_token users, invites, generated sign-up/invite links,
/// /dbconnections/signup, admin create) calls <see cref="BeforeAsync"/> once, just before its insert:
/// - before-user-created gets `{metadata, user}` with the user about to be created (GoTrue's
///   `SignupParams.ToUserModel`: no role, no identities, zero timestamps). It runs outside the caller's
///   transaction, as GoTrue insists (`checkTX`); an answer `{"error":{"http_code","message"}}` fails the
///   request with that status and message before anything is written.
/// - after-user-created is queued for the same id and fired by <see cref="UseAfterUserCreatedHooks"/> once
///   the request's handler has finished (GoTrue's `hookafter` middleware): the user is reloaded, so a rolled
///   back insert fires nothing, and a hook failure is only logged — it never undoes the user.
internal static class UserCreation
{
    const string PendingKey = "AuthServer.Hooks.AfterUserCreated";
    /// The request being served, for creating code that has no HttpContext at hand (set by the middleware).
    static readonly AsyncLocal<HttpContext?> Current = new();

    /// For code paths without the HttpContext (external identities, invitees): the current request's.
    public static Task BeforeAsync(Guid id, string aud, string? email, string? phone, string provider, JsonObject? data,
        CancellationToken ct) =>
        Current.Value is { } http ? BeforeAsync(http, id, aud, email, phone, provider, data, ct) : Task.CompletedTask;

    public static Task BeforeAsync(HttpContext http, Guid id, string aud, string? email, string? phone, string provider,
        JsonObject? data, CancellationToken ct) =>
        BeforeAsync(http, new UserRow
        {
            Id = id,
            Aud = aud,
            Role = "",
            Email = email,
            Phone = phone,
            // GoTrue `ToUserModel`: provider/providers in app_metadata, except for anonymous users.
            RawAppMetaData = provider == "anonymous" ? "{}"
                : new JsonObject { ["provider"] = provider, ["providers"] = new JsonArray(provider) }.ToJsonString(),
            RawUserMetaData = (data ?? []).ToJsonString(),
            CreatedAt = DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc),
            UpdatedAt = DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc),
            IsAnonymous = provider == "anonymous",
        }, ct);

    public static async Task BeforeAsync(HttpContext http, UserRow candidate, CancellationToken ct)
    {
        var hooks = http.RequestServices.GetRequiredService<HookRunner>();
        if (hooks.Options.AfterUserCreated.Enabled)
        {
            if (http.Items[PendingKey] is not List<Guid> pending) http.Items[PendingKey] = pending = [];
            pending.Add(candidate.Id);
        }
        if (!hooks.Options.BeforeUserCreated.Enabled) return;
        var input = new JsonObject
        {
            ["metadata"] = hooks.Metadata(http, "before-user-created"),
            ["user"] = UserJson.From(candidate, []),
        };
        await hooks.RunAsync(hooks.Options.BeforeUserCreated, null, input, ct);
    }

    /// Fires the queued after-user-created hooks once the handler is done (success or error).
    public static IApplicationBuilder UseAfterUserCreatedHooks(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        Current.Value = http;
        try
        {
            await next(http);
        }
        finally
        {
            Current.Value = null;
            if (http.Items[PendingKey] is List<Guid> pending)
                await FireAfterAsync(http, pending);
        }
    });

    static async Task FireAfterAsync(HttpContext http, List<Guid> pending)
    {
        var hooks = http.RequestServices.GetRequiredService<HookRunner>();
        var log = http.RequestServices.GetRequiredService<ILogger<HookRunner>>();
        // The client may have gone; the user exists either way, so the hook still runs (bounded by its timeouts).
        var ct = CancellationToken.None;
        foreach (var id in pending.Distinct())
        {
            try
            {
                await using var conn = await hooks.DataSource.OpenConnectionAsync(ct);
                if (await UserQueries.FindWithIdentitiesAsync(conn, id, ct) is not { } found) continue;
                var (user, identities) = found;
                await conn.CloseAsync();
                var input = new JsonObject
                {
                    ["metadata"] = hooks.Metadata(http, "after-user-created"),
                    ["user"] = UserJson.From(user, identities),
                };
                await hooks.RunAsync(hooks.Options.AfterUserCreated, null, input, ct);
            }
            catch (Exception e) when (e is ApiError or NpgsqlException or InvalidOperationException or TimeoutException)
            {
                log.LogWarning(e, "error triggering 1 or more hooks");
            }
        }
    }
}
