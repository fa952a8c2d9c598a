using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.RateLimits;
using AuthServer.Hooks;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Security;
using Dapper;
using Npgsql;

namespace AuthServer.Sms;

/// A send in progress: the user's `<kind>_sent_at` was set to <see cref="ClaimedAt"/> (so a concurrent
/// request gets the 429), and is put back to <see cref="PreviousSentAt"/> if the send fails.
internal sealed record SmsClaim(Guid UserId, string Kind, string Phone, DateTime? PreviousSentAt, DateTime ClaimedAt);

/// GoTrue's `sendPhoneConfirmation` (internal/api/phone.go) in three steps, so no transaction stays open
/// while the provider is called (GoTrue keeps its transaction open across the HTTP call):
/// 1. <see cref="ClaimAsync"/> in the caller's transaction on the locked user: frequency check
///    (`GOTRUE_SMS_MAX_FREQUENCY` → 429) and the `*_sent_at` stamp; the caller commits.
/// 2. <see cref="DeliverAndStoreAsync"/>: test OTP, or (after taking from the global
///    `GOTRUE_RATE_LIMIT_SMS_SENT` budget unless SMS autoconfirm is on) a fresh OTP through the send-SMS
///    hook or the provider, with no connection held; a provider failure is 422 `sms_send_failed`.
/// 3. In a new transaction the hash (SHA-224 of phone+otp) goes into the users column and
///    `auth.one_time_tokens`; on failure the claim is undone instead (or the caller's compensation runs).
/// Kinds are GoTrue's otpType names, which appear in its error message: confirmation, phone_change,
/// reauthentication.
internal sealed class SmsSender(SmsOptions options, HookOptions hooks, HookRunner runner, NpgsqlDataSource db,
    TimeProvider clock, AuthOptions auth, RateLimiter limiter)
{
    public const string Confirmation = "confirmation";
    public const string PhoneChange = "phone_change";
    public const string Reauthentication = "reauthentication";

    readonly SmsProvider? provider = SmsProvider.Create(options);
    readonly GoTemplate? template = TryParse(options.Template);

    public SmsOptions Options => options;
    public bool HookEnabled => hooks.SendSms.Enabled;
    public TwilioVerifyProvider? TwilioVerify => HookEnabled ? null : provider as TwilioVerifyProvider;

    public void EnsureValidChannel(string channel)
    {
        if (!SmsProvider.IsValidChannel(channel, options.Provider, HookEnabled))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid channel, supported values are 'sms' or 'whatsapp'");
    }

    /// Step 1: inside the caller's transaction, on a user row the caller has locked.
    public async Task<SmsClaim> ClaimAsync(NpgsqlConnection conn, UserRow user, string phone, string kind, DateTime now,
        CancellationToken ct)
    {
        // PostgreSQL keeps microseconds: the undo below compares the stored value with this one.
        now = new DateTime(now.Ticks - now.Ticks % 10, DateTimeKind.Utc);
        var sentAt = kind switch
        {
            Confirmation => user.ConfirmationSentAt,
            PhoneChange => user.PhoneChangeSentAt,
            _ => user.ReauthenticationSentAt,
        };
        if (sentAt is { } sent)
        {
            var allowedAt = DateTime.SpecifyKind(sent, DateTimeKind.Utc) + options.MaxFrequency;
            if (allowedAt >= now)
                throw ApiError.TooManyRequests(ErrorCode.OverSmsSendRateLimit,
                    $"For security purposes, you can only request this after {Math.Max(1, (int)Math.Ceiling((allowedAt - now).TotalSeconds))} seconds.",
                    allowedAt - now);
        }
        await conn.ExecuteAsync(new CommandDefinition(
            $"update auth.users set {Column(kind)}_sent_at = @now where id = @id", new { id = user.Id, now }, cancellationToken: ct));
        return new SmsClaim(user.Id, kind, phone, sentAt, now);
    }

    /// Steps 2 and 3. <paramref name="onStored"/> runs in the storing transaction (audit, response);
    /// <paramref name="onFailed"/>, if given, replaces the default undo of the claim.
    public async Task<(string MessageId, T Result)> DeliverAndStoreAsync<T>(SmsClaim claim, UserRow user, string channel,
        HttpContext http, Func<NpgsqlConnection, Task<T>> onStored, Func<NpgsqlConnection, Task>? onFailed, CancellationToken ct)
    {
        string otp, messageId;
        try
        {
            (otp, messageId) = await DeliverAsync(claim, user, channel, http, ct);
        }
        catch (Exception)
        {
            // Not the request's token: a client that hangs up must not leave the claim behind.
            await using var undo = await db.OpenConnectionAsync(CancellationToken.None);
            await using var undoTx = await undo.BeginTransactionAsync(CancellationToken.None);
            if (onFailed is not null) await onFailed(undo);
            else await ReleaseAsync(undo, claim, CancellationToken.None);
            await undoTx.CommitAsync(CancellationToken.None);
            throw;
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await StoreAsync(conn, claim, otp, ct);
        var result = await onStored(conn);
        await tx.CommitAsync(ct);
        return (messageId, result);
    }

    async Task<(string Otp, string MessageId)> DeliverAsync(SmsClaim claim, UserRow user, string channel, HttpContext http,
        CancellationToken ct)
    {
        // GoTrue checks the frequency before the test OTP, so both behave alike; a test number gets no SMS.
        if (options.TestOtpFor(claim.Phone, clock.GetUtcNow()) is { } testOtp) return (testOtp, "test-otp");

        // GOTRUE_RATE_LIMIT_SMS_SENT, where GoTrue's sendPhoneConfirmation takes from it: each SMS about to be
        // sent (hook or provider), but not for test numbers and never with SMS autoconfirm on.
        if (!auth.SmsAutoconfirm) await limiter.EnsureSmsSentAsync(http, ct);

        var otp = TokenHashes.NewOtp(options.OtpLength);
        if (hooks.SendSms.Enabled)
        {
            await runner.RunAsync(hooks.SendSms, null, HookInput(user, claim.Kind, claim.Phone, otp, http), ct);
            return (otp, "");
        }

        if (provider is null) throw ApiError.Internal("Unable to get SMS provider");
        try
        {
            return (otp, await provider.SendAsync(claim.Phone, Message(otp), channel, otp, ct));
        }
        catch (SmsProviderException e)
        {
            throw new ApiError(422, ErrorCode.SmsSendFailed, $"Error sending {claim.Kind} OTP to provider: {e.Message}", e);
        }
    }

    /// An MFA phone challenge's SMS (GoTrue mfa.go `challengePhoneFactor`): through the send-SMS hook with
    /// sms_type `mfa`, else the provider with <paramref name="message"/>. Returns the provider's message id.
    /// Hook and provider failures are thrown as they come; the caller maps them to GoTrue's answers there.
    public async Task<string> SendMfaAsync(UserRow user, string phone, string otp, string message, string channel,
        HttpContext http, CancellationToken ct)
    {
        if (hooks.SendSms.Enabled)
        {
            await runner.RunAsync(hooks.SendSms, null, HookInput(user, "mfa", phone, otp, http), ct);
            return "";
        }
        if (provider is null) throw ApiError.Internal("Failed to get SMS provider");
        return await provider.SendAsync(phone, message, channel, otp, ct);
    }

    /// GoTrue v0hooks `SendSMSInput`: the hook sends the message itself and answers `{}`.
    JsonObject HookInput(UserRow user, string smsType, string phone, string otp, HttpContext http) => new()
    {
        ["metadata"] = new JsonObject
        {
            ["uuid"] = Guid.NewGuid().ToString(),
            ["time"] = clock.GetUtcNow().UtcDateTime,
            ["name"] = "send-sms",
            ["ip_address"] = ClientInfo.Ip(http),
        },
        ["user"] = UserJson.From(user, []),
        ["sms"] = new JsonObject { ["otp"] = otp, ["sms_type"] = smsType, ["phone"] = phone },
    };

    /// `GOTRUE_SMS_TEMPLATE` with `{{ .Code }}`; a template that does not render falls back to the default.
    public string Message(string otp)
    {
        var data = new Dictionary<string, object?> { ["Code"] = otp };
        try { return (template ?? TryParse(SmsOptions.DefaultTemplate)!).Render(data); }
        catch (TemplateException) { return $"Your code is {otp}"; }
    }

    static GoTemplate? TryParse(string text)
    {
        try { return GoTemplate.Parse(text); }
        catch (TemplateException) { return null; }
    }

    static Task StoreAsync(NpgsqlConnection conn, SmsClaim claim, string otp, CancellationToken ct)
    {
        var hash = TokenHashes.Of(claim.Phone, otp);
        var (column, type) = claim.Kind switch
        {
            Confirmation => ("confirmation_token", "confirmation_token"),
            PhoneChange => ("phone_change_token", "phone_change_token"),
            _ => ("reauthentication_token", "reauthentication_token"),
        };
        // GoTrue `CreateOneTimeToken` after `UpdateOnly`: one live token per user and type, relates_to = the phone.
        return conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.users set {column} = @hash,
                phone_change = case when @phoneChange then @phone else phone_change end
            where id = @id;
            insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
            values (gen_random_uuid(), @id, '{type}', @hash, @phone, @now, @now)
            on conflict (user_id, token_type) do update
                set token_hash = excluded.token_hash, relates_to = excluded.relates_to, updated_at = excluded.updated_at;
            delete from authserver.otp_failures where user_id = @id and token_hash = @hash;
            """,
            new { id = claim.UserId, hash, phone = claim.Phone, phoneChange = claim.Kind == PhoneChange, now = claim.ClaimedAt },
            cancellationToken: ct));
    }

    /// Undoes a claim whose send failed, unless another send has stamped the column since.
    public static Task ReleaseAsync(NpgsqlConnection conn, SmsClaim claim, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            $"""
            update auth.users set {Column(claim.Kind)}_sent_at = @previous
            where id = @id and {Column(claim.Kind)}_sent_at = @claimed
            """, new { id = claim.UserId, previous = claim.PreviousSentAt, claimed = claim.ClaimedAt }, cancellationToken: ct));

    static string Column(string kind) => kind switch
    {
        Confirmation => "confirmation",
        PhoneChange => "phone_change",
        Reauthentication => "reauthentication",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
