namespace AuthServer.Http;

/// `error_code` strings exactly as GoTrue emits them (shared/spec/errors.md §3).
internal static class ErrorCode
{
    public const string Unknown = "unknown";
    public const string UnexpectedFailure = "unexpected_failure";
    public const string ValidationFailed = "validation_failed";
    public const string BadJson = "bad_json";
    public const string RequestEntityTooLarge = "request_entity_too_large";
    public const string RequestTimeout = "request_timeout";
    public const string NoAuthorization = "no_authorization";
    public const string BadJwt = "bad_jwt";
    public const string NotAdmin = "not_admin";
    public const string UserNotFound = "user_not_found";
    public const string SessionNotFound = "session_not_found";
    public const string SessionExpired = "session_expired";
    public const string RefreshTokenNotFound = "refresh_token_not_found";
    public const string RefreshTokenAlreadyUsed = "refresh_token_already_used";
    public const string Conflict = "conflict";
    public const string InvalidCredentials = "invalid_credentials";
    public const string EmailNotConfirmed = "email_not_confirmed";
    public const string PhoneNotConfirmed = "phone_not_confirmed";
    public const string UserBanned = "user_banned";
    public const string EmailExists = "email_exists";
    public const string PhoneExists = "phone_exists";
    public const string UserAlreadyExists = "user_already_exists";
    public const string SignupDisabled = "signup_disabled";
    public const string AnonymousProviderDisabled = "anonymous_provider_disabled";
    public const string EmailProviderDisabled = "email_provider_disabled";
    public const string PhoneProviderDisabled = "phone_provider_disabled";
    public const string WeakPassword = "weak_password";
    public const string SamePassword = "same_password";
    public const string OverRequestRateLimit = "over_request_rate_limit";
    public const string OverEmailSendRateLimit = "over_email_send_rate_limit";
    public const string OverSmsSendRateLimit = "over_sms_send_rate_limit";
    public const string InsufficientAal = "insufficient_aal";
    public const string CaptchaFailed = "captcha_failed";
}
