using System.Diagnostics.Metrics;

namespace AuthServer.Http;

/// Auth-specific Prometheus series on top of the HTTP ones (prometheus-net's UseHttpMetrics) and the
/// .NET meters it exports (Npgsql pool usage, Kestrel). Outcomes are derived from the response here, in
/// one place, so feature code stays free of metrics calls.
internal static class AuthMetrics
{
    static readonly Meter Meter = new("AuthServer");
    static readonly Counter<long> SignIns = Meter.CreateCounter<long>("authserver_signins", description: "Token grants by grant type and outcome");
    static readonly Counter<long> SignUps = Meter.CreateCounter<long>("authserver_signups", description: "Sign-ups by outcome");
    static readonly Counter<long> Rejections = Meter.CreateCounter<long>("authserver_rate_limited", description: "Requests refused with 429");
    public static readonly Counter<long> RefreshReuse = Meter.CreateCounter<long>("authserver_refresh_token_reuse_detected",
        description: "Revoked refresh tokens presented again (family revoked outside the reuse interval)");

    public static IApplicationBuilder UseAuthMetrics(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        await next(http);
        var status = http.Response.StatusCode;
        var outcome = status < 400 ? "success" : status == 429 ? "rate_limited" : status >= 500 ? "error" : "rejected";
        if (status == 429) Rejections.Add(1, new KeyValuePair<string, object?>("path", http.Request.Path.Value));
        if (!HttpMethods.IsPost(http.Request.Method)) return;
        if (http.Request.Path.Equals("/token"))
            SignIns.Add(1, new("grant_type", Grant(http.Request.Query["grant_type"].ToString())), new("outcome", outcome));
        else if (http.Request.Path.Equals("/signup"))
            SignUps.Add(1, new KeyValuePair<string, object?>("outcome", outcome));
    });

    // Label values come from a closed set so a client can't create unbounded series.
    static string Grant(string value) =>
        value is "password" or "refresh_token" or "id_token" or "pkce" or "web3" ? value : "other";
}
