namespace AuthServer.Config;

/// <summary>Column encryption (config.md §9, GoTrue conf `DatabaseEncryptionConfiguration`).</summary>
internal sealed class DbEncryptionOptions
{
    /// <summary>`GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPT`: encrypt values we write.</summary>
    public bool Encrypt { get; init; }
    /// <summary>`GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY_ID`.</summary>
    public string EncryptionKeyId { get; init; } = "";
    /// <summary>`GOTRUE_SECURITY_DB_ENCRYPTION_ENCRYPTION_KEY`: base64url, 32 bytes.</summary>
    public byte[] EncryptionKey { get; init; } = [];
    /// <summary>`GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS`: `id:key,id:key` (base64url, 32 bytes each).</summary>
    public IReadOnlyDictionary<string, byte[]> DecryptionKeys { get; init; } = new Dictionary<string, byte[]>();

    public static DbEncryptionOptions Load(EnvReader env)
    {
        const string Prefix = "GOTRUE_SECURITY_DB_ENCRYPTION_";
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var pair in env.List(Prefix + "DECRYPTION_KEYS"))
        {
            var colon = pair.IndexOf(':');
            if (colon <= 0)
                throw new ConfigException($"{Prefix}DECRYPTION_KEYS: entries must be key_id:base64url_key");
            keys[pair[..colon]] = Key(pair[(colon + 1)..], $"{Prefix}DECRYPTION_KEYS: key \"{pair[..colon]}\"");
        }

        var encrypt = env.Bool(Prefix + "ENCRYPT", false);
        if (!encrypt)
            return new DbEncryptionOptions { DecryptionKeys = keys };

        var keyId = env.String(Prefix + "ENCRYPTION_KEY_ID")
            ?? throw new ConfigException($"{Prefix}ENCRYPTION_KEY_ID must be set when {Prefix}ENCRYPT is true");
        var key = Key(env.String(Prefix + "ENCRYPTION_KEY") ?? "", $"{Prefix}ENCRYPTION_KEY");
        if (!keys.ContainsKey(keyId))
            throw new ConfigException($"{Prefix}DECRYPTION_KEYS must also contain the encryption key ({keyId}:…)");
        return new DbEncryptionOptions { Encrypt = true, EncryptionKeyId = keyId, EncryptionKey = key, DecryptionKeys = keys };
    }

    static byte[] Key(string text, string what) =>
        Security.Base64Url.TryDecode(text.Trim()) is { Length: 32 } bytes
            ? bytes
            : throw new ConfigException($"{what} must be 32 bytes, base64url-encoded without padding");
}
