using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Security;
using Npgsql;

namespace AuthServer.Features.Admin;

/// The admin users API (api.md §2–§3 "Admin users"; GoTrue: internal/api/admin.go). Every handler
/// declares `AdminUser`, so a missing token is 401 `no_authorization`, a bad one 403 `bad_jwt` and a
/// non-admin role 403 `not_admin` before anything else runs. `POST /invite` and `POST
/// /admin/generate_link` live with the mail feature.
internal static class AdminEndpoints
{
    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/users", ListUsersAsync);
        app.MapPost("/admin/users", CreateUserAsync);
        app.MapGet("/admin/users/{userId}", GetUserAsync);
        app.MapPut("/admin/users/{userId}", UpdateUserAsync);
        app.MapDelete("/admin/users/{userId}", DeleteUserAsync);
        app.MapAdminFactors();
        app.MapAdminPasskeys();
        app.MapAdminAudit();
        app.MapAdminSessions();
    }

    internal sealed record AdminUserRequest(string? Id, string? Aud, string? Role, string? Email, string? Phone,
        string? Password, string? PasswordHash, bool? EmailConfirm, bool? PhoneConfirm, JsonObject? UserMetadata,
        JsonObject? AppMetadata, string? BanDuration);

    internal sealed record DeleteRequest(bool? ShouldSoftDelete);

    static async Task<IResult> ListUsersAsync(HttpContext http, AdminUser admin, NpgsqlDataSource db, JwtOptions jwt,
        TimeProvider clock, CancellationToken ct)
    {
        var page = Pagination.Parse(http.Request);
        var ascending = ParseSort(http.Request);
        var aud = RequestAudience(http, jwt);
        var filter = UserListFilter.Parse(http.Request);

        await using var conn = await db.OpenConnectionAsync(ct);
        var (total, users) = await AdminQueries.ListUsersAsync(conn, aud, filter, ascending, page.Limit, page.Offset,
            clock.GetUtcNow().UtcDateTime, ct);
        Pagination.AddHeaders(http, page, total);
        // GoTrue lists without eager loading: no factors, and `identities` is null (admin.go → models.FindUsersInAudience).
        var list = new JsonArray(users.Select(u =>
        {
            var json = UserJson.From(u, []);
            json["identities"] = null;
            return (JsonNode)json;
        }).ToArray());
        return Results.Json(new JsonObject { ["users"] = list, ["aud"] = aud }, Json.Options);
    }

    static async Task<IResult> GetUserAsync(string userId, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        var id = ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        var found = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw UserNotFound();
        return Results.Json(UserJson.From(found.User, found.Identities, found.Factors), Json.Options);
    }

    static async Task<IResult> CreateUserAsync(HttpContext http, AdminUser admin, NpgsqlDataSource db, JwtOptions jwt,
        Passwords passwords, TimeProvider clock, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<AdminUserRequest>(http.Request, ct);
        var aud = string.IsNullOrEmpty(body.Aud) ? RequestAudience(http, jwt) : body.Aud;
        if (string.IsNullOrEmpty(body.Email) && string.IsNullOrEmpty(body.Phone))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Cannot create a user without either an email or phone");

        await using var conn = await db.OpenConnectionAsync(ct);
        var providers = new List<string>();
        string? email = null, phone = null;
        if (!string.IsNullOrEmpty(body.Email))
        {
            email = Identifiers.ValidateEmail(body.Email);
            if (await AdminQueries.EmailTakenAsync(conn, email, aud, null, ct))
                throw ApiError.Unprocessable(ErrorCode.EmailExists, "A user with this email address has already been registered");
            providers.Add("email");
        }
        if (!string.IsNullOrEmpty(body.Phone))
        {
            phone = Identifiers.ValidatePhone(body.Phone);
            if (await AdminQueries.PhoneTakenAsync(conn, phone, aud, null, ct))
                throw ApiError.Unprocessable(ErrorCode.PhoneExists, "Phone number already registered by another user");
            providers.Add("phone");
        }
        if (body.Password is not null && !string.IsNullOrEmpty(body.PasswordHash))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Only a password or a password hash should be provided");

        string hash;
        if (!string.IsNullOrEmpty(body.PasswordHash))
        {
            hash = PasswordHashes.ValidateImport(body.PasswordHash);
        }
        else
        {
            // No password: GoTrue stores a random 64-character one, so the account has no usable password.
            var password = string.IsNullOrEmpty(body.Password) ? Secrets.NewToken() + Secrets.NewToken()[..21] : body.Password;
            if (System.Text.Encoding.UTF8.GetByteCount(password) > 72)
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "bcrypt: password length exceeds 72 bytes");
            hash = await passwords.HashAsync(password, ct);
        }

        var id = Guid.NewGuid();
        if (!string.IsNullOrEmpty(body.Id))
        {
            if (!Guid.TryParse(body.Id, out id))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "ID must conform to the uuid v4 format");
            if (id == Guid.Empty)
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, "ID cannot be a nil uuid");
        }
        var ban = ParseBanDuration(body.BanDuration);
        var now = clock.GetUtcNow().UtcDateTime;

        var appMetadata = new JsonObject { ["provider"] = providers[0], ["providers"] = new JsonArray(providers.Select(p => (JsonNode)p).ToArray()) };
        if (body.AppMetadata is not null) appMetadata = UserJson.MergeMetadata(appMetadata, body.AppMetadata);
        var userMetadata = (JsonObject?)body.UserMetadata?.DeepClone() ?? [];
        if (body.EmailConfirm == true) userMetadata["email_verified"] = true;
        var role = string.IsNullOrEmpty(body.Role) ? jwt.DefaultGroupName : body.Role.Trim();
        DateTime? bannedUntil = ban is { } d && d != TimeSpan.Zero ? now + d : null;

        await Hooks.UserCreation.BeforeAsync(http, new UserRow
        {
            Id = id,
            Aud = aud,
            Role = "",
            Email = email,
            Phone = phone,
            RawAppMetaData = appMetadata.ToJsonString(),
            RawUserMetaData = userMetadata.ToJsonString(),
            CreatedAt = DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc),
            UpdatedAt = DateTime.SpecifyKind(DateTime.MinValue, DateTimeKind.Utc)
        }, ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // GoTrue answers a taken custom id with a 500 from the insert; a client mistake deserves a 4xx.
        if (await AdminQueries.UserExistsAsync(conn, id, ct))
            throw ApiError.Unprocessable(ErrorCode.UserAlreadyExists, "User already registered");
        await AdminQueries.CreateUserAsync(conn, id, aud, role, email, phone, hash, appMetadata, userMetadata,
            body.EmailConfirm == true, body.PhoneConfirm == true, bannedUntil, now, ct);
        await AuditLog.WriteAsync(conn, admin.Actor, AuditAction.UserSignedUp, "", now, ct, Traits(id, email, phone));
        var created = (await AdminQueries.FindUserAsync(conn, id, ct))!.Value;
        await tx.CommitAsync(ct);
        return Results.Json(UserJson.From(created.User, created.Identities, created.Factors), Json.Options);
    }

    static async Task<IResult> UpdateUserAsync(string userId, HttpContext http, AdminUser admin, NpgsqlDataSource db,
        Passwords passwords, TimeProvider clock, CancellationToken ct)
    {
        var id = ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        var (user, identities, _) = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw UserNotFound();
        var body = await BodyReader.ReadAsync<AdminUserRequest>(http.Request, ct);

        var email = string.IsNullOrEmpty(body.Email) ? null : Identifiers.ValidateEmail(body.Email);
        var phone = string.IsNullOrEmpty(body.Phone) ? null : Identifiers.ValidatePhone(body.Phone);
        var ban = ParseBanDuration(body.BanDuration);
        string? hash = null;
        if (body.Password is not null)
        {
            await passwords.EnsureAcceptableAsync(body.Password, ct);
            hash = await passwords.HashAsync(body.Password, ct);
        }
        var aud = user.Aud ?? "";
        // GoTrue lets the unique indexes fail this with a 500; answer like every other taken address.
        if (email is not null && email != user.Email && await AdminQueries.EmailTakenAsync(conn, email, aud, id, ct))
            throw ApiError.Unprocessable(ErrorCode.EmailExists, "A user with this email address has already been registered");
        if (phone is not null && phone != user.Phone && await AdminQueries.PhoneTakenAsync(conn, phone, aud, id, ct))
            throw ApiError.Unprocessable(ErrorCode.PhoneExists, "Phone number already registered by another user");

        var now = clock.GetUtcNow().UtcDateTime;
        var emailConfirm = body.EmailConfirm == true;
        var phoneConfirm = body.PhoneConfirm == true;
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (!string.IsNullOrEmpty(body.Role))
            await AdminQueries.ExecuteAsync(conn, "update auth.users set role = @role, updated_at = @now where id = @id",
                new { id, role = body.Role.Trim(), now }, ct);
        if (emailConfirm) await AdminQueries.ExecuteAsync(conn, AdminQueries.ConfirmEmailSql, new { id, now }, ct);
        if (phoneConfirm) await AdminQueries.ExecuteAsync(conn, AdminQueries.ConfirmPhoneSql, new { id, now }, ct);
        if (hash is not null)
            await AdminQueries.ExecuteAsync(conn, AdminQueries.SetPasswordSql, new { id, idText = id.ToString(), hash, now }, ct);
        if (email is not null)
            await SetIdentifierAsync(conn, user, identities, "email", email, emailConfirm, now, ct);
        if (phone is not null)
            await SetIdentifierAsync(conn, user, identities, "phone", phone, phoneConfirm, now, ct);
        if (body.AppMetadata is not null)
            await AdminQueries.ExecuteAsync(conn,
                "update auth.users set raw_app_meta_data = @meta::jsonb, updated_at = @now where id = @id",
                new { id, meta = UserJson.MergeMetadata(user.AppMetadata, body.AppMetadata).ToJsonString(), now }, ct);
        if (body.UserMetadata is not null)
        {
            // Re-read: a confirmation above may have set email_verified.
            var current = (await UserQueries.FindWithIdentitiesAsync(conn, id, ct))!.Value.User.UserMetadata;
            await AdminQueries.ExecuteAsync(conn,
                "update auth.users set raw_user_meta_data = @meta::jsonb, updated_at = @now where id = @id",
                new { id, meta = UserJson.MergeMetadata(current, body.UserMetadata).ToJsonString(), now }, ct);
        }
        if (ban is { } duration)
            await AdminQueries.ExecuteAsync(conn, "update auth.users set banned_until = @until, updated_at = @now where id = @id",
                new { id, until = duration == TimeSpan.Zero ? (DateTime?)null : now + duration, now }, ct);
        await AuditLog.WriteAsync(conn, admin.Actor, AuditAction.UserModified, "", now, ct,
            Traits(id, email ?? user.Email, phone ?? user.Phone));
        var updated = (await AdminQueries.FindUserAsync(conn, id, ct))!.Value;
        await tx.CommitAsync(ct);
        return Results.Json(UserJson.From(updated.User, updated.Identities, updated.Factors), Json.Options);
    }

    /// GoTrue's admin email/phone change: immediate, creating the identity if the user has none, else
    /// updating its identity_data (`<kind>_verified` = the confirm flag); a confirmed change makes an
    /// anonymous user permanent.
    static async Task SetIdentifierAsync(NpgsqlConnection conn, UserRow user, List<IdentityRow> identities, string kind,
        string value, bool confirm, DateTime now, CancellationToken ct)
    {
        var id = user.Id;
        var existing = identities.FirstOrDefault(i => i.Provider == kind && i.ProviderId == id.ToString());
        if (existing is null)
        {
            var data = new JsonObject
            {
                ["sub"] = id.ToString(),
                [kind] = value,
                ["email_verified"] = kind == "email" && confirm,
                ["phone_verified"] = kind == "phone" && confirm,
            };
            await AdminQueries.ExecuteAsync(conn,
                """
                insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
                values (gen_random_uuid(), @providerId, @id, @data::jsonb, @kind, @now, @now, @now)
                """, new { id, providerId = id.ToString(), data = data.ToJsonString(), kind, now }, ct);
        }
        else
        {
            var patch = new JsonObject { [kind] = value, [kind + "_verified"] = confirm };
            await AdminQueries.ExecuteAsync(conn,
                "update auth.identities set identity_data = identity_data || @patch::jsonb, updated_at = @now where id = @identityId",
                new { identityId = existing.Id, patch = patch.ToJsonString(), now }, ct);
        }
        var sql = kind == "email"
            ? "update auth.users set email = @value, updated_at = @now, is_anonymous = is_anonymous and not @confirm where id = @id"
            : "update auth.users set phone = @value, updated_at = @now, is_anonymous = is_anonymous and not @confirm where id = @id";
        await AdminQueries.ExecuteAsync(conn, sql, new { id, value, confirm, now }, ct);
    }

    static async Task<IResult> DeleteUserAsync(string userId, HttpContext http, AdminUser admin, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        var id = ParseUserId(userId);
        await using var conn = await db.OpenConnectionAsync(ct);
        var (user, identities, _) = await AdminQueries.FindUserAsync(conn, id, ct) ?? throw UserNotFound();
        // The body is optional; only a non-empty one is parsed (GoTrue: adminUserDelete).
        var soft = false;
        if (http.Request.ContentLength is null or > 0)
        {
            var raw = await new StreamReader(http.Request.Body).ReadToEndAsync(ct);
            try
            {
                if (raw.Length > 0) soft = System.Text.Json.JsonSerializer.Deserialize<DeleteRequest>(raw, Json.Options)?.ShouldSoftDelete == true;
            }
            catch (System.Text.Json.JsonException e)
            {
                throw ApiError.BadRequest(ErrorCode.BadJson, "Could not parse request body as JSON: " + e.Message);
            }
        }

        var now = clock.GetUtcNow().UtcDateTime;
        await using var tx = await conn.BeginTransactionAsync(ct);
        await AuditLog.WriteAsync(conn, admin.Actor, AuditAction.UserDeleted, "", now, ct, Traits(id, user.Email, user.Phone));
        if (!soft)
        {
            // Sessions, refresh tokens (via sessions), identities, factors and one-time tokens cascade.
            await AdminQueries.ExecuteAsync(conn,
                """
                delete from auth.refresh_tokens where user_id = @idText;
                delete from auth.users where id = @id;
                """, new { id, idText = id.ToString() }, ct);
        }
        else if (user.DeletedAt is null)
        {
            await SoftDelete.RunAsync(conn, user, identities, now, ct);
        }
        await tx.CommitAsync(ct);
        return Results.Json(new JsonObject(), Json.Options);
    }

    internal static Guid ParseUserId(string userId) =>
        Guid.TryParse(userId, out var id) ? id : throw ApiError.NotFound(ErrorCode.ValidationFailed, "user_id must be an UUID");

    internal static ApiError UserNotFound() => ApiError.NotFound(ErrorCode.UserNotFound, "User not found");

    static JsonObject Traits(Guid id, string? email, string? phone) => new()
    {
        ["user_id"] = id.ToString(),
        ["user_email"] = email ?? "",
        ["user_phone"] = phone ?? "",
    };

    /// GoTrue `requestAud`: `X-JWT-AUD`, else `GOTRUE_JWT_AUD` (the service_role key has no `aud`).
    static string RequestAudience(HttpContext http, JwtOptions jwt) =>
        http.Request.Headers["X-JWT-AUD"].ToString() is { Length: > 0 } aud ? aud : jwt.Aud;

    /// GoTrue `sort()`: only `created_at`, default descending.
    static bool ParseSort(HttpRequest request)
    {
        var ascending = false;
        foreach (var value in request.Query["sort"])
        {
            var parts = (value ?? "").Split(' ', 2);
            if (parts[0] != "created_at")
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Bad Sort Parameters: bad field for sort '{parts[0]}'");
            if (parts.Length > 1)
                ascending = parts[1].ToUpperInvariant() switch
                {
                    "ASC" => true,
                    "DESC" => false,
                    _ => throw ApiError.BadRequest(ErrorCode.ValidationFailed,
                        $"Bad Sort Parameters: bad direction for sort '{parts[1]}', only 'asc' and 'desc' allowed"),
                };
            else ascending = false;
        }
        return ascending;
    }

    /// `ban_duration`: a Go duration, or `none` to lift a ban. Null when not given.
    static TimeSpan? ParseBanDuration(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        if (value == "none") return TimeSpan.Zero;
        return GoDuration.TryParse(value, out var duration, out var error)
            ? duration
            : throw ApiError.BadRequest(ErrorCode.ValidationFailed, "invalid format for ban duration: " + error);
    }
}
