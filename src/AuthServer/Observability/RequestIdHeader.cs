using AuthServer.Config;

namespace AuthServer.Observability;

/// The request id on every log line of a request (`request_id` in the JSON scopes), and in `error_id` of a 500.
/// With `REQUEST_ID_HEADER` (GoTrue `addRequestID`, internal/api/middleware.go) it is that header's value (a
/// fresh one when absent or empty), so a gateway's id follows the request into our logs; otherwise ASP.NET
/// Core's own.
internal static class RequestIdHeader
{
    public static void UseRequestIdHeader(this WebApplication app)
    {
        var header = app.Services.GetRequiredService<ApiOptions>().RequestIdHeader;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AuthServer.Request");
        app.Use(async (http, next) =>
        {
            if (header is not null && http.Request.Headers[header].ToString() is { Length: > 0 } id) http.TraceIdentifier = id;
            using (log.BeginScope(new RequestIdScope(http.TraceIdentifier)))
                await next(http);
        });
    }

    /// `request_id` as a JSON field (JsonConsole writes a scope's pairs) and as `request_id:…` in text logs.
    sealed class RequestIdScope(string id) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 1;
        public KeyValuePair<string, object?> this[int index] => new("request_id", id);
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() { yield return this[0]; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => $"request_id:{id}";
    }
}
