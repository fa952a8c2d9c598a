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
    public const string SmsSendFailed = "sms_send_failed";
    public const string InsufficientAal = "insufficient_aal";
    public const string MfaFactorNotFound = "mfa_factor_not_found";
    public const string MfaFactorNameConflict = "mfa_factor_name_conflict";
    public const string TooManyEnrolledMfaFactors = "too_many_enrolled_mfa_factors";
    public const string MfaIpAddressMismatch = "mfa_ip_address_mismatch";
    public const string MfaChallengeExpired = "mfa_challenge_expired";
    public const string MfaVerificationFailed = "mfa_verification_failed";
    public const string MfaVerificationRejected = "mfa_verification_rejected";
    public const string MfaVerifiedFactorExists = "mfa_verified_factor_exists";
    public const string MfaTotpEnrollNotEnabled = "mfa_totp_enroll_not_enabled";
    public const string MfaTotpVerifyNotEnabled = "mfa_totp_verify_not_enabled";
    public const string MfaPhoneEnrollNotEnabled = "mfa_phone_enroll_not_enabled";
    public const string MfaPhoneVerifyNotEnabled = "mfa_phone_verify_not_enabled";
    public const string MfaWebAuthnEnrollNotEnabled = "mfa_webauthn_enroll_not_enabled";
    public const string MfaWebAuthnVerifyNotEnabled = "mfa_webauthn_verify_not_enabled";
    public const string FeatureDisabled = "feature_disabled";
    public const string SamlProviderDisabled = "saml_provider_disabled";
    public const string SsoProviderNotFound = "sso_provider_not_found";
    public const string SsoProviderDisabled = "sso_provider_disabled";
    public const string SsoDomainAlreadyExists = "sso_domain_already_exists";
    public const string SamlRelayStateNotFound = "saml_relay_state_not_found";
    public const string SamlRelayStateExpired = "saml_relay_state_expired";
    public const string SamlIdpNotFound = "saml_idp_not_found";
    public const string SamlIdpAlreadyExists = "saml_idp_already_exists";
    public const string SamlAssertionNoUserId = "saml_assertion_no_user_id";
    public const string SamlAssertionNoEmail = "saml_assertion_no_email";
    public const string SamlMetadataFetchFailed = "saml_metadata_fetch_failed";
    public const string SamlEntityIdMismatch = "saml_entity_id_mismatch";
    public const string PasskeyDisabled = "passkey_disabled";
    // Passkeys and WebAuthn (GoTrue apierrors/errorcode.go, issue 15).
    public const string TooManyPasskeys = "too_many_passkeys";
    public const string WebAuthnChallengeNotFound = "webauthn_challenge_not_found";
    public const string WebAuthnChallengeExpired = "webauthn_challenge_expired";
    public const string WebAuthnVerificationFailed = "webauthn_verification_failed";
    public const string WebAuthnCredentialExists = "webauthn_credential_exists";
    public const string Web3ProviderDisabled = "web3_provider_disabled";
    public const string Web3UnsupportedChain = "web3_unsupported_chain";
    // External identities and linking (issue #4).
    public const string ProviderDisabled = "provider_disabled";
    public const string ProviderEmailNeedsVerification = "provider_email_needs_verification";
    public const string ManualLinkingDisabled = "manual_linking_disabled";
    public const string IdentityAlreadyExists = "identity_already_exists";
    public const string IdentityNotFound = "identity_not_found";
    public const string SingleIdentityNotDeletable = "single_identity_not_deletable";
    public const string EmailConflictIdentityNotDeletable = "email_conflict_identity_not_deletable";
    public const string UnexpectedAudience = "unexpected_audience";
    public const string BadOAuthState = "bad_oauth_state";
    public const string BadOAuthCallback = "bad_oauth_callback";
    public const string FlowStateAlreadyUsed = "flow_state_already_used";
    public const string InviteNotFound = "invite_not_found";
    public const string OtpExpired = "otp_expired";
    public const string OtpDisabled = "otp_disabled";
    public const string FlowStateNotFound = "flow_state_not_found";
    public const string FlowStateExpired = "flow_state_expired";
    public const string BadCodeVerifier = "bad_code_verifier";
    public const string ReauthenticationNeeded = "reauthentication_needed";
    public const string ReauthenticationNotValid = "reauthentication_not_valid";
    public const string CaptchaFailed = "captcha_failed";
    public const string EmailAddressNotAuthorized = "email_address_not_authorized";

    // Ours (GoTrue never reads its cookies): a cookie-authenticated request from an origin not trusted
    // with them (Sessions/CookieOrigins).
    public const string CookieOriginNotAllowed = "cookie_origin_not_allowed";
}
