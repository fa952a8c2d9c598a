using AuthServer.Config;
using AuthServer.Http;

namespace AuthServer.Features.External;

/// How /callback reports a failure (GoTrue `redirectErrors` / `getErrorQueryString`): state problems 303 to
/// SITE_URL, anything later 302 to the flow's target with the error in the query and the fragment.
internal static class CallbackErrors
{
    public static IResult StateError(ApiOptions api, ApiError error) => new SeeOther(RedirectUrls.WithQuery(api.SiteUrl,
    [
        new("error", OAuthErrorName(error)), new("error_code", error.Code), new("error_description", error.Message),
    ]));

    /// Errors after the state check: 302 to the target with the error in the query and the fragment.
    public static IResult ErrorRedirect(string target, Exception e)
    {
        var values = new List<KeyValuePair<string, string>>();
        if (e is OAuthError oauth)
        {
            values.Add(new("error", oauth.Error));
            if (oauth.Description.Length > 0) values.Add(new("error_description", oauth.Description));
        }
        else
        {
            var error = e as ApiError ?? new ApiError(503, ErrorCode.UnexpectedFailure,
                "Unable to reach the identity provider, please retry", e);
            values.Add(new("error", OAuthErrorName(error)));
            values.Add(new("error_code", error.Code));
            values.Add(new("error_description", error.Message));
        }
        var url = RedirectUrls.WithQuery(target, values);
        return Results.Redirect(RedirectUrls.WithFragment(url, [.. values, new("sb", "")]));
    }

    static string OAuthErrorName(ApiError error) => error.Code switch
    {
        ErrorCode.SignupDisabled or ErrorCode.UserBanned or ErrorCode.ProviderEmailNeedsVerification => "access_denied",
        _ => error.Status switch
        {
            400 => "invalid_request",
            401 => "unauthorized_client",
            403 => "access_denied",
            503 => "temporarily_unavailable",
            _ => "server_error",
        },
    };

    sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
            http.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}
