using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AuthServer.Config;

namespace AuthServer.Sms;

/// A provider refused or failed to take the message; the text becomes part of GoTrue's
/// "Error sending … OTP to provider: …" answer (422 `sms_send_failed`).
internal sealed class SmsProviderException(string message, Exception? cause = null) : Exception(message, cause);

/// One SMS provider's HTTP API, called as GoTrue's internal/api/sms_provider/*.go call it.
internal abstract partial class SmsProvider
{
    public const string SmsChannel = "sms";
    public const string WhatsappChannel = "whatsapp";

    // GoTrue sms_provider.go `defaultTimeout`: GOTRUE_INTERNAL_HTTP_TIMEOUT (10 s) for every provider call,
    // applied per request (SmsOptions.HttpTimeout); the shared client itself never times out.
    static readonly HttpClient Client = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>GOTRUE_INTERNAL_HTTP_TIMEOUT for this provider's calls.</summary>
    protected TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// Sends <paramref name="message"/> (or, for WhatsApp templates and Twilio Verify, the provider's own
    /// text around <paramref name="otp"/>); returns the provider's message id.
    public abstract Task<string> SendAsync(string phone, string message, string channel, string otp, CancellationToken ct);

    /// The configured provider, or null when it cannot be used (GOTRUE_SMS_PROVIDER empty or unknown, a
    /// credential missing): GoTrue `GetSmsProvider` fails then, and each send answers 500.
    public static SmsProvider? Create(SmsOptions options) => options.MissingSetting() is not null ? null : options.Provider switch
    {
        "twilio" => new TwilioProvider(options.Twilio, Base(options, "https://api.twilio.com")) { HttpTimeout = options.HttpTimeout },
        "twilio_verify" => new TwilioVerifyProvider(options.TwilioVerify, Base(options, "https://verify.twilio.com")) { HttpTimeout = options.HttpTimeout },
        "messagebird" => new MessagebirdProvider(options, Base(options, "https://rest.messagebird.com")) { HttpTimeout = options.HttpTimeout },
        "textlocal" => new TextlocalProvider(options, Base(options, "https://api.textlocal.in")) { HttpTimeout = options.HttpTimeout },
        "vonage" => new VonageProvider(options, Base(options, "https://rest.nexmo.com")) { HttpTimeout = options.HttpTimeout },
        _ => null,
    };

    /// GoTrue `IsValidMessageChannel`: WhatsApp only through Twilio (any channel when the hook sends).
    public static bool IsValidChannel(string channel, string provider, bool hookEnabled) =>
        hookEnabled || channel == SmsChannel || (channel == WhatsappChannel && provider is "twilio" or "twilio_verify");

    static string Base(SmsOptions options, string origin) => options.ProviderApiUrl?.ToString().TrimEnd('/') ?? origin;

    /// POSTs a form and returns (status, parsed JSON body); transport failures and unreadable answers
    /// become <see cref="SmsProviderException"/>, never a 500.
    protected async Task<(HttpStatusCode Status, JsonNode? Body)> PostFormAsync(string url,
        IEnumerable<KeyValuePair<string, string>> form, Action<HttpRequestMessage>? authorize, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new FormUrlEncodedContent(form) };
        authorize?.Invoke(request);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(HttpTimeout);
            using var response = await Client.SendAsync(request, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            JsonNode? body;
            try { body = text.Length == 0 ? null : JsonNode.Parse(text); }
            catch (JsonException e) { throw new SmsProviderException($"invalid response from provider (HTTP {(int)response.StatusCode})", e); }
            return (response.StatusCode, body);
        }
        catch (HttpRequestException e)
        {
            throw new SmsProviderException($"Post \"{url}\": {e.Message}", e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new SmsProviderException($"Post \"{url}\": timeout awaiting response", e);
        }
    }

    protected static void BasicAuth(HttpRequestMessage request, string user, string password) =>
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    protected static string Str(JsonNode? node, string name) =>
        node?[name] is JsonValue v ? v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : v.ToJsonString() : "";

    protected static bool Ok(HttpStatusCode status) => status is HttpStatusCode.OK or HttpStatusCode.Created;

    /// GoTrue `twilioErrResponse.Error()`.
    protected static SmsProviderException TwilioError(JsonNode? body) =>
        new($"{Str(body, "message")} More information: {Str(body, "more_info")}");

    [GeneratedRegex("^[1-9][0-9]{1,14}$")]
    protected static partial Regex E164();
}

/// Programmable Messaging: `POST /2010-04-01/Accounts/{sid}/Messages.json` (GoTrue twilio.go).
internal sealed class TwilioProvider(SmsOptions.TwilioSettings config, string origin) : SmsProvider
{
    public override async Task<string> SendAsync(string phone, string message, string channel, string otp, CancellationToken ct)
    {
        if (channel is not (SmsChannel or WhatsappChannel))
            throw new SmsProviderException($"channel type \"{channel}\" is not supported for Twilio");
        var sender = config.MessageServiceSid;
        var receiver = "+" + phone;
        List<KeyValuePair<string, string>> form;
        if (channel == WhatsappChannel)
        {
            receiver = channel + ":" + receiver;
            if (E164().IsMatch(sender.TrimStart('+').Replace(" ", ""))) sender = channel + ":" + sender;
            form = [new("To", receiver), new("Channel", channel), new("From", sender), new("ContentSid", config.ContentSid),
                new("ContentVariables", new JsonObject { ["1"] = otp }.ToJsonString())];
        }
        else form = [new("To", receiver), new("Channel", channel), new("From", sender), new("Body", message)];

        var url = $"{origin}/2010-04-01/Accounts/{Uri.EscapeDataString(config.AccountSid)}/Messages.json";
        var (status, body) = await PostFormAsync(url, form, r => BasicAuth(r, config.AccountSid, config.AuthToken), ct);
        if (!Ok(status)) throw TwilioError(body);
        var sid = Str(body, "sid");
        if (Str(body, "status") is "failed" or "undelivered")
            throw new SmsProviderException($"twilio error: {Str(body, "error_message")} {Str(body, "error_code")} for message {sid}");
        return sid;
    }
}

