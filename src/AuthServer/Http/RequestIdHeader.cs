using AuthServer.Config;

namespace AuthServer.Http;

/// `REQUEST_ID_HEADER` (GoTrue `addRequestID`, internal/api/middleware.go): when set, a request's id is that
/// header's value (a fresh one when absent or empty), so a gateway's id follows the request into our logs
/// (`request_id` on every line of the request) and into `error_id` of a 500.
internal static class RequestIdHeader
{
    public static void UseRequestIdHeader(this WebApplication app)
    {
        var header = app.Services.GetRequiredService<ApiOptions>().RequestIdHeader;
        if (header is null) return;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AuthServer.Request");
        app.Use(async (http, next) =>
        {
            if (http.Request.Headers[header].ToString() is { Length: > 0 } id) http.TraceIdentifier = id;
            using (log.BeginScope(new Dictionary<string, object> { ["request_id"] = http.TraceIdentifier }))
                await next(http);
        });
    }
}
