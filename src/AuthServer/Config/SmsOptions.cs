using System.Globalization;

namespace AuthServer.Config;

/// <summary>SMS OTPs and the SMS provider (config.md §4, GoTrue `SmsProviderConfiguration`).</summary>
internal sealed class SmsOptions
{
    public const string DefaultTemplate = "Your code is {{ .Code }}";

    /// <summary>`GOTRUE_SMS_PROVIDER`: twilio, twilio_verify, messagebird, textlocal, vonage (or empty).</summary>
    public string Provider { get; init; } = "";
    /// <summary>`GOTRUE_SMS_OTP_EXP`: seconds an SMS OTP stays valid (default 60; 0 becomes 60, as in GoTrue).</summary>
    public TimeSpan OtpExpiry { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>`GOTRUE_SMS_OTP_LENGTH` (default 6; a value outside 6–10 becomes 6, as in GoTrue).</summary>
    public int OtpLength { get; init; } = 6;
    /// <summary>`GOTRUE_SMS_MAX_FREQUENCY`: minimum interval between two SMS of one kind to one user (default 1m).</summary>
    public TimeSpan MaxFrequency { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>`GOTRUE_SMS_TEMPLATE` (default "Your code is {{ .Code }}").</summary>
    public string Template { get; init; } = DefaultTemplate;
    /// <summary>`GOTRUE_SMS_TEST_OTP`: `phone:otp,…` fixed codes; those phones get no SMS.</summary>
    public IReadOnlyDictionary<string, string> TestOtp { get; init; } = new Dictionary<string, string>();
    /// <summary>`GOTRUE_SMS_TEST_OTP_VALID_UNTIL`: RFC 3339 time after which the test OTPs stop working.</summary>
    public DateTimeOffset? TestOtpValidUntil { get; init; }

    /// <summary>`GOTRUE_SMS_TWILIO_ACCOUNT_SID` / `_AUTH_TOKEN` / `_MESSAGE_SERVICE_SID` / `_CONTENT_SID`.</summary>
    public TwilioSettings Twilio { get; init; } = new();
    /// <summary>`GOTRUE_SMS_TWILIO_VERIFY_ACCOUNT_SID` / `_AUTH_TOKEN` / `_MESSAGE_SERVICE_SID`.</summary>
    public TwilioSettings TwilioVerify { get; init; } = new();
    /// <summary>`GOTRUE_SMS_MESSAGEBIRD_ACCESS_KEY` / `_ORIGINATOR`.</summary>
    public (string AccessKey, string Originator) Messagebird { get; init; } = ("", "");
    /// <summary>`GOTRUE_SMS_TEXTLOCAL_API_KEY` / `_SENDER`.</summary>
    public (string ApiKey, string Sender) Textlocal { get; init; } = ("", "");
    /// <summary>`GOTRUE_SMS_VONAGE_API_KEY` / `_API_SECRET` / `_FROM`.</summary>
    public (string ApiKey, string ApiSecret, string From) Vonage { get; init; } = ("", "", "");

    /// <summary>
    /// `GOTRUE_SMS_PROVIDER_API_URL` (ours; GoTrue has no such setting): replaces the provider's API origin
    /// (`https://api.twilio.com`, `https://verify.twilio.com`, `https://rest.messagebird.com`,
    /// `https://api.textlocal.in`, `https://rest.nexmo.com`), e.g. to reach a regional edge, a proxy, or
    /// a fake provider in tests. The provider's own path is appended to it.
    /// </summary>
    public Uri? ProviderApiUrl { get; init; }

    public bool IsTwilioVerify => Provider == "twilio_verify";

    internal sealed record TwilioSettings(string AccountSid = "", string AuthToken = "", string MessageServiceSid = "",
        string ContentSid = "");

    /// GoTrue `GetTestOTP`: a listed phone has its fixed code until `_VALID_UNTIL` passes.
    public string? TestOtpFor(string phone, DateTimeOffset now) =>
        (TestOtpValidUntil is not { } until || now < until) && TestOtp.TryGetValue(phone, out var otp) ? otp : null;

    /// The provider and its credentials are checked when an SMS is to be sent, as GoTrue's
    /// `GetSmsProvider` does (see <see cref="MissingSetting"/>), never at boot.
    public static SmsOptions Load(EnvReader env)
    {
        var provider = env.String("GOTRUE_SMS_PROVIDER") ?? "";
        // GoTrue conf ApplyDefaults: an expiry of 0 becomes 60 s, a length outside 6–10 becomes 6.
        var otpExp = env.Int("GOTRUE_SMS_OTP_EXP", 60, 0);
        var otpLength = env.Int("GOTRUE_SMS_OTP_LENGTH", 6);
        return new SmsOptions
        {
            Provider = provider,
            OtpExpiry = TimeSpan.FromSeconds(otpExp == 0 ? 60 : otpExp),
            OtpLength = otpLength is >= 6 and <= 10 ? otpLength : 6,
            MaxFrequency = env.Duration("GOTRUE_SMS_MAX_FREQUENCY") is { } f && f > TimeSpan.Zero ? f : TimeSpan.FromMinutes(1),
            Template = env.String("GOTRUE_SMS_TEMPLATE") ?? DefaultTemplate,
            TestOtp = ParseTestOtp(env.String("GOTRUE_SMS_TEST_OTP")),
            TestOtpValidUntil = ParseTime(env, "GOTRUE_SMS_TEST_OTP_VALID_UNTIL"),
            Twilio = new TwilioSettings(env.String("GOTRUE_SMS_TWILIO_ACCOUNT_SID") ?? "", env.String("GOTRUE_SMS_TWILIO_AUTH_TOKEN") ?? "",
                env.String("GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID") ?? "", env.String("GOTRUE_SMS_TWILIO_CONTENT_SID") ?? ""),
            TwilioVerify = new TwilioSettings(env.String("GOTRUE_SMS_TWILIO_VERIFY_ACCOUNT_SID") ?? "",
                env.String("GOTRUE_SMS_TWILIO_VERIFY_AUTH_TOKEN") ?? "", env.String("GOTRUE_SMS_TWILIO_VERIFY_MESSAGE_SERVICE_SID") ?? ""),
            Messagebird = (env.String("GOTRUE_SMS_MESSAGEBIRD_ACCESS_KEY") ?? "", env.String("GOTRUE_SMS_MESSAGEBIRD_ORIGINATOR") ?? ""),
            Textlocal = (env.String("GOTRUE_SMS_TEXTLOCAL_API_KEY") ?? "", env.String("GOTRUE_SMS_TEXTLOCAL_SENDER") ?? ""),
            Vonage = (env.String("GOTRUE_SMS_VONAGE_API_KEY") ?? "", env.String("GOTRUE_SMS_VONAGE_API_SECRET") ?? "",
                env.String("GOTRUE_SMS_VONAGE_FROM") ?? ""),
            ProviderApiUrl = ParseUrl(env, "GOTRUE_SMS_PROVIDER_API_URL"),
            HttpTimeout = env.Duration("GOTRUE_INTERNAL_HTTP_TIMEOUT") is { } t && t > TimeSpan.Zero ? t : TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>`GOTRUE_INTERNAL_HTTP_TIMEOUT` (default 10 s): each SMS provider call, as GoTrue's sms_provider.go.</summary>
    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// GoTrue `GetSmsProvider` and each provider's `Validate`: the first setting that keeps the provider
    /// from being used (unknown provider, missing credential), or null. GoTrue checks this per send and
    /// answers 500 "Unable to get SMS provider"; so do we (Sms/SmsSender), and boot regardless.
    public string? MissingSetting()
    {
        string[] needed = Provider switch
        {
            "twilio" => Need((Twilio.AccountSid, "GOTRUE_SMS_TWILIO_ACCOUNT_SID"), (Twilio.AuthToken, "GOTRUE_SMS_TWILIO_AUTH_TOKEN"),
                (Twilio.MessageServiceSid, "GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID")),
            "twilio_verify" => Need((TwilioVerify.AccountSid, "GOTRUE_SMS_TWILIO_VERIFY_ACCOUNT_SID"),
                (TwilioVerify.AuthToken, "GOTRUE_SMS_TWILIO_VERIFY_AUTH_TOKEN"),
                (TwilioVerify.MessageServiceSid, "GOTRUE_SMS_TWILIO_VERIFY_MESSAGE_SERVICE_SID")),
            "messagebird" => Need((Messagebird.AccessKey, "GOTRUE_SMS_MESSAGEBIRD_ACCESS_KEY"),
                (Messagebird.Originator, "GOTRUE_SMS_MESSAGEBIRD_ORIGINATOR")),
            "textlocal" => Need((Textlocal.ApiKey, "GOTRUE_SMS_TEXTLOCAL_API_KEY"), (Textlocal.Sender, "GOTRUE_SMS_TEXTLOCAL_SENDER")),
            "vonage" => Need((Vonage.ApiKey, "GOTRUE_SMS_VONAGE_API_KEY"), (Vonage.ApiSecret, "GOTRUE_SMS_VONAGE_API_SECRET"),
                (Vonage.From, "GOTRUE_SMS_VONAGE_FROM")),
            _ => ["GOTRUE_SMS_PROVIDER"],
        };
        return needed.FirstOrDefault();

        static string[] Need(params (string Value, string Name)[] settings) =>
            settings.Where(s => s.Value.Length == 0).Select(s => s.Name).ToArray();
    }

    /// GoTrue decodes `phone:otp,phone:otp` into a map (envconfig); phones as stored, without `+`.
    static Dictionary<string, string> ParseTestOtp(string? value)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (value is null) return map;
        foreach (var pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = pair.Split(':', 2);
            if (parts.Length != 2 || parts[1].Length == 0)
                throw new ConfigException($"GOTRUE_SMS_TEST_OTP: '{pair}' is not phone:otp");
            map[parts[0].TrimStart('+').Replace(" ", "")] = parts[1];
        }
        return map;
    }

    static DateTimeOffset? ParseTime(EnvReader env, string name)
    {
        var value = env.String(name);
        if (value is null) return null;
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : throw new ConfigException($"{name}: '{value}' is not an RFC 3339 time");
    }

    static Uri? ParseUrl(EnvReader env, string name)
    {
        var value = env.String(name);
        if (value is null) return null;
        return Uri.TryCreate(value.TrimEnd('/'), UriKind.Absolute, out var url) && url.Scheme is "http" or "https"
            ? url
            : throw new ConfigException($"{name}: '{value}' is not an http(s) URL");
    }
}
