using AuthServer.Data;
using Microsoft.Extensions.Logging;

namespace AuthServer.Tests.Infrastructure.GoTrue;

/// <summary>
/// The real server over a clone of the GoTrue-created database, after AuthServer's migrator adopted it
/// (WebApplicationFactory stops Program before its migration step, so the fixture runs the same
/// <c>Migrator.MigrateAsync</c> the boot runs). Keeps the schema snapshot taken before the migrator ran.
/// </summary>
public class GoTrueFixture : AuthServerFixture
{
    public const string EncryptionKeyId = "fixture-key-1";
    public const string EncryptionKey = "X3RphuIuCIdjfBpXtowPS2aUHJg2hrEyQBFaHejKBW8";
    public const string Password = "allmine";

    public SchemaSnapshot Before { get; private set; } = null!;
    public List<string> MigratorLog { get; } = [];
    /// <summary>users.raw_app_meta_data / raw_user_meta_data (jsonb text) as GoTrue left them.</summary>
    public Dictionary<Guid, (string? App, string? User)> BeforeMetadata { get; private set; } = [];

    protected override async Task<string> CreateDatabaseAsync()
    {
        var connectionString = await GoTrueDatabase.CloneAsync(nameof(GoTrueFixture));
        Before = await SchemaSnapshot.TakeAsync(connectionString);
        BeforeMetadata = (await new Db(connectionString).QueryAsync<(Guid Id, string? App, string? User)>(
                "select id, raw_app_meta_data::text, raw_user_meta_data::text from auth.users"))
            .ToDictionary(r => r.Id, r => (r.App, r.User));
        await Migrator.MigrateAsync(connectionString, new ListLogger(MigratorLog), CancellationToken.None);
        return connectionString;
    }

    protected override void Configure(IDictionary<string, string> settings) =>
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS"] = $"{EncryptionKeyId}:{EncryptionKey}";
}

/// <summary>
/// The GoTrue database with GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT on and the key rotated: new values are
/// written under <see cref="NewKeyId"/>, values under the fixture's key still decrypt.
/// </summary>
public sealed class GoTrueEncryptingFixture : GoTrueFixture
{
    public const string NewKeyId = "fixture-key-2";
    public const string NewKey = "l0jK0V_oWdlUe0POPrWDu24iZAMjlyP1yfHuveLbT2c";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT"] = "true";
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY_ID"] = NewKeyId;
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY"] = NewKey;
        settings["GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS"] = $"{EncryptionKeyId}:{EncryptionKey},{NewKeyId}:{NewKey}";
    }
}

/// <summary>The GoTrue database with no GOTRUE_SECURITY_DB_ENCRYPTION_* keys at all (a deployment mistake).</summary>
public sealed class GoTrueWithoutKeysFixture : GoTrueFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
    }
}

/// <summary>Collects formatted log messages (the migrator's adoption report).</summary>
public sealed class ListLogger(List<string> messages) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        lock (messages) messages.Add(formatter(state, exception));
    }
}
