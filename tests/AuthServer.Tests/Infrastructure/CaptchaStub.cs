using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A stand-in for hCaptcha/Turnstile `siteverify` on 127.0.0.1. The token decides the answer:
/// <c>good</c> → success, <c>hang</c> → never answers, <c>garbage</c> → not JSON, anything else →
/// refused with <c>invalid-input-response</c>. Every request's form is recorded.
/// </summary>
public sealed class CaptchaStub : IAsyncDisposable
{
    public const string Secret = "captcha-secret-0x0000";
    readonly WebApplication app;

    public ConcurrentQueue<IReadOnlyDictionary<string, string>> Requests { get; } = new();

    /// <summary>Requests to any other path (e.g. a `jku` the server must never fetch).</summary>
    public int OtherHits => otherHits;
    int otherHits;
    public Uri VerifyUrl { get; private set; } = null!;

    CaptchaStub(WebApplication app) => this.app = app;

    public static async Task<CaptchaStub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var stub = new CaptchaStub(app);
        app.MapPost("/siteverify", async (HttpContext http) =>
        {
            var form = await http.Request.ReadFormAsync();
            var values = form.ToDictionary(f => f.Key, f => f.Value.ToString());
            stub.Requests.Enqueue(values);
            switch (values.GetValueOrDefault("response"))
            {
                case "good" when values.GetValueOrDefault("secret") == Secret:
                    return Results.Json(new { success = true, hostname = "localhost" });
                case "hang":
                    await Task.Delay(Timeout.Infinite, http.RequestAborted);
                    return Results.Empty;
                case "garbage":
                    return Results.Text("<html>bad gateway</html>", "text/html");
                default:
                    return Results.Json(new Dictionary<string, object> { ["success"] = false, ["error-codes"] = new[] { "invalid-input-response" } });
            }
        });
        app.MapFallback(() =>
        {
            Interlocked.Increment(ref stub.otherHits);
            return Results.Json(new { keys = Array.Empty<object>() });
        });
        await app.StartAsync();
        stub.VerifyUrl = new Uri(app.Urls.Single().TrimEnd('/') + "/siteverify");
        return stub;
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await app.StopAsync(cts.Token);
        await app.DisposeAsync();
    }
}
