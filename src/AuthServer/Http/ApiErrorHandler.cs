using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace AuthServer.Http;

/// Renders every failure in GoTrue's shapes (errors.md §1). 4xx are not logged; 5xx once, here.
internal sealed class ApiErrorHandler(ILogger<ApiErrorHandler> log) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        if (exception is OAuthError oauth)
        {
            http.Response.StatusCode = 400;
            await http.Response.WriteAsJsonAsync(
                new JsonObject { ["error"] = oauth.Error, ["error_description"] = oauth.Description }, ct);
            return true;
        }

        var error = Classify(exception);
        if (error.Status >= 500)
            log.LogError(exception, "Request failed with {Status} {ErrorCode}", error.Status, error.Code);

        var v2024 = ApiVersion.Requested(http.Request) >= ApiVersion.V20240101;
        http.Response.StatusCode = error.Status;
        http.Response.Headers["x-sb-error-code"] = error.Code;
        if (v2024) http.Response.Headers[ApiVersion.Header] = "2024-01-01";
        SetRetryAfter(http.Response, error);

        var body = v2024
            ? new JsonObject { ["code"] = error.Code, ["message"] = error.Message }
            : new JsonObject { ["code"] = error.Status, ["error_code"] = error.Code, ["msg"] = error.Message };
        if (!v2024 && error.Status >= 500) body["error_id"] = http.TraceIdentifier;
        if (error.Extra is not null)
            foreach (var (key, value) in error.Extra)
                body[key] = value?.DeepClone();
        await http.Response.WriteAsJsonAsync(body, ct);
        return true;
    }

    /// `Retry-After` in whole seconds, at least 1, for every error that says when (also used by routes that render
    /// errors in another shape). A 429 whose source gives no time (an auth hook answering `http_code` 429) still
    /// gets one: the smallest answer, so every 429 carries the header.
    public static void SetRetryAfter(HttpResponse response, ApiError error)
    {
        long? seconds = error.RetryAfter is { } wait
            ? Math.Clamp((long)Math.Ceiling(wait.TotalSeconds), 1, 86_400)
            : error.Status == 429 ? 1 : null;
        if (seconds is { } s) response.Headers.RetryAfter = s.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    static ApiError Classify(Exception exception) => exception switch
    {
        ApiError e => e,
        BadHttpRequestException { StatusCode: 413 } => new ApiError(413, ErrorCode.RequestEntityTooLarge,
            $"Request body too large (max {BodyReader.MaxBytes} bytes)"),
        BadHttpRequestException e => ApiError.BadRequest(ErrorCode.BadJson,
            "Could not parse request body as JSON: " + e.Message),
        // The database is unreachable, restarting or the pool is exhausted: retryable for clients, and
        // supabase-js keeps its session on 5xx other than 500-class "unexpected" ones it can't tell apart.
        NpgsqlException { IsTransient: true } or TimeoutException => new ApiError(503,
            ErrorCode.UnexpectedFailure, "Service temporarily unavailable, please retry", exception),
        _ => ApiError.Internal("Unexpected failure, please check server logs for more information", exception),
    };
}
