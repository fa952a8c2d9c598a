using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A Standard Webhooks receiver on 127.0.0.1 for HTTP auth hooks: records each call (body, headers, whether
/// the signature verified with <see cref="Secret"/>) and answers with <see cref="Respond"/>.
/// </summary>
public sealed class HookReceiver : IAsyncDisposable
{
    public const string Secret = "v1,whsec_" + "dGVzdC1ob29rLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"; // base64("test-hook-secret-0123456789abcdef")

    public sealed record Call(JsonObject Body, string WebhookId, string Timestamp, string Signature, bool SignatureValid);

    readonly HttpListener listener = new();
    readonly Task loop;
    readonly List<Call> calls = [];

    public string Url { get; }
    public Func<JsonObject, (int Status, string? ContentType, string Body)> Respond { get; set; } =
        body => (200, "application/json", new JsonObject { ["claims"] = body["claims"]?.DeepClone() }.ToJsonString());

    public HookReceiver()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}/hook";
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        loop = Task.Run(LoopAsync);
    }

    public IReadOnlyList<Call> Calls { get { lock (calls) return calls.ToList(); } }

    async Task LoopAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception) { return; }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var text = await reader.ReadToEndAsync();
            var id = context.Request.Headers["webhook-id"] ?? "";
            var timestamp = context.Request.Headers["webhook-timestamp"] ?? "";
            var signature = context.Request.Headers["webhook-signature"] ?? "";
            var key = Convert.FromBase64String(Secret["v1,whsec_".Length..]);
            var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{text}")));
            var body = JsonNode.Parse(text)!.AsObject();
            lock (calls) calls.Add(new Call(body, id, timestamp, signature, signature.Split(", ").Contains(expected)));

            var (status, contentType, answer) = Respond(body);
            context.Response.StatusCode = status;
            if (contentType is not null) context.Response.ContentType = contentType;
            var bytes = Encoding.UTF8.GetBytes(answer);
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // HttpListener may throw while tearing down a connection still in flight; the test is over either way.
        try { listener.Stop(); } catch (HttpListenerException) { }
        try { listener.Close(); } catch (HttpListenerException) { }
        try { await loop; } catch (Exception) { }
    }
}
