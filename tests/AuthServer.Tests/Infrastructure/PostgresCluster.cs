using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// One throw-away PostgreSQL cluster per test run: initdb + pg_ctl into a temp dir on a free loopback
/// port, one migrated template database, one clone per test class. Stopped at process exit; a watchdog
/// stops it too if the test host dies without running its exit handlers.
/// </summary>
public sealed class PostgresCluster
{
    const string TemplateDatabase = "authserver_template";

    static readonly Lazy<Task<PostgresCluster>> Instance = new(() => StartAsync(durable: false), LazyThreadSafetyMode.ExecutionAndPublication);

    // A clone takes milliseconds; one at a time keeps "source database is being accessed by other
    // users" out of the picture.
    readonly SemaphoreSlim cloneLock = new(1, 1);
    readonly string dir;
    readonly string dataDir;
    readonly bool asPostgresUser;
    bool durable;
    int cloneCount;

    public int Port { get; }

    PostgresCluster(string dir, int port, bool asPostgresUser)
    {
        this.dir = dir;
        dataDir = Path.Combine(dir, "data");
        Port = port;
        this.asPostgresUser = asPostgresUser;
    }

    public static Task<PostgresCluster> GetAsync() => Instance.Value;

    /// <summary>
    /// A cluster of the caller's own, for tests that stop and start PostgreSQL (the shared one serves every
    /// other test class). Stopped at process exit like the shared one, or earlier by <see cref="DisposeAsync"/>.
    /// </summary>
    public static Task<PostgresCluster> StartPrivateAsync() => StartAsync(durable: true);

    /// <summary><c>pg_ctl stop -m fast|immediate</c>: the server goes away, connections break.</summary>
    public Task StopServerAsync(string mode = "fast") =>
        RunPgAsync("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "60", "stop"]);

    /// <summary>Starts a stopped server again on the same port and data directory.</summary>
    public Task StartServerAsync() =>
        RunPgAsync("pg_ctl", ["-D", dataDir, "-l", Path.Combine(dir, "postgres.log"), "-o", ServerOptions(), "-w", "-t", "60", "start"]);

    public Task DisposeAsync()
    {
        Stop();
        return Task.CompletedTask;
    }

    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = database,
            // Each fixture's pool ends with the process; keep it small so 300 connections go far.
            MaxPoolSize = 20,
        }.ConnectionString;

    /// <summary>A new database copied from the migrated template, named after the test class.</summary>
    public async Task<string> CloneTemplateAsync(string hint)
    {
        var name = $"t{Interlocked.Increment(ref cloneCount)}_{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}";
        await cloneLock.WaitAsync();
        try
        {
            await using var conn = new NpgsqlConnection(AdminConnectionString("postgres"));
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"""create database "{name}" template {TemplateDatabase}""", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        finally
        {
            cloneLock.Release();
        }
        return ConnectionString(name);
    }

    /// <summary>A new, empty database (no migrations), for tests of the migrator itself.</summary>
    public async Task<string> CreateEmptyDatabaseAsync(string hint)
    {
        var name = $"e{Interlocked.Increment(ref cloneCount)}_{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}";
        await using var conn = new NpgsqlConnection(AdminConnectionString("postgres"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"""create database "{name}" """, conn);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    string AdminConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(ConnectionString(database)) { Pooling = false }.ConnectionString;

    static async Task<PostgresCluster> StartAsync(bool durable)
    {
        var asPostgresUser = Environment.IsPrivilegedProcess; // euid 0: initdb/postgres refuse to run as root
        var dir = Path.Combine(Path.GetTempPath(), $"authserver-pg-{Environment.ProcessId}-{Guid.NewGuid():N}"[..40]);
        Directory.CreateDirectory(dir);
        if (asPostgresUser)
            await RunAsync("chown", ["postgres:postgres", dir]);

        var cluster = new PostgresCluster(dir, FreeLoopbackPort(), asPostgresUser) { durable = durable };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Stop();
        cluster.StartWatchdog();
        try
        {
            await cluster.InitAndStartAsync();
            await cluster.CreateTemplateAsync();
        }
        catch
        {
            cluster.Stop();
            throw;
        }
        return cluster;
    }

    async Task InitAndStartAsync()
    {
        await RunPgAsync("initdb", ["-D", dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);

        await RunPgAsync("pg_ctl", ["-D", dataDir, "-l", Path.Combine(dir, "postgres.log"), "-o", ServerOptions(), "-w", "-t", "60", "start"]);
    }

    // listen_addresses etc. go on the command line so nothing depends on the host's postgresql.conf.
    // A private cluster keeps synchronous_commit on: its tests crash the server (`-m immediate`) and
    // check that committed rows survive.
    string ServerOptions() => string.Join(' ',
        $"-p {Port}", "-c fsync=off", $"-c synchronous_commit={(durable ? "on" : "off")}", "-c full_page_writes=off",
        "-c listen_addresses=127.0.0.1", $"-k {dir}", "-c max_connections=300");

    /// <summary>
    /// ProcessExit does not run when the test host is killed (blame-hang, Ctrl-C twice, OOM). A detached
    /// shell, started before initdb, polls our pid and once we are gone sends the postmaster (if one got
    /// as far as writing postmaster.pid) SIGQUIT, an immediate shutdown, then removes the directory.
    /// </summary>
    void StartWatchdog()
    {
        var script = $"""
            while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done
            sleep 2 # a pg_ctl start we left running writes postmaster.pid by then, or fails
            pid=$(head -n 1 '{dataDir}/postmaster.pid' 2>/dev/null)
            if [ -n "$pid" ]; then
              kill -QUIT "$pid" 2>/dev/null
              for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            fi
            rm -rf '{dir}'
            """;
        var psi = new ProcessStartInfo("setsid", ["sh", "-c", script])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var watchdog = Process.Start(psi);
    }

    async Task CreateTemplateAsync()
    {
        await using (var conn = new NpgsqlConnection(AdminConnectionString("postgres")))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database {TemplateDatabase}", conn);
            await cmd.ExecuteNonQueryAsync();
        }

        // Unpooled, so no idle connection keeps the template busy ("source database is being accessed").
        await global::AuthServer.Data.Migrator.MigrateAsync(AdminConnectionString(TemplateDatabase), NullLogger.Instance, CancellationToken.None);
        NpgsqlConnection.ClearAllPools();

        await using (var conn = new NpgsqlConnection(AdminConnectionString("postgres")))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"alter database {TemplateDatabase} with is_template true allow_connections false", conn);
            await cmd.ExecuteNonQueryAsync();
        }
    }

    void Stop()
    {
        try
        {
            NpgsqlConnection.ClearAllPools();
            if (File.Exists(Path.Combine(dataDir, "postmaster.pid")))
                RunPgAsync("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).Wait(TimeSpan.FromSeconds(20));
        }
        catch (Exception)
        {
            // Best effort at exit; the watchdog kills the postmaster if this failed.
        }
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (Exception)
        {
            // The watchdog removes the directory after the postmaster is gone.
        }
    }

    Task RunPgAsync(string tool, string[] args) =>
        asPostgresUser ? RunAsync("runuser", ["-u", "postgres", "--", tool, .. args]) : RunAsync(tool, args);

    static async Task RunAsync(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        // pg_ctl start -l gives the postmaster a log file, so it does not inherit these pipes and both
        // reads end when pg_ctl exits.
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException(
                $"{file} {string.Join(' ', args)} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
    }

    static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
