using System.Text.Json.Nodes;

namespace AuthServer.Http;

/// The one error type: status, GoTrue `error_code`, public message; the cause is logged, never sent.
internal sealed class ApiError(int status, string code, string message, Exception? cause = null)
    : Exception(message, cause)
{
    public int Status { get; } = status;
    public string Code { get; } = code;

    /// Extra top-level fields some errors carry (e.g. `weak_password`).
    public JsonObject? Extra { get; init; }

    /// When the client may try again: sent as `Retry-After` in whole seconds (RFC 9110 §10.2.3).
    public TimeSpan? RetryAfter { get; init; }

    public static ApiError BadRequest(string code, string message) => new(400, code, message);
    public static ApiError Unauthorized(string code, string message) => new(401, code, message);
    public static ApiError Forbidden(string code, string message) => new(403, code, message);
    public static ApiError NotFound(string code, string message) => new(404, code, message);
    public static ApiError Conflict(string code, string message) => new(409, code, message);
    public static ApiError Unprocessable(string code, string message) => new(422, code, message);

    /// Every 429 says when to come back (GoTrue sends no `Retry-After`; we always do).
    public static ApiError TooManyRequests(string code, string message, TimeSpan retryAfter) =>
        new(429, code, message) { RetryAfter = retryAfter };

    public static ApiError Internal(string message, Exception? cause = null) =>
        new(500, ErrorCode.UnexpectedFailure, message, cause);
}

/// GoTrue's OAuth-shaped error `{error, error_description}`: always 400, no error_code (errors.md §1.4).
internal sealed class OAuthError(string error, string description) : Exception(description)
{
    public string Error { get; } = error;
    public string Description { get; } = description;
}
