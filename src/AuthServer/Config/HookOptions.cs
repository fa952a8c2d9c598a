using System.Text.RegularExpressions;

namespace AuthServer.Config;

/// <summary>One auth hook (`GOTRUE_HOOK_<NAME>_ENABLED` / `_URI` / `_SECRETS`, config.md §10).</summary>
internal sealed partial class HookConfig
{
    /// <summary>The env var stem, e.g. `GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN`.</summary>
    public required string Name { get; init; }
    public bool Enabled { get; init; }
    /// <summary>`pg-functions://postgres/<schema>/<function>`, `https://…`, or `http://` on localhost only.</summary>
    public string Uri { get; init; } = "";
    /// <summary>For pg-functions: `"schema"."function"`, quoted as GoTrue quotes it.</summary>
    public string PgFunction { get; init; } = "";
    /// <summary>Standard Webhooks signing keys decoded from `v1,whsec_<base64>` entries.</summary>
    public IReadOnlyList<byte[]> SecretKeys { get; init; } = [];
    /// <summary>A `v1a,whpk_…:whsk_…` (asymmetric) secret is configured: GoTrue accepts it at boot but cannot
    /// sign with it, so each call fails with a 500 (hookshttp.go `generateSignatures`); so does ours.</summary>
    public bool HasAsymmetricSecret { get; init; }

    public bool IsHttp => Uri.StartsWith("http:", StringComparison.OrdinalIgnoreCase) || Uri.StartsWith("https:", StringComparison.OrdinalIgnoreCase);

    /// GoTrue: internal/conf/configuration.go `ValidateExtensibilityPoint`.
    public static HookConfig Load(EnvReader env, string name)
    {
        var enabled = env.Bool(name + "_ENABLED", false);
        var uri = env.String(name + "_URI") ?? "";
        var secrets = env.String(name + "_SECRETS") ?? "";
        if (!enabled) return new HookConfig { Name = name };
        // GoTrue boots with an enabled hook without URI; each call then fails ("unsupported protocol"), a 500.
        if (uri.Length == 0) return new HookConfig { Name = name, Enabled = true };
        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
            throw new ConfigException($"{name}_URI: '{uri}' is not an absolute URI");

        switch (parsed.Scheme.ToLowerInvariant())
        {
            case "pg-functions":
                {
                    var parts = parsed.AbsolutePath.Split('/');
                    if (parts.Length < 3) throw new ConfigException($"{name}_URI: URI path does not contain enough parts");
                    var (schema, function) = (parts[1], parts[2]);
                    if (!Identifier().IsMatch(schema) || !Identifier().IsMatch(function))
                        throw new ConfigException($"{name}_URI: schema and function must be plain identifiers");
                    return new HookConfig { Name = name, Enabled = true, Uri = uri, PgFunction = $"\"{schema}\".\"{function}\"" };
                }
            case "http" when parsed.Host is not ("localhost" or "127.0.0.1" or "[::1]" or "::1" or "host.docker.internal"):
                throw new ConfigException($"{name}_URI: only localhost, 127.0.0.1, and ::1 are supported with http");
            case "http" or "https":
                var (keys, asymmetric) = ParseSecrets(name, secrets);
                return new HookConfig { Name = name, Enabled = true, Uri = uri, SecretKeys = keys, HasAsymmetricSecret = asymmetric };
            default:
                throw new ConfigException($"{name}_URI: only postgres hooks and HTTPS functions are supported at the moment");
        }
    }

    /// GoTrue `validateHTTPHookSecrets`: each secret is symmetric (`v1,whsec_<base64>`) or asymmetric
    /// (`v1a,whpk_…:whsk_…`); none at all is accepted too (the hook is then called unsigned).
    static (List<byte[]> Keys, bool Asymmetric) ParseSecrets(string name, string secrets)
    {
        var keys = new List<byte[]>();
        var asymmetric = false;
        foreach (var secret in secrets.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (AsymmetricSecret().IsMatch(secret)) { asymmetric = true; continue; }
            if (!secret.StartsWith("v1,whsec_", StringComparison.Ordinal))
                throw new ConfigException($"{name}_SECRETS: invalid secret format; each secret must look like v1,whsec_<base64> or v1a,whpk_…:whsk_…");
            try { keys.Add(Convert.FromBase64String(secret["v1,whsec_".Length..])); }
            catch (FormatException) { throw new ConfigException($"{name}_SECRETS: the part after whsec_ is not base64"); }
        }
        return (keys, asymmetric);
    }

    [GeneratedRegex("^v1a,whpk_[A-Za-z0-9+/=]{44,}:whsk_[A-Za-z0-9+/=]{44,}$")]
    private static partial Regex AsymmetricSecret();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]{0,62}$")]
    private static partial Regex Identifier();
}

/// <summary>The auth hooks this server runs (config.md §10).</summary>
internal sealed class HookOptions
{
    public HookConfig CustomAccessToken { get; init; } = new() { Name = "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN" };
    public HookConfig PasswordVerificationAttempt { get; init; } = new() { Name = "GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT" };
    /// <summary>`GOTRUE_HOOK_SEND_SMS_*`: when on, it sends every SMS OTP instead of the SMS provider.</summary>
    public HookConfig SendSms { get; init; } = new() { Name = "GOTRUE_HOOK_SEND_SMS" };
    /// <summary>`GOTRUE_HOOK_SEND_EMAIL_*`: replaces SMTP for every auth email (called from the mail outbox).</summary>
    public HookConfig SendEmail { get; init; } = new() { Name = "GOTRUE_HOOK_SEND_EMAIL" };
    /// <summary>`GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT_*`: told every TOTP/phone code check; may reject (403).</summary>
    public HookConfig MfaVerificationAttempt { get; init; } = new() { Name = "GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT" };
    /// <summary>`GOTRUE_HOOK_BEFORE_USER_CREATED_*`: sees each user about to be created; an `error` answer refuses it.</summary>
    public HookConfig BeforeUserCreated { get; init; } = new() { Name = "GOTRUE_HOOK_BEFORE_USER_CREATED" };
    /// <summary>`GOTRUE_HOOK_AFTER_USER_CREATED_*`: told of each created user once the request is done; failures only logged.</summary>
    public HookConfig AfterUserCreated { get; init; } = new() { Name = "GOTRUE_HOOK_AFTER_USER_CREATED" };

    public static HookOptions Load(EnvReader env) => new()
    {
        CustomAccessToken = HookConfig.Load(env, "GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN"),
        PasswordVerificationAttempt = HookConfig.Load(env, "GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT"),
        SendSms = HookConfig.Load(env, "GOTRUE_HOOK_SEND_SMS"),
        SendEmail = HookConfig.Load(env, "GOTRUE_HOOK_SEND_EMAIL"),
        MfaVerificationAttempt = HookConfig.Load(env, "GOTRUE_HOOK_MFA_VERIFICATION_ATTEMPT"),
        BeforeUserCreated = HookConfig.Load(env, "GOTRUE_HOOK_BEFORE_USER_CREATED"),
        AfterUserCreated = HookConfig.Load(env, "GOTRUE_HOOK_AFTER_USER_CREATED"),
    };
}
