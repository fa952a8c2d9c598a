using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Http;
using Npgsql;

namespace AuthServer.Features.DbConnections;

/// Management of database connections for admin-role callers (service_role key): list, read, create,
/// update. `POST /connection/{id}` is the update route as Faable documents it (`{"disable_signup":
/// true}`); `PATCH /connections/{id}` is the same, Auth0-management style. Errors use GoTrue's shapes
/// like every other admin route.
internal static class ConnectionAdminEndpoints
{
    public const string ConnectionNotFound = "connection_not_found";

    internal static void MapRoutes(IEndpointRouteBuilder app)
    {
        app.MapGet("/connections", ListAsync);
        app.MapPost("/connections", CreateAsync);
        app.MapGet("/connections/{id}", GetAsync);
        app.MapPatch("/connections/{id}", UpdateAsync);
        app.MapPost("/connection/{id}", UpdateAsync);
    }

    static readonly HashSet<string> Fields =
    [
        "name", "enabled_clients", "disable_signup", "password_min_length", "password_required_characters",
        "verify_email_auto_send", "welcome_email_enabled",
    ];

    static async Task<IResult> ListAsync(AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var rows = await DbConnectionQueries.ListAsync(conn, ct);
        return Results.Json(new JsonArray(rows.Select(r => (JsonNode)r.ToJson()).ToArray()), Json.Options);
    }

    static async Task<IResult> GetAsync(string id, AdminUser admin, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await DbConnectionQueries.FindAsync(conn, ParseId(id), ct) ?? throw NotFound();
        return Results.Json(row.ToJson(), Json.Options);
    }

    static async Task<IResult> CreateAsync(HttpContext http, AdminUser admin, NpgsqlDataSource db, TimeProvider clock,
        CancellationToken ct)
    {
        var changes = await ReadChangesAsync(http, ct);
        if (string.IsNullOrWhiteSpace(changes.Name))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "name is required");
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await UniqueNameAsync(async () => await DbConnectionQueries.InsertAsync(conn, changes, clock.GetUtcNow().UtcDateTime, ct));
        return Results.Json(row!.ToJson(), Json.Options, statusCode: StatusCodes.Status201Created);
    }

    static async Task<IResult> UpdateAsync(string id, HttpContext http, AdminUser admin, NpgsqlDataSource db,
        TimeProvider clock, CancellationToken ct)
    {
        var connectionId = ParseId(id);
        var changes = await ReadChangesAsync(http, ct);
        await using var conn = await db.OpenConnectionAsync(ct);
        var row = await UniqueNameAsync(() => DbConnectionQueries.UpdateAsync(conn, connectionId, changes, clock.GetUtcNow().UtcDateTime, ct))
            ?? throw NotFound();
        return Results.Json(row.ToJson(), Json.Options);
    }

    /// The body as changes: unknown fields and wrong types are 400s naming the field.
    static async Task<ConnectionChanges> ReadChangesAsync(HttpContext http, CancellationToken ct)
    {
        var body = await BodyReader.ReadAsync<JsonObject>(http.Request, ct);
        foreach (var (key, _) in body)
            if (!Fields.Contains(key))
                throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Unknown connection field \"{key}\"");

        var changes = new ConnectionChanges(
            Name: Get<string>(body, "name")?.Trim(),
            EnabledClients: Get<string[]>(body, "enabled_clients"),
            DisableSignup: Get<bool?>(body, "disable_signup"),
            PasswordMinLength: Get<int?>(body, "password_min_length"),
            PasswordRequiredCharacters: Get<string[]>(body, "password_required_characters"),
            VerifyEmailAutoSend: Get<bool?>(body, "verify_email_auto_send"),
            WelcomeEmailEnabled: Get<bool?>(body, "welcome_email_enabled"));

        if (changes.Name is { Length: 0 or > 128 })
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "name must be 1 to 128 characters");
        if (changes.EnabledClients?.Any(string.IsNullOrWhiteSpace) == true)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "enabled_clients must be non-empty strings");
        if (changes.PasswordMinLength is < 6 or > 72)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "password_min_length must be between 6 and 72");
        if (changes.PasswordRequiredCharacters?.Any(string.IsNullOrEmpty) == true)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "password_required_characters must be non-empty strings");
        return changes with { EnabledClients = changes.EnabledClients?.Distinct().ToArray() };
    }

    static T? Get<T>(JsonObject body, string field)
    {
        if (body[field] is not { } node) return default;
        try
        {
            return node.Deserialize<T>(Json.Options);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, $"Invalid value for connection field \"{field}\"");
        }
    }

    static async Task<ConnectionRow?> UniqueNameAsync(Func<Task<ConnectionRow?>> write)
    {
        try
        {
            return await write();
        }
        catch (PostgresException e) when (e is { SqlState: PostgresErrorCodes.UniqueViolation, ConstraintName: "db_connections_name_key" })
        {
            throw ApiError.Conflict(ErrorCode.Conflict, "A connection with this name already exists");
        }
    }

    static Guid ParseId(string id) => Guid.TryParse(id, out var value) ? value : throw NotFound();

    static ApiError NotFound() => ApiError.NotFound(ConnectionNotFound, "Connection not found");
}
