using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A local OTLP/HTTP collector: accepts every POST (the exporter's /v1/metrics, /v1/traces) with 200 and keeps
/// the bodies. OTLP protobuf carries names as plain UTF-8, so a test looks for a metric or span name in them.
/// </summary>
public sealed class OtlpCollectorStub : IDisposable
{
    readonly HttpListener listener = new();
    readonly ConcurrentQueue<(string Path, byte[] Body)> received = new();

    public OtlpCollectorStub()
    {
        Port = ServerProcess.FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        listener.Start();
        _ = Task.Run(LoopAsync);
    }

    public int Port { get; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>The bodies posted to <paramref name="path"/>, decoded as Latin-1 so any byte survives.</summary>
    public string Bodies(string path) =>
        string.Concat(received.Where(r => r.Path == path).Select(r => Encoding.Latin1.GetString(r.Body)));

    public IReadOnlyList<string> Paths => received.Select(r => r.Path).ToList();

    async Task LoopAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            received.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public void Dispose() => listener.Close();
}
