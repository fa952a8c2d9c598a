using Prometheus;

namespace AuthServer.Http;

/// Auth-specific Prometheus series on top of the HTTP ones (prometheus-net's UseHttpMetrics) and the
/// .NET meters it exports (Npgsql pool usage, Kestrel). Outcomes are derived from the response here, in
/// one place, so feature code stays free of metrics calls.
internal static class AuthMetrics
{
    static readonly Counter SignIns = Metrics.CreateCounter("authserver_signins_total",
        "Token grants by grant type and outcome", "grant_type", "outcome");
    static readonly Counter SignUps = Metrics.CreateCounter("authserver_signups_total", "Sign-ups by outcome", "outcome");
    static readonly Counter Rejections = Metrics.CreateCounter("authserver_rate_limited_total", "Requests refused with 429");
    public static readonly Counter RefreshReuse = Metrics.CreateCounter("authserver_refresh_token_reuse_detected_total",
        "Revoked refresh tokens presented again outside the reuse interval (family revoked)");

    public static IApplicationBuilder UseAuthMetrics(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        await next(http);
        var status = http.Response.StatusCode;
        var outcome = status < 400 ? "success" : status == 429 ? "rate_limited" : status >= 500 ? "error" : "rejected";
        if (status == 429) Rejections.Inc();
        if (!HttpMethods.IsPost(http.Request.Method)) return;
        if (http.Request.Path.Equals("/token"))
            SignIns.WithLabels(Grant(http.Request.Query["grant_type"].ToString()), outcome).Inc();
        else if (http.Request.Path.Equals("/signup"))
            SignUps.WithLabels(outcome).Inc();
    });

    // Label values come from a closed set so a client can't create unbounded series.
    static string Grant(string value) =>
        value is "password" or "refresh_token" or "id_token" or "pkce" or "web3" ? value : "other";
}
