using System.Net;
using System.Text;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Config;

/// <summary>
/// Issue 14 "boot parity": every environment the reference server is run with in the official clients'
/// test infrastructures and the CLI's local stack (`../shared/reference-env/*.env`, beside the clone) boots
/// this server too, as a real process, and answers `GET /health`. Only the database, SMTP, host and port
/// are replaced, as the files themselves ask.
/// </summary>
public sealed class ReferenceEnvBootTests
{
    public static TheoryData<string> EnvFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(ReferenceEnvDirectory(), "*.env").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(EnvFiles))]
    public async Task Server_ReferenceEnvironment_BootsAndAnswersHealth(string file)
    {
        var env = ParseDotEnv(File.ReadAllText(Path.Combine(ReferenceEnvDirectory(), file)));
        env.Remove("GOTRUE_DB_DATABASE_URL");
        env.Remove("GOTRUE_API_PORT");
        env["GOTRUE_SMTP_HOST"] = "127.0.0.1";
        env["GOTRUE_SMTP_PORT"] = UnusedPort().ToString(); // nothing is mailed at boot
        var db = await (await PostgresCluster.GetAsync()).CloneTemplateAsync("refenv_" + Path.GetFileNameWithoutExtension(file).Replace('-', '_'));

        await using var server = await ServerProcess.StartAsync(db, env, testDefaults: false);
        using var client = server.CreateClient();
        var health = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.DoesNotContain("configuration error", server.Output);
    }

    [Fact]
    public void ReferenceEnvDirectory_HoldsTheNineKnownFiles() =>
        Assert.True(Directory.GetFiles(ReferenceEnvDirectory(), "*.env").Length >= 9,
            $"expected the reference environments in {ReferenceEnvDirectory()}");

    /// `shared/` sits beside the clone (CI) or the worktree (developers): `<repo>/../shared/reference-env`, unless
    /// scripts/test.sh found it elsewhere (`AUTHSERVER_SHARED_DIR`: beside the repository a clone came from).
    static string ReferenceEnvDirectory()
    {
        if (Environment.GetEnvironmentVariable("AUTHSERVER_SHARED_DIR") is { Length: > 0 } shared)
            return Path.GetFullPath(Path.Combine(shared, "reference-env"));
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AuthServer.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "reference-env"));
    }

    /// The subset of godotenv's format these files use: `KEY="value"` with `\"`, `\\` and `\n` escapes,
    /// `KEY='literal'`, bare `KEY=value`, and `#` comment lines.
    internal static Dictionary<string, string> ParseDotEnv(string text)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line["export ".Length..];
            var eq = line.IndexOf('=');
            if (eq <= 0) continue;
            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
                value = Unescape(value[1..^1]);
            else if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'')
                value = value[1..^1];
            env[key] = value;
        }
        return env;
    }

    static string Unescape(string value)
    {
        var result = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                i++;
                result.Append(value[i] switch { 'n' => '\n', 'r' => '\r', _ => value[i] });
            }
            else result.Append(value[i]);
        }
        return result.ToString();
    }

    static int UnusedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
