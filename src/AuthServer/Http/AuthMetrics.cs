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

    public static readonly Counter MailSendFailures = Metrics.CreateCounter("authserver_mail_send_failures_total",
        "Outbox deliveries that failed and were rescheduled or given up");
    static readonly Gauge OutboxDepth = Metrics.CreateGauge("authserver_mail_outbox_depth",
        "Messages waiting in the mail outbox (all replicas)");

    /// The outbox depth is read from PostgreSQL at scrape time, so every replica reports the shared queue.
    public static void TrackOutbox(Npgsql.NpgsqlDataSource db) =>
        Metrics.DefaultRegistry.AddBeforeCollectCallback(async ct =>
        {
            try
            {
                await using var cmd = db.CreateCommand("select count(*) from authserver.mail_outbox");
                OutboxDepth.Set(Convert.ToDouble(await cmd.ExecuteScalarAsync(ct)));
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or ObjectDisposedException or InvalidOperationException)
            {
                // Database down (or this data source already disposed): keep the last value; /ready reports outages.
            }
        });

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
