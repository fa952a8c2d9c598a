using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// The server as a real OS process (`dotnet AuthServer.dll` from the test output), for what an in-process
/// server can't show: SIGTERM draining, SIGKILL mid-request (harness "KILL"), replicas dying (M5).
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    readonly Process process;
    readonly StringBuilder output = new();

    public Uri BaseAddress { get; }
    public int Pid => process.Id;
    public string Output { get { lock (output) return output.ToString(); } }
    public bool HasExited => process.HasExited;
    public int ExitCode => process.ExitCode;

    ServerProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        BaseAddress = baseAddress;
    }

    /// <param name="testDefaults">false: none of the test settings below (JWT secret, autoconfirm, bcrypt cost,
    /// raised limits…) is added; only <paramref name="extra"/> with the database, host and port.</param>
    public static async Task<ServerProcess> StartAsync(string connectionString, IDictionary<string, string>? extra = null,
        bool testDefaults = true)
    {
        var port = FreePort();
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "AuthServer.dll")])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("GOTRUE_", StringComparison.Ordinal) || k is "DATABASE_URL" or "PORT" or "ASPNETCORE_URLS").ToList())
            psi.Environment.Remove(key);
        var settings = testDefaults ? new Dictionary<string, string>
        {
            ["GOTRUE_JWT_SECRET"] = AuthServerFixture.JwtSecret,
            ["GOTRUE_SITE_URL"] = "http://localhost:3000",
            ["API_EXTERNAL_URL"] = "http://localhost:9999",
            ["GOTRUE_DB_DRIVER"] = "postgres",
            ["DATABASE_URL"] = connectionString,
            ["GOTRUE_API_HOST"] = "127.0.0.1",
            ["PORT"] = port.ToString(),
            ["GOTRUE_MAILER_AUTOCONFIRM"] = "true",
            ["GOTRUE_PASSWORD_HASH_COST"] = "4",
            ["GOTRUE_LOG_LEVEL"] = "warn",
            ["GOTRUE_RATE_LIMIT_TOKEN_REFRESH"] = "1000000",
            ["GOTRUE_RATE_LIMIT_OTP"] = "1000000",
        } : [];
        foreach (var (key, value) in extra ?? new Dictionary<string, string>()) settings[key] = value;
        settings["DATABASE_URL"] = connectionString;
        settings["GOTRUE_API_HOST"] = "127.0.0.1";
        settings["PORT"] = port.ToString();
        foreach (var (key, value) in settings) psi.Environment[key] = value;

        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start the server process");
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var client = server.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"server exited with {process.ExitCode}:\n{server.Output}");
            try
            {
                if ((await client.GetAsync("/health")).StatusCode == HttpStatusCode.OK) return server;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        await server.DisposeAsync();
        throw new TimeoutException($"server did not become healthy:\n{server.Output}");
    }

    /// The process's output once it contains <paramref name="text"/>, or after 30 s as it is then: log lines reach us
    /// through the logger's queue and the pipe some time after the response that caused them.
    public async Task<string> OutputOnceItContainsAsync(string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!Output.Contains(text, StringComparison.Ordinal) && DateTime.UtcNow < deadline) await Task.Delay(50);
        return Output;
    }

    public HttpClient CreateClient(string? apiVersion = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(AuthServerFixture.UserAgent);
        if (apiVersion is not null) client.DefaultRequestHeaders.Add("X-Supabase-Api-Version", apiVersion);
        return client;
    }

    /// <summary>SIGTERM, as Kubernetes or Docker send on shutdown.</summary>
    public void Terminate() => Signal("TERM");

    /// <summary>SIGKILL: no clean-up code runs.</summary>
    public void Kill() => Signal("KILL");

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        return process.ExitCode;
    }

    void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", process.Id.ToString()]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    void Append(string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}
