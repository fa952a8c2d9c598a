using System.Net;
using System.Net.Sockets;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// Clients whose TCP connections come from a chosen loopback address (127.0.0.2–254), so a test can play
/// several client IPs or a proxy at a known address (security-tests harness "IPS").
/// </summary>
public static class LoopbackClients
{
    public static HttpClient From(string sourceIp, Uri baseAddress, string? apiVersion = null)
    {
        var source = IPAddress.Parse(sourceIp);
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var client = new HttpClient(handler, disposeHandler: true) { BaseAddress = baseAddress };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(AuthServerFixture.UserAgent);
        if (apiVersion is not null) client.DefaultRequestHeaders.Add("X-Supabase-Api-Version", apiVersion);
        return client;
    }
}
