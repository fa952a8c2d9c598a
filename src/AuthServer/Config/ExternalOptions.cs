using System.Text.RegularExpressions;
using AuthServer.Features.External.Providers;

namespace AuthServer.Config;

/// <summary>One external OAuth/OIDC provider (config.md §9, `GOTRUE_EXTERNAL_&lt;P&gt;_*`).</summary>
internal sealed class OidcProviderOptions
{
    /// <summary>Lower-case provider name as it appears in `provider=` and `identities.provider`.</summary>
    public required string Name { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_ENABLED`.</summary>
    public bool Enabled { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_CLIENT_ID`: the first is the OAuth client id; all are accepted `aud` values.</summary>
    public IReadOnlyList<string> ClientIds { get; init; } = [];
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_SECRET`.</summary>
    public string Secret { get; init; } = "";
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_REDIRECT_URI`; ours: defaults to `&lt;API_EXTERNAL_URL&gt;/callback`.</summary>
    public string RedirectUri { get; init; } = "";
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_SKIP_NONCE_CHECK`.</summary>
    public bool SkipNonceCheck { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_EMAIL_OPTIONAL`.</summary>
    public bool EmailOptional { get; init; }
    /// <summary>
    /// The issuer whose discovery document and JWKS are trusted: the built-in one (Google, Apple),
    /// `GOTRUE_EXTERNAL_KEYCLOAK_URL`, or ours `GOTRUE_EXTERNAL_&lt;P&gt;_ISSUER`, which overrides either.
    /// </summary>
    public required string Issuer { get; init; }
    /// <summary>`iss` values accepted in ID tokens; always from configuration, never from a request.</summary>
    public required IReadOnlyList<string> AcceptedIssuers { get; init; }
    /// <summary>Extra accepted audiences (Apple: `GOTRUE_EXTERNAL_IOS_BUNDLE_ID`).</summary>
    public IReadOnlyList<string> ExtraAudiences { get; init; } = [];
    /// <summary>Provider emails are verified whatever the token says (Apple, GoTrue `parseAppleIDToken`).</summary>
    public bool EmailAlwaysVerified { get; init; }

    /// <summary>The table row of a plain OAuth 2.0 or ID-token provider (GitHub, Discord, Azure…); null for the
    /// discovery-driven OIDC providers (Google, Apple, Keycloak, ours by issuer).</summary>
    public ProviderSpec? Spec { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_&lt;P&gt;_URL`: the base the spec's endpoints are built on (GitHub Enterprise, a
    /// self-hosted GitLab, a local fake in tests); null for the public hosts.</summary>
    public string? Url { get; init; }
    /// <summary>Custom providers: the authorize URL's scopes as stored, replacing the spec's defaults.</summary>
    public IReadOnlyList<string>? Scopes { get; init; }
    /// <summary>Discovery providers: send PKCE to the provider (always ours; a custom OIDC provider's `pkce_enabled`).</summary>
    public bool Pkce { get; init; } = true;
    /// <summary>Custom providers: extra authorize parameters (`authorization_params`).</summary>
    public IReadOnlyDictionary<string, string> AuthorizationParams { get; init; } = new Dictionary<string, string>();
    /// <summary>Admin-defined (`custom:&lt;identifier&gt;`, GoTrue `custom_oauth.go`): scopes, token auth and user
    /// data follow that file rather than the built-in providers'.</summary>
    public bool IsCustom { get; init; }
    /// <summary>Custom providers: `attribute_mapping` (target claim → source claim name, or a literal value).</summary>
    public System.Text.Json.Nodes.JsonObject? AttributeMapping { get; init; }

    public IEnumerable<string> Audiences => ClientIds.Concat(ExtraAudiences).Where(a => a.Length > 0);
}

/// <summary>External providers, manual linking and OAuth flow settings (config.md §4, §9).</summary>
internal sealed partial class ExternalOptions
{
    public const string GoogleIssuer = "https://accounts.google.com";
    public const string AppleIssuer = "https://appleid.apple.com";

    /// <summary>Configured providers by lower-case name.</summary>
    public IReadOnlyDictionary<string, OidcProviderOptions> Providers { get; init; } =
        new Dictionary<string, OidcProviderOptions>();
    /// <summary>`GOTRUE_SECURITY_MANUAL_LINKING_ENABLED`.</summary>
    public bool ManualLinkingEnabled { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_ALLOWED_ID_TOKEN_ISSUERS` (deprecated `issuer` + `client_id` form of the id_token grant).</summary>
    public IReadOnlyList<string> AllowedIdTokenIssuers { get; init; } = [AppleIssuer, GoogleIssuer];
    /// <summary>`GOTRUE_EXTERNAL_REDIRECTURL` (GoTrue's name; ours `GOTRUE_EXTERNAL_REDIRECT_URL` as an alias): if set,
    /// where every OAuth callback redirects.</summary>
    public string? RedirectUrl { get; init; }
    /// <summary>`GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION` (default and minimum 300 s).</summary>
    public TimeSpan FlowStateExpiry { get; init; } = TimeSpan.FromSeconds(300);
    /// <summary>`GOTRUE_EXTERNAL_OIDC_PROVIDER_CACHE_TTL` (1 h): how long discovery + JWKS are cached.</summary>
    public TimeSpan OidcCacheTtl { get; init; } = TimeSpan.FromHours(1);
    /// <summary>
    /// Ours, `GOTRUE_EXTERNAL_OIDC_KEY_REFRESH_COOLDOWN` (5 min): the least time between two JWKS refetches
    /// triggered by an unknown `kid`, so random kids cannot make us hammer the issuer.
    /// </summary>
    public TimeSpan KeyRefreshCooldown { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>`GOTRUE_INTERNAL_HTTP_TIMEOUT` (10 s): every call to a provider.</summary>
    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>`GOTRUE_MAILER_ALLOW_UNVERIFIED_EMAIL_SIGN_INS`.</summary>
    public bool AllowUnverifiedEmailSignIns { get; init; }

    public OidcProviderOptions? Find(string? name) =>
        name is not null && Providers.TryGetValue(name.ToLowerInvariant(), out var p) ? p : null;

    public bool IsEnabled(string name) => Find(name)?.Enabled == true;

    public static ExternalOptions Load(EnvReader env, IConfiguration config, Uri apiExternalUrl)
    {
        var callback = apiExternalUrl.ToString().TrimEnd('/') + "/callback";
        var providers = new Dictionary<string, OidcProviderOptions>();

        OidcProviderOptions Read(string name, string? builtInIssuer, IReadOnlyList<string>? builtInAccepted,
            IReadOnlyList<string>? extraAudiences = null, bool emailAlwaysVerified = false, ProviderSpec? spec = null)
        {
            var p = "GOTRUE_EXTERNAL_" + name.ToUpperInvariant();
            var overrideIssuer = env.String(p + "_ISSUER");
            var issuer = (overrideIssuer ?? builtInIssuer)?.TrimEnd('/')
                ?? throw new ConfigException($"{p}_ISSUER is required for provider '{name}'");
            string? url = null;
            if (spec is not null)
            {
                url = env.String(p + "_URL");
                // GoTrue takes any value here; a URL that is not absolute http(s) is our warning.
                if (url is not null && !(Uri.TryCreate(url, UriKind.Absolute, out var u) && u.Scheme is "https" or "http"))
                    env.Stricter($"{p}_URL: '{url}' is not an absolute http(s) URL");
            }
            if (issuer.Length == 0) { } // a plain OAuth 2.0 provider: no issuer to check
            else if (overrideIssuer is null && name == "keycloak")
            {
                // GOTRUE_EXTERNAL_KEYCLOAK_URL is GoTrue's setting and GoTrue boots with any value: our issuer
                // rules are a warning there (a refused boot with GOTRUE_STRICT_CONFIG=true).
                try { CheckIssuer(p + "_URL", issuer); }
                catch (ConfigException e) { env.Stricter(e.Message); }
            }
            else CheckIssuer(p + "_ISSUER", issuer);
            return new OidcProviderOptions
            {
                Name = name,
                Enabled = env.Bool(p + "_ENABLED", false),
                ClientIds = env.List(p + "_CLIENT_ID"),
                Secret = env.String(p + "_SECRET") ?? "",
                RedirectUri = env.String(p + "_REDIRECT_URI") ?? callback,
                SkipNonceCheck = env.Bool(p + "_SKIP_NONCE_CHECK", false),
                EmailOptional = env.Bool(p + "_EMAIL_OPTIONAL", false),
                Issuer = issuer,
                AcceptedIssuers = overrideIssuer is not null ? [issuer] : builtInAccepted ?? [issuer],
                ExtraAudiences = extraAudiences ?? [],
                EmailAlwaysVerified = emailAlwaysVerified,
                Spec = spec,
                Url = url,
            };
        }

        var iosBundle = env.String("GOTRUE_EXTERNAL_IOS_BUNDLE_ID");
        providers["google"] = Read("google", GoogleIssuer, [GoogleIssuer, "accounts.google.com"]);
        providers["apple"] = Read("apple", AppleIssuer, [AppleIssuer, "https://account.apple.com"],
            iosBundle is null ? [] : [iosBundle], emailAlwaysVerified: true);
        // GoTrue's Keycloak: the realm URL is the issuer.
        if (env.String("GOTRUE_EXTERNAL_KEYCLOAK_URL", "GOTRUE_EXTERNAL_KEYCLOAK_ISSUER") is { } keycloak)
            providers["keycloak"] = Read("keycloak", keycloak, null);
        // The table of GoTrue's other providers (Features/External/Providers): plain OAuth 2.0 ones need no
        // issuer; the ID-token ones (Azure, LinkedIn OIDC, Vercel Marketplace) trust their public issuer.
        foreach (var spec in ProviderCatalog.All.Values)
            providers[spec.Name] = Read(spec.Name, ProviderCatalog.IdTokenIssuers.GetValueOrDefault(spec.Name, ""), null, spec: spec);
        // Any other OIDC provider, by name, when its issuer is configured (ours).
        foreach (var entry in config.AsEnumerable())
        {
            var match = IssuerKey().Match(entry.Key);
            if (!match.Success || string.IsNullOrWhiteSpace(entry.Value)) continue;
            var name = match.Groups[1].Value.ToLowerInvariant();
            if (!providers.ContainsKey(name) && name != "ios") providers[name] = Read(name, null, null);
        }

        var flowExpiry = env.Duration("GOTRUE_EXTERNAL_FLOW_STATE_EXPIRY_DURATION") ?? TimeSpan.FromSeconds(300);
        var allowed = env.List("GOTRUE_EXTERNAL_ALLOWED_ID_TOKEN_ISSUERS");
        return new ExternalOptions
        {
            Providers = providers,
            ManualLinkingEnabled = env.Bool("GOTRUE_SECURITY_MANUAL_LINKING_ENABLED", false),
            AllowedIdTokenIssuers = allowed.Count > 0 ? allowed : [AppleIssuer, GoogleIssuer],
            // GoTrue's envconfig name has no underscore (`RedirectURL` without split_words); ours shipped first.
            RedirectUrl = env.String("GOTRUE_EXTERNAL_REDIRECTURL", "GOTRUE_EXTERNAL_REDIRECT_URL"),
            FlowStateExpiry = flowExpiry < TimeSpan.FromSeconds(300) ? TimeSpan.FromSeconds(300) : flowExpiry,
            OidcCacheTtl = Positive(env.Duration("GOTRUE_EXTERNAL_OIDC_PROVIDER_CACHE_TTL")) ?? TimeSpan.FromHours(1),
            KeyRefreshCooldown = Positive(env.Duration("GOTRUE_EXTERNAL_OIDC_KEY_REFRESH_COOLDOWN")) ?? TimeSpan.FromMinutes(5),
            HttpTimeout = Positive(env.Duration("GOTRUE_INTERNAL_HTTP_TIMEOUT")) ?? TimeSpan.FromSeconds(10),
            AllowUnverifiedEmailSignIns = env.Bool("GOTRUE_MAILER_ALLOW_UNVERIFIED_EMAIL_SIGN_INS", false),
        };
    }

    /// An issuer is an absolute https URL; plain http only on a loopback host (local test issuers).
    static void CheckIssuer(string variable, string issuer)
    {
        if (!Uri.TryCreate(issuer, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            throw new ConfigException($"{variable}: '{issuer}' is not an absolute http(s) URL");
        if (uri.Scheme == "http" && !uri.IsLoopback)
            throw new ConfigException($"{variable}: '{issuer}' must use https (http is accepted only on a loopback host)");
    }

    static TimeSpan? Positive(TimeSpan? value) => value > TimeSpan.Zero ? value : null;

    [GeneratedRegex("^GOTRUE_EXTERNAL_([A-Za-z0-9_]+)_ISSUER$")]
    private static partial Regex IssuerKey();
}
