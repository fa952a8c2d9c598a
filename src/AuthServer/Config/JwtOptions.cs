namespace AuthServer.Config;

/// <summary>Access-token settings (config.md §3, jwt.md).</summary>
internal sealed class JwtOptions
{
    /// <summary>`GOTRUE_JWT_SECRET`: HS256 key, raw UTF-8 bytes.</summary>
    public byte[] Secret { get; init; } = [];
    /// <summary>`GOTRUE_JWT_EXP`: access-token lifetime in seconds (0 → 3600).</summary>
    public int ExpirySeconds { get; init; } = 3600;
    /// <summary>`GOTRUE_JWT_AUD`: audience of new users; defaults to `authenticated` (GoTrue: empty).</summary>
    public string Aud { get; init; } = "authenticated";
    /// <summary>`GOTRUE_JWT_DEFAULT_GROUP_NAME`: role of new users; defaults to `authenticated`.</summary>
    public string DefaultGroupName { get; init; } = "authenticated";
    /// <summary>`GOTRUE_JWT_ADMIN_ROLES`.</summary>
    public IReadOnlyList<string> AdminRoles { get; init; } = ["service_role", "supabase_admin"];
    /// <summary>`GOTRUE_JWT_ADMIN_GROUP_NAME`.</summary>
    public string AdminGroupName { get; init; } = "admin";
    /// <summary>`GOTRUE_JWT_ISSUER`: `iss` claim, omitted when empty.</summary>
    public string Issuer { get; init; } = "";
    /// <summary>`GOTRUE_JWT_KEY_ID`: `kid` header of HS256 tokens, omitted when empty.</summary>
    public string KeyId { get; init; } = "";

    public static JwtOptions Load(EnvReader env)
    {
        var exp = env.Int("GOTRUE_JWT_EXP", 3600, 0);
        var adminRoles = env.List("GOTRUE_JWT_ADMIN_ROLES");
        var secret = System.Text.Encoding.UTF8.GetBytes(env.Required("GOTRUE_JWT_SECRET"));
        // GoTrue accepts any length, so we boot too; but an HS256 key shorter than the hash output is
        // brute-forceable offline from any issued token (RFC 7518 §3.2, security-tests T9★): a warning,
        // or a refused boot with ours GOTRUE_STRICT_CONFIG=true.
        if (secret.Length < 32)
            env.Stricter("GOTRUE_JWT_SECRET must be at least 32 bytes (e.g. `openssl rand -hex 32`)");
        return new JwtOptions
        {
            Secret = secret,
            ExpirySeconds = exp == 0 ? 3600 : exp,
            Aud = env.String("GOTRUE_JWT_AUD") ?? "authenticated",
            DefaultGroupName = env.String("GOTRUE_JWT_DEFAULT_GROUP_NAME") ?? "authenticated",
            AdminRoles = adminRoles.Count > 0 ? adminRoles : ["service_role", "supabase_admin"],
            AdminGroupName = env.String("GOTRUE_JWT_ADMIN_GROUP_NAME") ?? "admin",
            Issuer = env.String("GOTRUE_JWT_ISSUER") ?? "",
            KeyId = env.String("GOTRUE_JWT_KEY_ID") ?? "",
        };
    }
}
