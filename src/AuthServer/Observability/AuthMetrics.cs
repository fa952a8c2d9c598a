using System.Diagnostics.Metrics;
using Npgsql;

namespace AuthServer.Observability;

/// Auth-specific series on top of the HTTP, HttpClient, Npgsql and runtime meters (ObservabilityModule).
/// Outcomes are derived from the response here, in one place, so feature code stays free of metrics calls.
/// Counter names gain `_total` in Prometheus, so the scraped names are the ones we always had
/// (`authserver_signins_total`, …).
internal static class AuthMetrics
{
    public const string MeterName = "AuthServer";
    static readonly Meter Meter = new(MeterName);

    static readonly Counter<long> SignIns = Meter.CreateCounter<long>("authserver_signins",
        description: "Token grants by grant type and outcome");
    static readonly Counter<long> SignUps = Meter.CreateCounter<long>("authserver_signups", description: "Sign-ups by outcome");
    static readonly Counter<long> Rejections = Meter.CreateCounter<long>("authserver_rate_limited",
        description: "Requests refused with 429");
    public static readonly Counter<long> RefreshReuse = Meter.CreateCounter<long>("authserver_refresh_token_reuse_detected",
        description: "Revoked refresh tokens presented again outside the reuse interval (family revoked)");
    public static readonly Counter<long> MailSendFailures = Meter.CreateCounter<long>("authserver_mail_send_failures",
        description: "Outbox deliveries that failed and were rescheduled or given up");

    static NpgsqlDataSource? outboxDb;

    static AuthMetrics()
    {
        Meter.CreateObservableGauge("authserver_mail_outbox_depth", ReadOutboxDepth,
            description: "Messages waiting in the mail outbox (all replicas)");
        // GoTrue's own gauge (internal/observability/metrics.go), so its dashboards' liveness panel works.
        Meter.CreateObservableGauge("gotrue_running", () => 1, description: "Whether GoTrue is running (always 1)");
    }

    /// The outbox depth is read from PostgreSQL at collection time, so every replica reports the shared queue.
    public static void TrackOutbox(NpgsqlDataSource db) => outboxDb = db;

    static IEnumerable<Measurement<long>> ReadOutboxDepth()
    {
        if (outboxDb is not { } db) return [];
        try
        {
            using var cmd = db.CreateCommand("select count(*) from authserver.mail_outbox");
            return [new Measurement<long>(Convert.ToInt64(cmd.ExecuteScalar()))];
        }
        catch (Exception e) when (e is NpgsqlException or ObjectDisposedException or InvalidOperationException)
        {
            return []; // database down (or this data source already disposed): no point this time; /ready reports outages
        }
    }

    public static IApplicationBuilder UseAuthMetrics(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        await next(http);
        var status = http.Response.StatusCode;
        var outcome = status < 400 ? "success" : status == 429 ? "rate_limited" : status >= 500 ? "error" : "rejected";
        if (status == 429) Rejections.Add(1);
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
