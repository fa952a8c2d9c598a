using System.Text.Json.Nodes;
using Dapper;
using Npgsql;

namespace AuthServer.Features.DbConnections;

internal sealed class ConnectionRow
{
    public Guid Id { get; init; }
    public string Name { get; init; } = "";
    public string[] EnabledClients { get; init; } = [];
    public bool DisableSignup { get; init; }
    public int PasswordMinLength { get; init; }
    public string[] PasswordRequiredCharacters { get; init; } = [];
    public bool VerifyEmailAutoSend { get; init; }
    public bool WelcomeEmailEnabled { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    /// The management API's connection object.
    public JsonObject ToJson() => new()
    {
        ["id"] = Id.ToString(),
        ["name"] = Name,
        ["strategy"] = "auth0",
        ["enabled_clients"] = new JsonArray(EnabledClients.Select(c => (JsonNode?)c).ToArray()),
        ["disable_signup"] = DisableSignup,
        ["password_min_length"] = PasswordMinLength,
        ["password_required_characters"] = new JsonArray(PasswordRequiredCharacters.Select(c => (JsonNode?)c).ToArray()),
        ["verify_email_auto_send"] = VerifyEmailAutoSend,
        ["welcome_email_enabled"] = WelcomeEmailEnabled,
        ["created_at"] = DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc),
        ["updated_at"] = DateTime.SpecifyKind(UpdatedAt, DateTimeKind.Utc),
    };
}

/// Writable connection settings; a null field is left unchanged by an update.
internal sealed record ConnectionChanges(string? Name, string[]? EnabledClients, bool? DisableSignup,
    int? PasswordMinLength, string[]? PasswordRequiredCharacters, bool? VerifyEmailAutoSend, bool? WelcomeEmailEnabled);

internal static class DbConnectionQueries
{
    const string Columns = """
        id, name, enabled_clients, disable_signup, password_min_length, password_required_characters,
        verify_email_auto_send, welcome_email_enabled, created_at, updated_at
        """;

    public static async Task<List<ConnectionRow>> ForClientAsync(NpgsqlConnection conn, string clientId, CancellationToken ct) =>
        (await conn.QueryAsync<ConnectionRow>(new CommandDefinition(
            $"select {Columns} from authserver.db_connections where @clientId = any(enabled_clients) order by created_at, name",
            new { clientId }, cancellationToken: ct))).AsList();

    public static async Task<List<ConnectionRow>> ListAsync(NpgsqlConnection conn, CancellationToken ct) =>
        (await conn.QueryAsync<ConnectionRow>(new CommandDefinition(
            $"select {Columns} from authserver.db_connections order by created_at, name", cancellationToken: ct))).AsList();

    public static Task<ConnectionRow?> FindAsync(NpgsqlConnection conn, Guid id, CancellationToken ct) =>
        conn.QuerySingleOrDefaultAsync<ConnectionRow>(new CommandDefinition(
            $"select {Columns} from authserver.db_connections where id = @id", new { id }, cancellationToken: ct));

    public static Task<ConnectionRow> InsertAsync(NpgsqlConnection conn, ConnectionChanges c, DateTime now, CancellationToken ct) =>
        conn.QuerySingleAsync<ConnectionRow>(new CommandDefinition(
            $$"""
            insert into authserver.db_connections (id, name, enabled_clients, disable_signup, password_min_length,
                password_required_characters, verify_email_auto_send, welcome_email_enabled, created_at, updated_at)
            values (gen_random_uuid(), @Name, coalesce(@EnabledClients::text[], '{}'), coalesce(@DisableSignup::boolean, false),
                coalesce(@PasswordMinLength::integer, 6), coalesce(@PasswordRequiredCharacters::text[], '{}'),
                coalesce(@VerifyEmailAutoSend::boolean, true), coalesce(@WelcomeEmailEnabled::boolean, false), @now, @now)
            returning {{Columns}}
            """, Parameters(c, now), cancellationToken: ct));

    public static Task<ConnectionRow?> UpdateAsync(NpgsqlConnection conn, Guid id, ConnectionChanges c, DateTime now,
        CancellationToken ct)
    {
        var parameters = Parameters(c, now);
        parameters.Add("id", id);
        return conn.QuerySingleOrDefaultAsync<ConnectionRow>(new CommandDefinition(
            $"""
            update authserver.db_connections set
                name = coalesce(@Name, name),
                enabled_clients = coalesce(@EnabledClients::text[], enabled_clients),
                disable_signup = coalesce(@DisableSignup::boolean, disable_signup),
                password_min_length = coalesce(@PasswordMinLength::integer, password_min_length),
                password_required_characters = coalesce(@PasswordRequiredCharacters::text[], password_required_characters),
                verify_email_auto_send = coalesce(@VerifyEmailAutoSend::boolean, verify_email_auto_send),
                welcome_email_enabled = coalesce(@WelcomeEmailEnabled::boolean, welcome_email_enabled),
                updated_at = @now
            where id = @id
            returning {Columns}
            """, parameters, cancellationToken: ct));
    }

    /// Start-up: the default connection from configuration. Only created when missing, so the table
    /// stays the truth; configured client ids are merged in (never removed) so adding one to the
    /// environment takes effect on the next start.
    public static async Task SeedDefaultAsync(NpgsqlDataSource db, string name, IReadOnlyList<string> clientIds,
        int passwordMinLength, IReadOnlyList<string> requiredCharacters, bool verifyEmailAutoSend, bool welcomeEmailEnabled,
        DateTime now, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await conn.ExecuteAsync(new CommandDefinition(
            """
            insert into authserver.db_connections as c (id, name, enabled_clients, password_min_length,
                password_required_characters, verify_email_auto_send, welcome_email_enabled, created_at, updated_at)
            values (gen_random_uuid(), @name, @clientIds, @passwordMinLength, @requiredCharacters, @verifyEmailAutoSend,
                @welcomeEmailEnabled, @now, @now)
            on conflict (name) do update
                set enabled_clients = array(select distinct e from unnest(c.enabled_clients || excluded.enabled_clients) e order by e),
                    updated_at = excluded.updated_at
                where not (excluded.enabled_clients <@ c.enabled_clients)
            """,
            new
            {
                name,
                clientIds = clientIds.ToArray(),
                passwordMinLength = Math.Clamp(passwordMinLength, 6, 72),
                requiredCharacters = requiredCharacters.ToArray(),
                verifyEmailAutoSend,
                welcomeEmailEnabled,
                now,
            }, cancellationToken: ct));
    }

    /// Any non-SSO user with this address, whatever its audience: the unique index
    /// `users_email_partial_key` spans them all, so any of them blocks the insert.
    public static Task<bool> EmailTakenAsync(NpgsqlConnection conn, string email, CancellationToken ct) =>
        conn.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from auth.users where lower(email) = @email and is_sso_user = false)",
            new { email }, cancellationToken: ct));

    static DynamicParameters Parameters(ConnectionChanges c, DateTime now)
    {
        var parameters = new DynamicParameters(c);
        parameters.Add("now", now);
        return parameters;
    }
}
