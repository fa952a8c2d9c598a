using System.Diagnostics;
using System.Net.Sockets;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A real PgBouncer (Debian's package; `scripts/test.sh` installs it) in transaction mode on a free loopback
/// port in front of the test cluster: each transaction may land on another server connection, as behind
/// Supabase's Supavisor or a production PgBouncer. Two server connections, so that happens all the time.
/// </summary>
public sealed class PgBouncer : IAsyncDisposable
{
    readonly Process process;
    readonly string dir;
    public int Port { get; }

    PgBouncer(Process process, string dir, int port)
    {
        this.process = process;
        this.dir = dir;
        Port = port;
    }

    public static async Task<PgBouncer> StartAsync(int postgresPort)
    {
        var binary = new[] { "/usr/sbin/pgbouncer", "/usr/bin/pgbouncer" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("pgbouncer not found: apt-get install pgbouncer (scripts/test.sh does so as root)");
        var port = ServerProcess.FreePort();
        var dir = Directory.CreateTempSubdirectory("authserver-pgbouncer-").FullName;
        File.WriteAllText(Path.Combine(dir, "users.txt"), "\"postgres\" \"\"\n");
        File.WriteAllText(Path.Combine(dir, "pgbouncer.ini"), $"""
            [databases]
            * = host=127.0.0.1 port={postgresPort}
            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = {port}
            unix_socket_dir =
            auth_type = trust
            auth_file = {dir}/users.txt
            pool_mode = transaction
            default_pool_size = 2
            max_client_conn = 500
            ignore_startup_parameters = extra_float_digits,search_path,options
            logfile = {dir}/pgbouncer.log
            """);
        // PgBouncer refuses to run as root; -u drops to the postgres user, as the cluster itself runs.
        string[] args = Environment.IsPrivilegedProcess ? ["-u", "postgres", $"{dir}/pgbouncer.ini"] : [$"{dir}/pgbouncer.ini"];
        if (Environment.IsPrivilegedProcess && !OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111);
        var process = Process.Start(new ProcessStartInfo(binary, args) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true })
            ?? throw new InvalidOperationException("could not start pgbouncer");
        var bouncer = new PgBouncer(process, dir, port);
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"pgbouncer exited: {process.StandardError.ReadToEnd()} {ReadLog(dir)}");
            try
            {
                using var tcp = new TcpClient();
                await tcp.ConnectAsync("127.0.0.1", port);
                return bouncer;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        await bouncer.DisposeAsync();
        throw new InvalidOperationException("pgbouncer did not start listening: " + ReadLog(dir));
    }

    static string ReadLog(string dir)
    {
        try { return File.ReadAllText(Path.Combine(dir, "pgbouncer.log")); }
        catch (IOException) { return ""; }
    }

    public string Log => ReadLog(dir);

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
        process.Dispose();
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
    }
}
