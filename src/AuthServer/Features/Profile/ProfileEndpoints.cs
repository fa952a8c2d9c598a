using System.Text.Json.Nodes;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Features.Profile;

/// `GET|POST|PATCH /profile`: the caller's row in `public.users`, the application profile that is kept
/// apart from the auth identity. No row means "authenticated but not registered yet" (404
/// `profile_not_found`, the app's `needs_signup` signal). Not a GoTrue route: ours, see docs/beyond-gotrue.md "Profiles".
internal static class ProfileEndpoints
{
    public const string ProfileNotFound = "profile_not_found";
    public const string AlreadyRegistered = "already_registered";
    /// The database refused the write (SQLSTATE 42501: no column GRANT for `authenticated`, or RLS). Ours.
    public const string FieldNotWritable = "profile_field_not_writable";

    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/profile", GetAsync);
        app.MapPost("/profile", RegisterAsync);
        app.MapPatch("/profile", UpdateAsync);
    }

    static async Task<IResult> GetAsync(AuthUser auth, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var profile = await ProfileQueries.FindAsync(conn, auth.User.Id, ct) ?? throw NotFound();
        return Results.Json(profile, Json.Options);
    }

    /// Explicit registration. An existing row is never changed: 409 with that row, so a client that
    /// raced itself (two tabs) can carry on with what is stored.
    static async Task<IResult> RegisterAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var fields = await BodyReader.ReadAsync<JsonObject>(http.Request, ct);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await PrepareWriteAsync(conn, auth, fields, ct);

        var created = await WriteAsync(() => ProfileQueries.InsertAsync(conn, auth.User.Id, fields, clock.GetUtcNow().UtcDateTime, ct));
        if (created is null)
        {
            var existing = await ProfileQueries.FindAsync(conn, auth.User.Id, ct);
            throw new ApiError(409, AlreadyRegistered, "User is already registered")
            {
                Extra = new JsonObject { ["profile"] = existing },
            };
        }
        await tx.CommitAsync(ct);
        return Results.Json(created, Json.Options, statusCode: StatusCodes.Status201Created);
    }

    static async Task<IResult> UpdateAsync(HttpContext http, AuthUser auth, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var fields = await BodyReader.ReadAsync<JsonObject>(http.Request, ct);
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await PrepareWriteAsync(conn, auth, fields, ct);

        var updated = await WriteAsync(() => ProfileQueries.UpdateAsync(conn, auth.User.Id, fields, clock.GetUtcNow().UtcDateTime, ct))
            ?? throw NotFound();
        await tx.CommitAsync(ct);
        return Results.Json(updated, Json.Options);
    }

    /// Before a write, inside its transaction: only known, writable fields, then the statements run as the user.
    static async Task PrepareWriteAsync(NpgsqlConnection conn, AuthUser auth, JsonObject fields, CancellationToken ct)
    {
        EnsureWritable(fields, await ProfileQueries.WritableColumnsAsync(conn, ct));
        await ActAsUserAsync(conn, auth, ct);
    }

    static void EnsureWritable(JsonObject fields, List<string> writable)
    {
        foreach (var (name, _) in fields)
        {
            if (ProfileQueries.ReadOnlyColumns.Contains(name))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Profile field \"{name}\" is read-only");
            if (!writable.Contains(name))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Unknown profile field \"{name}\"");
        }
    }

    /// The server's database role must be allowed to SET ROLE authenticated (migrations 0002, 0982): an
    /// operator's problem, so a 500 that names it rather than a silent write as the server's own role.
    static async Task ActAsUserAsync(NpgsqlConnection conn, AuthUser auth, CancellationToken ct)
    {
        try
        {
            await ProfileQueries.ActAsUserAsync(conn, auth.Claims.Root.GetRawText(), ct);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.InvalidParameterValue)
        {
            throw new ApiError(500, ErrorCode.UnexpectedFailure,
                "Profile writes need the database role \"authenticated\", which the server's database role cannot assume", e);
        }
    }

    /// A value PostgreSQL cannot store in its column (wrong type, NOT NULL, CHECK, an app's UNIQUE) is
    /// the caller's mistake: a 4xx naming the problem, not a 500.
    static async Task<JsonObject?> WriteAsync(Func<Task<JsonObject?>> write)
    {
        try
        {
            return await write();
        }
        catch (PostgresException e) when (e.SqlState.StartsWith("22", StringComparison.Ordinal)
                                          || e.SqlState is PostgresErrorCodes.NotNullViolation or PostgresErrorCodes.CheckViolation)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid profile value: " + e.MessageText);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege)
        {
            throw ApiError.Forbidden(FieldNotWritable, "Profile field not writable: " + e.MessageText);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw ApiError.Conflict(ErrorCode.Conflict, $"Profile value already taken ({e.ConstraintName})");
        }
    }

    static ApiError NotFound() => ApiError.NotFound(ProfileNotFound, "User has no profile yet");
}
