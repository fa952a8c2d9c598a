using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// Twilio's Programmable Messaging API on 127.0.0.1 (`POST /2010-04-01/Accounts/{sid}/Messages.json`, form
/// body, basic auth), for GOTRUE_SMS_PROVIDER_API_URL: records each message and answers like Twilio.
/// Set <see cref="Failure"/> to answer with a Twilio error instead.
/// </summary>
public sealed partial class FakeSmsProvider : IAsyncDisposable
{
    public const string AccountSid = "ACtest0123456789";
    public const string AuthToken = "twilio-test-token";
    public const string MessagingServiceSid = "MGtest0123456789";

    public sealed record Message(string To, string From, string Body, string Channel, string Authorization, string Path);

    readonly HttpListener listener = new();
    readonly Task loop;
    readonly List<Message> messages = [];

    public string Url { get; }

    /// <summary>When set, every send answers this HTTP status with a Twilio error body.</summary>
    public (int Status, int Code, string Message)? Failure { get; set; }

    public FakeSmsProvider()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Url = $"http://127.0.0.1:{port}";
        listener.Prefixes.Add(Url + "/");
        listener.Start();
        loop = Task.Run(LoopAsync);
    }

    /// <summary>The settings that point the server's twilio provider here.</summary>
    public void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SMS_PROVIDER"] = "twilio";
        settings["GOTRUE_SMS_TWILIO_ACCOUNT_SID"] = AccountSid;
        settings["GOTRUE_SMS_TWILIO_AUTH_TOKEN"] = AuthToken;
        settings["GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID"] = MessagingServiceSid;
        settings["GOTRUE_SMS_PROVIDER_API_URL"] = Url;
    }

    public IReadOnlyList<Message> Messages { get { lock (messages) return messages.ToList(); } }

    /// <summary>The messages sent to <paramref name="phone"/> (digits, no `+`).</summary>
    public IReadOnlyList<Message> To(string phone) => Messages.Where(m => m.To.EndsWith("+" + phone, StringComparison.Ordinal)).ToList();

    /// <summary>The code in the last SMS to <paramref name="phone"/> (default template "Your code is 123456").</summary>
    public string LastCode(string phone)
    {
        var sent = To(phone);
        Assert.True(sent.Count > 0, $"no SMS was sent to {phone}");
        return Code().Match(sent[^1].Body).Value;
    }

    async Task LoopAsync()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); }
            catch (Exception) { return; }
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var form = System.Web.HttpUtility.ParseQueryString(await reader.ReadToEndAsync());
            var path = context.Request.Url!.AbsolutePath;
            JsonObject answer;
            if (Failure is { } failure)
            {
                context.Response.StatusCode = failure.Status;
                answer = new JsonObject
                {
                    ["code"] = failure.Code,
                    ["message"] = failure.Message,
                    ["more_info"] = $"https://www.twilio.com/docs/errors/{failure.Code}",
                    ["status"] = failure.Status,
                };
            }
            else
            {
                var message = new Message(form["To"] ?? "", form["From"] ?? "", form["Body"] ?? "", form["Channel"] ?? "",
                    context.Request.Headers["Authorization"] ?? "", path);
                lock (messages) messages.Add(message);
                context.Response.StatusCode = 201;
                answer = new JsonObject
                {
                    ["sid"] = "SM" + Guid.NewGuid().ToString("N"),
                    ["to"] = message.To,
                    ["from"] = message.From,
                    ["body"] = message.Body,
                    ["status"] = "queued",
                };
            }
            context.Response.ContentType = "application/json";
            var bytes = Encoding.UTF8.GetBytes(answer.ToJsonString());
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

    [GeneratedRegex("[0-9]{6,10}")]
    private static partial Regex Code();
}

/// <summary>Phone sign-in on, SMS autoconfirm off, SMS through <see cref="FakeSmsProvider"/>.</summary>
public class PhoneFixture : AuthServerFixture, IAsyncLifetime
{
    public FakeSmsProvider Sms { get; } = new();

    public const string TestPhone = "15550000999";
    public const string TestOtp = "424242";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true";
        settings["GOTRUE_SMS_AUTOCONFIRM"] = "false";
        settings["GOTRUE_SMS_TEST_OTP"] = $"{TestPhone}:{TestOtp}";
        Sms.Configure(settings);
    }

    public static string NewPhone() => "1555" + Random.Shared.Next(1_000_000, 9_999_999);

    public new async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Sms.DisposeAsync();
    }
}
