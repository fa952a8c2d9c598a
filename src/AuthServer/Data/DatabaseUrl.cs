using AuthServer.Config;
using Npgsql;

namespace AuthServer.Data;

/// GoTrue takes `DATABASE_URL` as a `postgres://` URI, which Npgsql can't parse (npgsql/npgsql#2090);
/// an Npgsql key=value string is accepted too.
internal static class DatabaseUrl
{
    public static string ToConnectionString(string value, string variable)
    {
        NpgsqlConnectionStringBuilder builder;
        var noPrepare = false;
        try
        {
            builder = value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
                || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
                ? FromUri(value, out noPrepare)
                : new NpgsqlConnectionStringBuilder(value);
        }
        catch (Exception e) when (e is ArgumentException or UriFormatException or FormatException or KeyNotFoundException)
        {
            // Never echo the value: it usually contains the password.
            throw new ConfigException($"{variable}: not a valid postgres:// URL or connection string ({e.GetType().Name})");
        }

        // All our timestamps are UTC, including `timestamp without time zone` columns GoTrue writes in UTC.
        builder.Timezone ??= "UTC";
        // Same few statements on every request: prepare them once per connection. Not behind a transaction-mode
        // pooler (PgBouncer, Supavisor), where the next transaction may run on a server connection that never saw
        // the PREPARE: a pgx-style URI says so as GoTrue's users already write it, an Npgsql string by its own
        // `Max Auto Prepare`, and ours GOTRUE_DB_TRANSACTION_POOLER (DbOptions) for either.
        if (!noPrepare && !System.Text.RegularExpressions.Regex.IsMatch(value, @"max\s*auto\s*prepare\s*=", System.Text.RegularExpressions.RegexOptions.IgnoreCase))
            builder.MaxAutoPrepare = 50;
        if (builder.Timeout == 15) builder.Timeout = 5; // fail fast when the database is down → 503
        builder.ApplicationName ??= "authserver";
        return builder.ConnectionString;
    }

    static NpgsqlConnectionStringBuilder FromUri(string value, out bool noPrepare)
    {
        noPrepare = false;
        var uri = new Uri(value);
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = string.IsNullOrEmpty(uri.Host) ? "localhost" : uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } db ? db : null,
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0) builder.Username = Uri.UnescapeDataString(userInfo[0]);
        if (userInfo.Length == 2) builder.Password = Uri.UnescapeDataString(userInfo[1]);

        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = pair.Split('=', 2);
            var key = Uri.UnescapeDataString(kv[0]);
            var val = kv.Length == 2 ? Uri.UnescapeDataString(kv[1]) : "";
            switch (key)
            {
                case "sslmode":
                    builder.SslMode = val switch
                    {
                        "disable" => SslMode.Disable,
                        "allow" => SslMode.Allow,
                        "prefer" => SslMode.Prefer,
                        "require" => SslMode.Require,
                        "verify-ca" => SslMode.VerifyCA,
                        "verify-full" => SslMode.VerifyFull,
                        _ => throw new FormatException("sslmode"),
                    };
                    break;
                case "connect_timeout": builder.Timeout = int.Parse(val); break;
                case "application_name": builder.ApplicationName = val; break;
                case "search_path": builder.SearchPath = val; break;
                case "host": builder.Host = val; break; // unix socket directory form
                // pgx's switches for transaction-mode poolers (jackc/pgx#650): anything but its default
                // statement cache means "no prepared statements".
                case "default_query_exec_mode": noPrepare |= val != "cache_statement"; break;
                case "statement_cache_mode": noPrepare |= val != "prepare"; break;
                case "statement_cache_capacity": noPrepare |= val == "0"; break;
                default: break; // libpq options Npgsql has no equivalent for are ignored, as pgx ignores unknown ones
            }
        }
        return builder;
    }
}
