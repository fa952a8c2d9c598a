using System.Net;
using System.Net.Http.Json;
using AuthServer.Config;
using AuthServer.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Config;

/// <summary>
/// Issue 14 "boot parity": a setting stops the boot only where GoTrue's `Validate()` would; where its
/// `ApplyDefaults` corrects a value, so do we; where it checks lazily, we answer at request time; our own
/// stricter checks are warnings unless ours `GOTRUE_STRICT_CONFIG=true`. GoTrue: internal/conf/configuration.go.
/// </summary>
public sealed class BootParityTests
{
    static EnvReader Env(params (string Key, string Value)[] values) =>
        new(Configuration(values));

    static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    // ---- SMS: ApplyDefaults corrections, provider checked per send ----

    [Theory]
    [InlineData("0", 60)]
    [InlineData("120", 120)]
    public void SmsOptions_OtpExp_ZeroBecomesSixtyAsGoTrue(string value, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), SmsOptions.Load(Env(("GOTRUE_SMS_OTP_EXP", value))).OtpExpiry);

    [Fact]
    public void SmsOptions_NegativeOtpExp_RefusedAsGoTrueUint() =>
        Assert.Contains("GOTRUE_SMS_OTP_EXP", Assert.Throws<ConfigException>(() => SmsOptions.Load(Env(("GOTRUE_SMS_OTP_EXP", "-1")))).Message);

    [Theory]
    [InlineData("4", 6)]
    [InlineData("11", 6)]
    [InlineData("0", 6)]
    [InlineData("8", 8)]
    public void SmsOptions_OtpLengthOutside6To10_Becomes6(string value, int expected) =>
        Assert.Equal(expected, SmsOptions.Load(Env(("GOTRUE_SMS_OTP_LENGTH", value))).OtpLength);

    [Theory]
    [InlineData("twilio", "GOTRUE_SMS_TWILIO_ACCOUNT_SID")]
    [InlineData("vonage", "GOTRUE_SMS_VONAGE_API_KEY")]
    [InlineData("carrier-pigeon", "GOTRUE_SMS_PROVIDER")]
    public void SmsOptions_ProviderUnusable_LoadsAndNamesTheMissingSetting(string provider, string missing)
    {
        var sms = SmsOptions.Load(Env(("GOTRUE_SMS_PROVIDER", provider)));
        Assert.Equal(missing, sms.MissingSetting());
        Assert.Null(AuthServer.Sms.SmsProvider.Create(sms));
    }

    [Fact]
    public void SmsOptions_TwilioWithCredentials_IsUsable()
    {
        var sms = SmsOptions.Load(Env(("GOTRUE_SMS_PROVIDER", "twilio"), ("GOTRUE_SMS_TWILIO_ACCOUNT_SID", "AC1"),
            ("GOTRUE_SMS_TWILIO_AUTH_TOKEN", "t"), ("GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID", "MG1")));
        Assert.Null(sms.MissingSetting());
        Assert.NotNull(AuthServer.Sms.SmsProvider.Create(sms));
    }

    [Theory]
    [InlineData(null, 10)]
    [InlineData("3s", 3)]
    public void SmsOptions_InternalHttpTimeout_BoundsProviderCalls(string? value, int seconds)
    {
        var env = value is null ? Env() : Env(("GOTRUE_INTERNAL_HTTP_TIMEOUT", value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), SmsOptions.Load(env).HttpTimeout);
    }

    [Fact]
    public void SmsOptions_InternalHttpTimeoutGarbage_Refused() =>
        Assert.Contains("GOTRUE_INTERNAL_HTTP_TIMEOUT",
            Assert.Throws<ConfigException>(() => SmsOptions.Load(Env(("GOTRUE_INTERNAL_HTTP_TIMEOUT", "soon")))).Message);

    // ---- MFA, sessions ----

    [Theory]
    [InlineData("60s", 300)]
    [InlineData("10m", 600)]
    public void MfaOptions_FactorExpiryBelow300s_RaisedTo300s(string value, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), MfaOptions.Load(Env(("GOTRUE_MFA_FACTOR_EXPIRY_DURATION", value))).FactorExpiry);

    [Theory]
    [InlineData("GOTRUE_SESSIONS_TIMEBOX")]
    [InlineData("GOTRUE_SESSIONS_INACTIVITY_TIMEOUT")]
    public void RefreshOptions_NonPositiveSessionDuration_RefusedAsGoTrue(string name) =>
        Assert.StartsWith(name + ":", Assert.Throws<ConfigException>(() => RefreshOptions.Load(Env((name, "0s")))).Message);

    [Fact]
    public void RefreshOptions_PositiveTimebox_Loads() =>
        Assert.Equal(TimeSpan.FromHours(24), RefreshOptions.Load(Env(("GOTRUE_SESSIONS_TIMEBOX", "24h"))).Timebox);

    [Fact]
    public void RefreshOptions_NonPositiveAllowLowAal_RefusedAsGoTrue() =>
        Assert.StartsWith("GOTRUE_SESSIONS_ALLOW_LOW_AAL:",
            Assert.Throws<ConfigException>(() => RefreshOptions.Load(Env(("GOTRUE_SESSIONS_ALLOW_LOW_AAL", "0s")))).Message);

    // ---- Unbuilt features: one warning each, never a refused boot ----

    [Theory]
    [InlineData("GOTRUE_EXPERIMENTAL_SCIM_ENABLED", "true")]
    [InlineData("GOTRUE_EXTERNAL_WEB3_KASPA_ENABLED", "true")]
    public void UnbuiltFeatures_SwitchedOn_OneWarningNamingIt(string name, string value)
    {
        var env = Env((name, value));
        UnbuiltFeatures.WarnIfOn(env);
        Assert.StartsWith(name + " ", Assert.Single(env.Warnings));
    }

    [Fact]
    public void UnbuiltFeatures_HibpAndSessionControlsAreBuilt_NoWarning()
    {
        var env = Env(("GOTRUE_PASSWORD_HIBP_ENABLED", "true"), ("GOTRUE_PASSWORD_HIBP_BLOOM_ENABLED", "true"),
            ("GOTRUE_SESSIONS_SINGLE_PER_USER", "true"), ("GOTRUE_SESSIONS_TAGS", "a,b"), ("GOTRUE_SESSIONS_ALLOW_LOW_AAL", "1h"));
        UnbuiltFeatures.WarnIfOn(env);
        Assert.Empty(env.Warnings);
    }

    [Fact]
    public void UnbuiltFeatures_SwitchedOff_NoWarning()
    {
        var env = Env(("GOTRUE_PASSKEY_ENABLED", "false"), ("GOTRUE_MFA_WEB_AUTHN_ENROLL_ENABLED", "false"));
        UnbuiltFeatures.WarnIfOn(env);
        Assert.Empty(env.Warnings);
    }

    // ---- Our stricter checks: warnings, or refusals with GOTRUE_STRICT_CONFIG ----

    [Fact]
    public void PasswordOptions_MinLengthAbove72_BootsWithWarning()
    {
        var env = Env(("GOTRUE_PASSWORD_MIN_LENGTH", "100"));
        Assert.Equal(100, PasswordOptions.Load(env).MinLength);
        Assert.StartsWith("GOTRUE_PASSWORD_MIN_LENGTH:", Assert.Single(env.Warnings));
    }

    [Fact]
    public void PasswordOptions_MinLengthAbove72WithStrictConfig_Refused() =>
        Assert.StartsWith("GOTRUE_PASSWORD_MIN_LENGTH:", Assert.Throws<ConfigException>(() =>
            PasswordOptions.Load(Env(("GOTRUE_PASSWORD_MIN_LENGTH", "100"), ("GOTRUE_STRICT_CONFIG", "true")))).Message);

    [Fact]
    public void MailerOptions_SmtpHeadersNotJson_IgnoredWithWarning()
    {
        var env = Env(("GOTRUE_SMTP_HEADERS", "X-Tag: auth"));
        Assert.Empty(MailerOptions.Load(env).Headers);
        Assert.StartsWith("GOTRUE_SMTP_HEADERS:", Assert.Single(env.Warnings));
    }

    [Fact]
    public void MailerOptions_SmtpHeadersNotJsonWithStrictConfig_Refused() =>
        Assert.StartsWith("GOTRUE_SMTP_HEADERS:", Assert.Throws<ConfigException>(() =>
            MailerOptions.Load(Env(("GOTRUE_SMTP_HEADERS", "X-Tag: auth"), ("GOTRUE_STRICT_CONFIG", "true")))).Message);

    [Fact]
    public void MailerOptions_SmtpHeadersJson_Parsed()
    {
        var env = Env(("GOTRUE_SMTP_HEADERS", """{"X-Tag":["auth"]}"""));
        Assert.Equal(["auth"], MailerOptions.Load(env).Headers["X-Tag"]);
        Assert.Empty(env.Warnings);
    }

    [Fact]
    public void MailerOptions_TemplateSettings_DefaultsAsGoTrue()
    {
        var mailer = MailerOptions.Load(Env());
        Assert.Equal(TimeSpan.FromMinutes(10), mailer.TemplateMaxAge);
        Assert.Equal(TimeSpan.FromSeconds(10), mailer.TemplateRetryInterval);
        Assert.Equal(1_000_000, mailer.TemplateMaxSize);
    }

    [Fact]
    public void MailerOptions_TemplateSettings_Read()
    {
        var mailer = MailerOptions.Load(Env(("GOTRUE_MAILER_TEMPLATE_MAX_AGE", "1h"), ("GOTRUE_MAILER_TEMPLATE_RETRY_INTERVAL", "30s"),
            ("GOTRUE_MAILER_TEMPLATE_MAX_SIZE", "2048")));
        Assert.Equal(TimeSpan.FromHours(1), mailer.TemplateMaxAge);
        Assert.Equal(TimeSpan.FromSeconds(30), mailer.TemplateRetryInterval);
        Assert.Equal(2048, mailer.TemplateMaxSize);
    }

    [Fact]
    public void MailerOptions_TemplateMaxAgeGarbage_RefusedNamingIt() =>
        Assert.Contains("GOTRUE_MAILER_TEMPLATE_MAX_AGE",
            Assert.Throws<ConfigException>(() => MailerOptions.Load(Env(("GOTRUE_MAILER_TEMPLATE_MAX_AGE", "often")))).Message);

    // ---- Hooks: GoTrue ValidateExtensibilityPoint ----

    static HookConfig Hook(string? uri, string? secrets) =>
        HookOptions.Load(Env([("GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED", "true"),
            .. uri is null ? Array.Empty<(string, string)>() : [("GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_URI", uri)],
            .. secrets is null ? Array.Empty<(string, string)>() : [("GOTRUE_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS", secrets)]])).CustomAccessToken;

    [Fact]
    public void HookOptions_EnabledWithoutUri_LoadsAsGoTrue()
    {
        var hook = Hook(null, null);
        Assert.True(hook.Enabled);
        Assert.Equal("", hook.Uri);
    }

    [Fact]
    public void HookOptions_HttpsWithoutSecrets_LoadsUnsigned() =>
        Assert.Empty(Hook("https://hooks.example.com/x", null).SecretKeys);

    [Fact]
    public void HookOptions_AsymmetricSecret_LoadsAndIsMarked()
    {
        var key = new string('A', 44);
        Assert.True(Hook("https://hooks.example.com/x", $"v1a,whpk_{key}:whsk_{key}").HasAsymmetricSecret);
    }

    [Fact]
    public void HookOptions_SecretOfNoKnownForm_Refused() =>
        Assert.Contains("invalid secret format",
            Assert.Throws<ConfigException>(() => Hook("https://hooks.example.com/x", "v1a,whpk_short")).Message);

    // ---- DB pool settings mapped onto Npgsql ----

    [Fact]
    public void DbOptions_PoolSettings_MapOntoNpgsql()
    {
        var db = DbOptions.Load(Env(("GOTRUE_DB_DRIVER", "postgres"), ("DATABASE_URL", "postgres://u:p@127.0.0.1:5432/db"),
            ("GOTRUE_DB_MAX_POOL_SIZE", "7"), ("GOTRUE_DB_CONN_MAX_LIFETIME", "30m"), ("GOTRUE_DB_CONN_MAX_IDLE_TIME", "5s")));
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString);

        db.ApplyTo(builder);

        Assert.Equal(7, builder.MaxPoolSize);
        Assert.Equal(1800, builder.ConnectionLifetime);
        Assert.Equal(5, builder.ConnectionIdleLifetime);
        Assert.True(builder.ConnectionPruningInterval <= 5);
        using var _ = new Npgsql.NpgsqlDataSourceBuilder(builder.ConnectionString).Build(); // Npgsql accepts the combination
    }

    [Fact]
    public void DbOptions_PoolDurationGarbage_RefusedNamingIt() =>
        Assert.Contains("GOTRUE_DB_CONN_MAX_LIFETIME", Assert.Throws<ConfigException>(() => DbOptions.Load(Env(("GOTRUE_DB_DRIVER", "postgres"),
            ("DATABASE_URL", "postgres://u:p@127.0.0.1:5432/db"), ("GOTRUE_DB_CONN_MAX_LIFETIME", "forever")))).Message);

    // ---- Names as GoTrue's envconfig derives them ----

    [Theory]
    [InlineData("GOTRUE_EXTERNAL_REDIRECTURL")]
    [InlineData("GOTRUE_EXTERNAL_REDIRECT_URL")] // ours, shipped first: kept as an alias
    public void ExternalOptions_RedirectUrl_ReadUnderGoTruesNameAndOurAlias(string name)
    {
        var config = Configuration((name, "https://app.example.com/after-oauth"));
        Assert.Equal("https://app.example.com/after-oauth",
            ExternalOptions.Load(new EnvReader(config), config, new Uri("http://localhost:9999")).RedirectUrl);
    }

    [Fact]
    public void ExternalOptions_KeycloakUrlOverPlainHttp_BootsWithWarningAsGoTrue()
    {
        var config = Configuration(("GOTRUE_EXTERNAL_KEYCLOAK_URL", "http://keycloak:8080/realms/app"));
        var env = new EnvReader(config);
        Assert.Equal("http://keycloak:8080/realms/app", ExternalOptions.Load(env, config, new Uri("http://localhost:9999")).Providers["keycloak"].Issuer);
        Assert.StartsWith("GOTRUE_EXTERNAL_KEYCLOAK_URL:", Assert.Single(env.Warnings));
    }

    [Fact]
    public void ExternalOptions_OurIssuerOverPlainHttp_StillRefused()
    {
        var config = Configuration(("GOTRUE_EXTERNAL_ACME_ISSUER", "http://idp.example.com"));
        Assert.StartsWith("GOTRUE_EXTERNAL_ACME_ISSUER:",
            Assert.Throws<ConfigException>(() => ExternalOptions.Load(new EnvReader(config), config, new Uri("http://localhost:9999"))).Message);
    }

    [Fact]
    public void ExternalOptions_RedirectUrl_GoTruesNameWinsOverAlias()
    {
        var config = Configuration(("GOTRUE_EXTERNAL_REDIRECTURL", "https://a.example.com"), ("GOTRUE_EXTERNAL_REDIRECT_URL", "https://b.example.com"));
        Assert.Equal("https://a.example.com",
            ExternalOptions.Load(new EnvReader(config), config, new Uri("http://localhost:9999")).RedirectUrl);
    }

    // ---- The built server as a process ----

    [Fact]
    public async Task Server_UnbuiltFeaturesOn_BootsWithOneWarningEachAndAnswersAsFeatureOff()
    {
        string[] flags = ["GOTRUE_EXPERIMENTAL_SCIM_ENABLED"];
        var db = await (await PostgresCluster.GetAsync()).CloneTemplateAsync(nameof(BootParityTests));
        await using var server = await ServerProcess.StartAsync(db, flags.ToDictionary(f => f, _ => "true"));
        using var client = server.CreateClient();

        var scim = await client.GetAsync("/scim/v2/Users");

        await ApiAssert.ErrorAsync(scim, 404, "feature_disabled", "SCIM server is disabled");
        foreach (var flag in flags)
            Assert.Single(server.Output.Split('\n'), line => line.Contains(flag + " is on, but this feature is not built yet", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_SmsProviderWithoutCredentials_BootsAndEachSendAnswers500()
    {
        var db = await (await PostgresCluster.GetAsync()).CloneTemplateAsync(nameof(BootParityTests));
        await using var server = await ServerProcess.StartAsync(db, new Dictionary<string, string>
        {
            ["GOTRUE_EXTERNAL_PHONE_ENABLED"] = "true",
            ["GOTRUE_SMS_PROVIDER"] = "twilio", // no GOTRUE_SMS_TWILIO_* credentials
            ["REQUEST_ID_HEADER"] = "X-Request-Id",
        });
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/otp") { Content = JsonContent.Create(new { phone = "15555550123" }) };
        request.Headers.Add("X-Request-Id", "req-parity-1");

        var otp = await client.SendAsync(request);
        var withoutId = await client.PostAsJsonAsync("/otp", new { phone = "15555550124" });

        // GoTrue otp.go: GetSmsProvider fails → internalServerError("Unable to get SMS provider").
        var body = await ApiAssert.ErrorAsync(otp, 500, "unexpected_failure", "Unable to get SMS provider");
        // REQUEST_ID_HEADER: the gateway's id is the request's id, in error_id and in the log lines.
        Assert.Equal("req-parity-1", (string?)body["error_id"]);
        Assert.Contains("\"request_id\":\"req-parity-1\"", server.Output);
        var other = await ApiAssert.ErrorAsync(withoutId, 500, "unexpected_failure", "Unable to get SMS provider");
        Assert.False(string.IsNullOrEmpty((string?)other["error_id"]));
        Assert.NotEqual("req-parity-1", (string?)other["error_id"]);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
    }
}