/// Twilio Verify: Twilio makes and checks the code (GoTrue twilio_verify.go); our OTP is not used.
internal sealed class TwilioVerifyProvider(SmsOptions.TwilioSettings config, string origin) : SmsProvider
{
    string ServiceUrl => $"{origin}/v2/Services/{Uri.EscapeDataString(config.MessageServiceSid)}";

    public override async Task<string> SendAsync(string phone, string message, string channel, string otp, CancellationToken ct)
    {
        if (channel is not (SmsChannel or WhatsappChannel))
            throw new SmsProviderException($"channel type \"{channel}\" is not supported for Twilio");
        var (status, body) = await PostFormAsync(ServiceUrl + "/Verifications", [new("To", "+" + phone), new("Channel", channel)],
            r => BasicAuth(r, config.AccountSid, config.AuthToken), ct);
        if (!Ok(status)) throw TwilioError(body);
        return Str(body, "sid");
    }

    /// `POST …/VerificationCheck`: approved and valid, or an exception saying why not.
    public async Task VerifyAsync(string phone, string code, CancellationToken ct)
    {
        var (status, body) = await PostFormAsync(ServiceUrl + "/VerificationCheck", [new("To", "+" + phone), new("Code", code)],
            r => BasicAuth(r, config.AccountSid, config.AuthToken), ct);
        if (!Ok(status)) throw TwilioError(body);
        if (Str(body, "status") != "approved" || body?["valid"] is not JsonValue v || !v.TryGetValue<bool>(out var valid) || !valid)
            throw new SmsProviderException($"twilio verification error: {Str(body, "error_message")} {Str(body, "status")}");
    }
}

/// `POST /messages` with an AccessKey (GoTrue messagebird.go).
internal sealed class MessagebirdProvider(SmsOptions options, string origin) : SmsProvider
{
    public override async Task<string> SendAsync(string phone, string message, string channel, string otp, CancellationToken ct)
    {
        if (channel != SmsChannel) throw new SmsProviderException($"channel type \"{channel}\" is not supported for Messagebird");
        var (status, body) = await PostFormAsync(origin + "/messages",
            [new("originator", options.Messagebird.Originator), new("body", message), new("recipients", phone),
             new("type", "sms"), new("datacoding", "unicode")],
            r => r.Headers.TryAddWithoutValidation("Authorization", "AccessKey " + options.Messagebird.AccessKey), ct);
        if (status is HttpStatusCode.BadRequest or HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized or HttpStatusCode.UnprocessableEntity)
            throw new SmsProviderException(body?["errors"]?[0] is { } first ? Str(first, "description") : $"messagebird error: HTTP {(int)status}");
        if (body?["recipients"]?["totalSentCount"] is not JsonValue count || !count.TryGetValue<int>(out var sent) || sent == 0)
            throw new SmsProviderException("messagebird error: total sent count is 0");
        return Str(body, "id");
    }
}

/// `POST /send` with the API key in the form (GoTrue textlocal.go).
internal sealed class TextlocalProvider(SmsOptions options, string origin) : SmsProvider
{
    public override async Task<string> SendAsync(string phone, string message, string channel, string otp, CancellationToken ct)
    {
        if (channel != SmsChannel) throw new SmsProviderException($"channel type \"{channel}\" is not supported for TextLocal");
        var (_, body) = await PostFormAsync(origin + "/send",
            [new("sender", options.Textlocal.Sender), new("apikey", options.Textlocal.ApiKey), new("message", message),
             new("numbers", phone)], null, ct);
        if (body?["errors"] is JsonArray { Count: > 0 }) throw new SmsProviderException("textlocal error: Internal Error");
        var id = body?["messages"]?[0] is { } first ? Str(first, "id") : "";
        if (Str(body, "status") != "success") throw new SmsProviderException($"textlocal error: status {Str(body, "status")} message {id}");
        return id;
    }
}

/// `POST /sms/json` with key and secret in the form (GoTrue vonage.go).
internal sealed class VonageProvider(SmsOptions options, string origin) : SmsProvider
{
    public override async Task<string> SendAsync(string phone, string message, string channel, string otp, CancellationToken ct)
    {
        if (channel != SmsChannel) throw new SmsProviderException($"channel type \"{channel}\" is not supported for Vonage");
        List<KeyValuePair<string, string>> form =
        [
            new("from", options.Vonage.From), new("to", phone), new("text", message),
            new("api_key", options.Vonage.ApiKey), new("api_secret", options.Vonage.ApiSecret),
        ];
        if (message.Any(c => c > 127)) form.Add(new("type", "unicode"));
        var (_, body) = await PostFormAsync(origin + "/sms/json", form, null, ct);
        if (body?["messages"]?[0] is not { } first) throw new SmsProviderException("vonage error: Internal Error");
        // A status of "0" is success; anything else names the failure.
        if (Str(first, "status") != "0")
            throw new SmsProviderException(
                $"vonage error: {Str(first, "error-text")} (status: {Str(first, "status")}) for message {Str(first, "message-id")}");
        return Str(first, "message-id");
    }
}
