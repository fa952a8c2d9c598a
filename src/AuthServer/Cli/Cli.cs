using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Signup;
using AuthServer.Security;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AuthServer.Cli;

/// Operator commands on the same binary (`dotnet AuthServer.dll <command>`), configured by the same
/// GOTRUE_* environment variables as the server. With no command the binary runs the server.
internal static class Cli
{
    static readonly string[] Commands = ["migrate", "keys", "generate-jwk", "users", "help", "--help", "-h"];

    public static bool IsCommand(string[] args) => args.Length > 0 && Commands.Contains(args[0]);

    const string Help = """
        Usage: dotnet AuthServer.dll [command]

        Without a command, runs the server (configured by GoTrue's environment variables).

        Commands:
          migrate                       apply pending migrations to DATABASE_URL and exit
          keys generate [--alg ES256|RS256|EdDSA]
                                        print a new private signing JWK as a GOTRUE_JWT_KEYS array
          generate-jwk [ES256|RS256|EdDSA]
                                        print one private signing JWK (not wrapped in an array)
          keys print-anon               print the anon API key (HS256 JWT signed with GOTRUE_JWT_SECRET)
          keys print-service            print the service_role API key
          users create --email E --password P [--role R]
                                        create a confirmed email user (e.g. an admin account)
          help                          show this help
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var env = new EnvReader(new ConfigurationBuilder().AddEnvironmentVariables().Build());
        try
        {
            switch (args)
            {
                case ["migrate"]:
                    await Migrator.MigrateAsync(DbOptions.Load(env).ConnectionString, ConsoleLog(), default);
                    return 0;
                case ["keys", "generate", .. var rest]:
                    Console.WriteLine(GenerateKey(Option(rest, "--alg") ?? "ES256"));
                    return 0;
                case ["generate-jwk", .. var rest]: // one bare JWK, as the README's signing-key section shows
                    Console.WriteLine(JwkGenerator.Generate(rest.Length > 0 ? rest[0] : "ES256"));
                    return 0;
                case ["keys", "print-anon"]:
                    Console.WriteLine(ApiKey(env, "anon"));
                    return 0;
                case ["keys", "print-service"]:
                    Console.WriteLine(ApiKey(env, "service_role"));
                    return 0;
                case ["users", "create", .. var rest]:
                    return await CreateUserAsync(env, rest);
                case ["help" or "--help" or "-h"]:
                    Console.WriteLine(Help);
                    return 0;
                default:
                    Console.Error.WriteLine(Help);
                    return 2;
            }
        }
        catch (ConfigException e)
        {
            Console.Error.WriteLine($"authserver: configuration error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is MigrationException or NpgsqlException or ArgumentException or Http.ApiError)
        {
            Console.Error.WriteLine($"authserver: {e.Message}");
            return 1;
        }
    }

    static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    static ILogger ConsoleLog() =>
        LoggerFactory.Create(l => l.AddSimpleConsole(o => o.SingleLine = true)).CreateLogger("migrate");

    /// The Supabase convention for API keys: long-lived JWTs with only a role (jwt.md §3), signed with
    /// the configured signing key (HS256 with GOTRUE_JWT_SECRET unless GOTRUE_JWT_KEYS says otherwise).
    static string ApiKey(EnvReader env, string role)
    {
        var jwt = JwtOptions.Load(env);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new AccessTokens(SigningKeys.Load(env, jwt)).Sign(new JsonObject
        {
            ["role"] = role,
            ["iss"] = "supabase",
            ["iat"] = now,
            ["exp"] = now + 10L * 365 * 24 * 3600,
        });
    }

    /// A private signing JWK (JwkGenerator), wrapped in the array `GOTRUE_JWT_KEYS` takes.
    static string GenerateKey(string alg)
    {
        var normalized = alg.Equals("EdDSA", StringComparison.OrdinalIgnoreCase) ? "EdDSA" : alg.ToUpperInvariant();
        var jwk = JsonNode.Parse(JwkGenerator.Generate(normalized))!;
        return new JsonArray(jwk).ToJsonString();
    }

    static async Task<int> CreateUserAsync(EnvReader env, string[] args)
    {
        var email = Option(args, "--email");
        var password = Option(args, "--password");
        if (email is null || password is null)
        {
            Console.Error.WriteLine("users create needs --email and --password");
            return 2;
        }
        var jwt = JwtOptions.Load(env);
        var passwordOptions = PasswordOptions.Load(env);
        var passwords = new Passwords(passwordOptions,
            new PwnedPasswords(passwordOptions, Microsoft.Extensions.Logging.Abstractions.NullLogger<PwnedPasswords>.Instance));
        await passwords.EnsureAcceptableAsync(password, default);
        email = Http.Identifiers.ValidateEmail(email);
        var role = Option(args, "--role") ?? jwt.DefaultGroupName;

        var connectionString = DbOptions.Load(env).ConnectionString;
        await Migrator.MigrateAsync(connectionString, NullLogger.Instance, default);
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync();
        await using var tx = await conn.BeginTransactionAsync();
        if (await UserQueries.FindByEmailAsync(conn, email, jwt.Aud, default) is not null)
        {
            Console.Error.WriteLine($"authserver: a user with email {email} already exists");
            return 1;
        }
        var id = Guid.NewGuid();
        var now = DateTime.UtcNow;
        await SignupQueries.CreateUserAsync(conn, id, jwt.Aud, role, email, null,
            await passwords.HashAsync(password, default), "email", [], now, default);
        await SignupQueries.ConfirmAsync(conn, id, "email", now, default);
        await tx.CommitAsync();
        Console.WriteLine(id);
        return 0;
    }
}
