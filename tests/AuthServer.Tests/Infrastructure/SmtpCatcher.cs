using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using MimeKit;

namespace AuthServer.Tests.Infrastructure;

/// <summary>A message the catcher received, decoded with MimeKit.</summary>
public sealed partial record ReceivedMail(string From, string To, string Subject, string Html, HeaderList Headers)
{
    /// <summary>The first link (href) in the HTML body, HTML-decoded.</summary>
    public string Link => WebUtility.HtmlDecode(Href().Match(Html).Groups[1].Value);

    /// <summary>The OTP after "code: " (the test templates print {{ .Token }} that way).</summary>
    public string Code => Digits().Match(Html).Groups[1].Value;

    [GeneratedRegex("href=\"([^\"]+)\"")]
    private static partial Regex Href();

    [GeneratedRegex(@"code: ([0-9]+)")]
    private static partial Regex Digits();
}

/// <summary>
/// A tiny SMTP server on 127.0.0.1 for the test run: MailKit in the server really talks SMTP to it. It can
/// be stopped and restarted on the same port (an outage) or told to accept connections and never answer
/// (a hanging server).
/// </summary>
public sealed class SmtpCatcher : IAsyncDisposable
{
    readonly List<ReceivedMail> received = [];
    readonly SemaphoreSlim arrived = new(0);
    TcpListener? listener;
    CancellationTokenSource? stop;
    readonly List<TcpClient> clients = [];

    public int Port { get; private set; }

    /// <summary>Accept connections but never send the greeting.</summary>
    public bool Hang { get; set; }

    public void Start(int port = 0)
    {
        listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        stop = new CancellationTokenSource();
        _ = AcceptLoopAsync(listener, stop.Token);
    }

    public void Stop()
    {
        stop?.Cancel();
        listener?.Stop();
        lock (clients)
        {
            foreach (var c in clients) c.Dispose();
            clients.Clear();
        }
        listener = null;
    }

    /// <summary>A free loopback port nobody listens on (for an SMTP server that is down).</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public Task<List<ReceivedMail>> ReceivedAsync()
    {
        lock (received) return Task.FromResult(received.ToList());
    }

    public List<ReceivedMail> To(string address)
    {
        lock (received) return received.Where(m => m.To.Equals(address, StringComparison.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>Waits until <paramref name="count"/> messages to <paramref name="address"/> have arrived.</summary>
    public async Task<List<ReceivedMail>> WaitForAsync(string address, int count = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var mails = To(address);
            if (mails.Count >= count) return mails;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"expected {count} mail(s) to {address}, got {mails.Count}");
            await arrived.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>The latest message to <paramref name="address"/> once <paramref name="count"/> have arrived.</summary>
    public async Task<ReceivedMail> LatestAsync(string address, int count = 1) => (await WaitForAsync(address, count))[^1];

    async Task AcceptLoopAsync(TcpListener server, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await server.AcceptTcpClientAsync(ct); }
            catch (Exception) { return; }
            lock (clients) clients.Add(client);
            _ = Task.Run(() => SessionAsync(client, ct), CancellationToken.None);
        }
    }

    async Task SessionAsync(TcpClient client, CancellationToken ct)
    {
        try
        {
            if (Hang)
            {
                await Task.Delay(Timeout.Infinite, ct);
                return;
            }
            using var _ = client;
            var stream = client.GetStream();
            var reader = new StreamReader(stream, Encoding.Latin1);
            var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
            await writer.WriteLineAsync("220 catcher ESMTP");
            string from = "", to = "";
            while (await reader.ReadLineAsync(ct) is { } line)
            {
                var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                        await writer.WriteAsync("250-catcher\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
                        break;
                    case "HELO" or "NOOP" or "RSET":
                        await writer.WriteLineAsync("250 OK");
                        break;
                    case "MAIL":
                        from = Address(line);
                        await writer.WriteLineAsync("250 OK");
                        break;
                    case "RCPT":
                        to = Address(line);
                        await writer.WriteLineAsync("250 OK");
                        break;
                    case "DATA":
                        await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                        var data = new StringBuilder();
                        while (await reader.ReadLineAsync(ct) is { } dataLine && dataLine != ".")
                            data.Append(dataLine.StartsWith("..") ? dataLine[1..] : dataLine).Append("\r\n");
                        var message = await MimeMessage.LoadAsync(new MemoryStream(Encoding.Latin1.GetBytes(data.ToString())), ct);
                        lock (received)
                            received.Add(new ReceivedMail(from, to, message.Subject ?? "", message.HtmlBody ?? message.TextBody ?? "",
                                message.Headers));
                        arrived.Release();
                        await writer.WriteLineAsync("250 OK queued");
                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 Bye");
                        return;
                    default:
                        await writer.WriteLineAsync("502 Command not implemented");
                        break;
                }
            }
        }
        catch (Exception) when (ct.IsCancellationRequested || client.Connected is false) { }
        catch (IOException) { }
    }

    static string Address(string line)
    {
        var start = line.IndexOf('<');
        var end = line.IndexOf('>');
        return start >= 0 && end > start ? line[(start + 1)..end] : "";
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        return ValueTask.CompletedTask;
    }
}
