using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A stand-in for the Pwned Passwords range API (`GET /range/{5 hex}`) on 127.0.0.1, answering in its
/// real format: `SUFFIX:COUNT` lines, CRLF-separated, with padding lines of count 0. A password marked
/// <see cref="Pwned"/> is listed with a count; every other prefix's answer still lists the asked-for
/// password's suffix as a padding line (count 0), which must not count as pwned. A prefix can be made to
/// fail (500), hang, or answer garbage. Every request's path, query, headers and body are recorded.
/// </summary>
public sealed class PwnedPasswordsStub : IAsyncDisposable
{
    public enum Behaviour { Answer, Down, Hang, Garbage }

    public sealed record Request(string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string Body);

    readonly WebApplication app;
    readonly ConcurrentDictionary<string, int> pwned = new();          // full hash → count
    readonly ConcurrentDictionary<string, string> padding = new();     // prefix → suffix listed with count 0
    readonly ConcurrentDictionary<string, Behaviour> behaviours = new(); // prefix → behaviour

    public ConcurrentQueue<Request> Requests { get; } = new();
    public Uri BaseUrl { get; private set; } = null!;

    PwnedPasswordsStub(WebApplication app) => this.app = app;

    public static string Sha1Hex(string password) => Convert.ToHexString(SHA1.HashData(Encoding.UTF8.GetBytes(password)));
    public static string Prefix(string password) => Sha1Hex(password)[..5];

    /// <summary>The API lists this password as seen <paramref name="count"/> times.</summary>
    public void Pwned(string password, int count = 42) => pwned[Sha1Hex(password)] = count;

    /// <summary>The API lists this password's suffix as a padding line (count 0): not pwned.</summary>
    public void Padded(string password) => padding[Prefix(password)] = Sha1Hex(password)[5..];

    public void Behave(string password, Behaviour behaviour) => behaviours[Prefix(password)] = behaviour;

    public int RequestsFor(string password) => Requests.Count(r => r.PathAndQuery == "/range/" + Prefix(password));

    public static async Task<PwnedPasswordsStub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var stub = new PwnedPasswordsStub(app);
        app.MapGet("/range/{prefix}", async (HttpContext http, string prefix) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            stub.Requests.Enqueue(new Request(http.Request.Path + http.Request.QueryString,
                http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString()), await reader.ReadToEndAsync()));
            switch (stub.behaviours.GetValueOrDefault(prefix))
            {
                case Behaviour.Down:
                    return Results.Text("error code: 522", statusCode: 500);
                case Behaviour.Hang:
                    await Task.Delay(Timeout.Infinite, http.RequestAborted);
                    return Results.Empty;
                case Behaviour.Garbage:
                    return Results.Text("<html><body>Just a moment...</body></html>", "text/html");
            }
            var lines = new List<string>();
            foreach (var (hash, count) in stub.pwned)
                if (hash.StartsWith(prefix, StringComparison.Ordinal)) lines.Add($"{hash[5..]}:{count}");
            if (stub.padding.TryGetValue(prefix, out var padded)) lines.Add(padded + ":0");
            // Decoys as the real API adds them with Add-Padding: random suffixes with count 0.
            for (var i = 0; i < 5; i++) lines.Add(Convert.ToHexString(RandomNumberGenerator.GetBytes(18))[..35] + ":0");
            lines.Sort(StringComparer.Ordinal);
            return Results.Text(string.Join("\r\n", lines), "text/plain");
        });
        await app.StartAsync();
        stub.BaseUrl = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return stub;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await app.StopAsync(cts.Token);
        await app.DisposeAsync();
    }
}
