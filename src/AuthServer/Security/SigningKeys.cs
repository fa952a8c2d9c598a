using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace AuthServer.Security;

/// One configured JWT key (jwt.md §3): the HS256 secret, or a JWK from `GOTRUE_JWT_KEYS`. Signs and
/// verifies with the primitive directly, so a token costs exactly one signature.
internal sealed class JwtKey
{
    public required string Kid { get; init; }
    public required string Alg { get; init; }
    public required string Kty { get; init; }
    public bool CanSign { get; init; }
    /// The public JWK as `/.well-known/jwks.json` publishes it; null for symmetric keys.
    public JsonObject? PublicJwk { get; init; }

    public byte[]? Secret { get; init; }
    public RSAParameters? Rsa { get; init; }
    public ECParameters? Ec { get; init; }
    public Ed25519PrivateKeyParameters? EdPrivate { get; init; }
    public Ed25519PublicKeyParameters? EdPublic { get; init; }

    // RSA/ECDsa instances are not documented as thread-safe: one per thread, imported once.
    ThreadLocal<RSA>? rsa;
    ThreadLocal<ECDsa>? ecdsa;

    RSA RsaKey => (rsa ??= new ThreadLocal<RSA>(() => RSA.Create(Rsa!.Value))).Value!;
    ECDsa EcKey => (ecdsa ??= new ThreadLocal<ECDsa>(() => ECDsa.Create(Ec!.Value))).Value!;

    public byte[] Sign(ReadOnlySpan<byte> data) => Alg switch
    {
        "HS256" => HMACSHA256.HashData(Secret!, data),
        "RS256" => RsaKey.SignData(data.ToArray(), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        "RS512" => RsaKey.SignData(data.ToArray(), HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1),
        "ES256" => EcKey.SignData(data.ToArray(), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
        "ES512" => EcKey.SignData(data.ToArray(), HashAlgorithmName.SHA512, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
        "EdDSA" => SignEd25519(data),
        _ => throw new InvalidOperationException("unsupported signing algorithm " + Alg),
    };

    byte[] SignEd25519(ReadOnlySpan<byte> data)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, EdPrivate!);
        signer.BlockUpdate(data);
        return signer.GenerateSignature();
    }

    /// golang-jwt v5 semantics: the key's type must fit the token's `alg` ("key is of invalid type"),
    /// then the signature must verify (the error text is the primitive's, as Go reports it).
    public string? Verify(string alg, byte[] data, byte[] signature)
    {
        switch (alg)
        {
            case "HS256" or "HS384" or "HS512":
                if (Secret is null) return "key is of invalid type";
                var mac = alg switch
                {
                    "HS256" => HMACSHA256.HashData(Secret, data),
                    "HS384" => HMACSHA384.HashData(Secret, data),
                    _ => HMACSHA512.HashData(Secret, data),
                };
                return CryptographicOperations.FixedTimeEquals(mac, signature) ? null : "signature is invalid";
            case "RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512":
                if (Rsa is null) return "key is of invalid type";
                var hash = alg[2..] switch { "256" => HashAlgorithmName.SHA256, "384" => HashAlgorithmName.SHA384, _ => HashAlgorithmName.SHA512 };
                var padding = alg[0] == 'P' ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
                return RsaKey.VerifyData(data, signature, hash, padding) ? null : "crypto/rsa: verification error";
            case "ES256" or "ES384" or "ES512":
                if (Ec is null) return "key is of invalid type";
                var (curve, ecHash, size) = alg switch
                {
                    "ES256" => (ECCurve.NamedCurves.nistP256.Oid.Value, HashAlgorithmName.SHA256, 64),
                    "ES384" => (ECCurve.NamedCurves.nistP384.Oid.Value, HashAlgorithmName.SHA384, 96),
                    _ => (ECCurve.NamedCurves.nistP521.Oid.Value, HashAlgorithmName.SHA512, 132),
                };
                if (Ec.Value.Curve.Oid.Value != curve || signature.Length != size) return "crypto/ecdsa: verification error";
                return EcKey.VerifyData(data, signature, ecHash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                    ? null : "crypto/ecdsa: verification error";
            case "EdDSA":
                if (EdPublic is null) return "key is of invalid type";
                var verifier = new Ed25519Signer();
                verifier.Init(false, EdPublic);
                verifier.BlockUpdate(data);
                return verifier.VerifySignature(signature) ? null : "ed25519: verification error";
            default:
                return "key is of invalid type";
        }
    }
}

/// The key set GoTrue derives from `GOTRUE_JWT_SECRET`, `GOTRUE_JWT_KEY_ID`, `GOTRUE_JWT_KEYS` and
/// `GOTRUE_JWT_VALID_METHODS` (GoTrue: internal/conf/jwk.go, configuration.go `ApplyDefaults`).
/// Without keys the secret is the one key (HS256, kid = KEY_ID). With keys, exactly one has `sign` in
/// `key_ops`; accepted algorithms default to the keys' algs, so HS256 tokens (the legacy anon and
/// service_role keys) stop verifying unless HS256 is listed in VALID_METHODS.
internal sealed class SigningKeys
{
    public required byte[] Secret { get; init; }
    public required string SecretKeyId { get; init; }
    public required IReadOnlyDictionary<string, JwtKey> ByKid { get; init; }
    public required JwtKey Signing { get; init; }
    public required IReadOnlySet<string> ValidMethods { get; init; }

    /// Public keys for the JWKS document, asymmetric only (never `oct`).
    public IEnumerable<JsonObject> PublicJwks => ByKid.Values.Where(k => k.PublicJwk is not null).Select(k => k.PublicJwk!);

    public static SigningKeys Load(EnvReader env, JwtOptions jwt)
    {
        var keysJson = env.String("GOTRUE_JWT_KEYS");
        var validMethods = env.List("GOTRUE_JWT_VALID_METHODS");
        var byKid = new Dictionary<string, JwtKey>(StringComparer.Ordinal);
        JwtKey signing;
        if (keysJson is null)
        {
            signing = new JwtKey { Kid = jwt.KeyId, Alg = "HS256", Kty = "oct", CanSign = true, Secret = jwt.Secret };
            byKid[jwt.KeyId] = signing;
        }
        else
        {
            JsonArray array;
            try
            {
                array = JsonNode.Parse(keysJson) as JsonArray
                    ?? throw new ConfigException("GOTRUE_JWT_KEYS: must be a JSON array of JWKs");
            }
            catch (JsonException e)
            {
                throw new ConfigException("GOTRUE_JWT_KEYS: not valid JSON: " + e.Message);
            }
            foreach (var node in array)
            {
                var key = Parse(node as JsonObject ?? throw new ConfigException("GOTRUE_JWT_KEYS: every entry must be a JWK object"));
                byKid[key.Kid] = key;
            }
            var signers = byKid.Values.Where(k => k.CanSign).ToList();
            signing = signers.Count switch
            {
                0 => throw new ConfigException("GOTRUE_JWT_KEYS: no signing key detected (one key needs \"sign\" in key_ops)"),
                > 1 => throw new ConfigException("GOTRUE_JWT_KEYS: multiple signing keys detected, only 1 signing key is supported"),
                _ => signers[0],
            };
        }
        return new SigningKeys
        {
            Secret = jwt.Secret,
            SecretKeyId = jwt.KeyId,
            ByKid = byKid,
            Signing = signing,
            ValidMethods = validMethods.Count > 0
                ? validMethods.ToHashSet(StringComparer.Ordinal)
                : byKid.Values.Select(k => k.Alg).ToHashSet(StringComparer.Ordinal),
        };
    }

    static JwtKey Parse(JsonObject jwk)
    {
        string? Str(string name) => jwk[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        byte[] Bytes(string name)
        {
            var text = Str(name) ?? throw new ConfigException($"GOTRUE_JWT_KEYS: key {Str("kid")} lacks \"{name}\"");
            return Base64Url.TryDecode(text) ?? throw new ConfigException($"GOTRUE_JWT_KEYS: \"{name}\" of key {Str("kid")} is not base64url");
        }

        var kid = Str("kid") ?? "";
        var kty = Str("kty") ?? throw new ConfigException("GOTRUE_JWT_KEYS: a key lacks \"kty\"");
        var ops = (jwk["key_ops"] as JsonArray)?.Select(o => o?.GetValue<string>()).ToList() ?? [];
        var canSign = ops.Contains("sign");
        var crv = Str("crv");
        // GoTrue signs with the key's `alg` (internal/conf/jwk.go `GetSigningAlg`); when it is missing we
        // infer the usual one for the key type instead of GoTrue's HS256 fallback, which cannot sign.
        var alg = Str("alg") ?? (kty, crv) switch
        {
            ("RSA", _) => "RS256",
            ("EC", "P-256") => "ES256",
            ("EC", "P-521") => "ES512",
            ("OKP", "Ed25519") => "EdDSA",
            _ => "HS256",
        };

        JsonObject PublicJwk(params (string Name, string Value)[] fields)
        {
            // Alphabetical, as GoTrue's jwx library writes JWKs; `use`/`key_ops` as jwk.go sets them.
            var all = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal)
            {
                ["alg"] = alg,
                ["kty"] = kty,
                ["use"] = "sig",
                ["key_ops"] = new JsonArray("verify"),
            };
            if (kid.Length > 0) all["kid"] = kid;
            foreach (var (name, value) in fields) all[name] = value;
            var json = new JsonObject();
            foreach (var (name, value) in all) json[name] = value;
            return json;
        }

        try
        {
            switch (kty)
            {
                case "oct":
                    return new JwtKey { Kid = kid, Alg = alg, Kty = kty, CanSign = canSign, Secret = Bytes("k") };
                case "RSA":
                    {
                        if (alg is not ("RS256" or "RS512"))
                            throw new ConfigException($"GOTRUE_JWT_KEYS: RSA key {kid} has unsupported alg {alg} (RS256, RS512)");
                        var parameters = new RSAParameters { Modulus = Bytes("n"), Exponent = Bytes("e") };
                        if (Str("d") is not null)
                        {
                            parameters.D = Bytes("d");
                            parameters.P = Bytes("p"); parameters.Q = Bytes("q");
                            parameters.DP = Bytes("dp"); parameters.DQ = Bytes("dq"); parameters.InverseQ = Bytes("qi");
                        }
                        else if (canSign) throw new ConfigException($"GOTRUE_JWT_KEYS: signing key {kid} has no private part");
                        using (var probe = RSA.Create(parameters)) { } // rejects inconsistent parameters at boot
                        return new JwtKey
                        {
                            Kid = kid,
                            Alg = alg,
                            Kty = kty,
                            CanSign = canSign,
                            Rsa = parameters,
                            PublicJwk = PublicJwk(("n", Str("n")!), ("e", Str("e")!)),
                        };
                    }
                case "EC":
                    {
                        var curve = crv switch
                        {
                            "P-256" => ECCurve.NamedCurves.nistP256,
                            "P-384" => ECCurve.NamedCurves.nistP384,
                            "P-521" => ECCurve.NamedCurves.nistP521,
                            _ => throw new ConfigException($"GOTRUE_JWT_KEYS: EC key {kid} has unsupported crv {crv}"),
                        };
                        if ((alg, crv) is not (("ES256", "P-256") or ("ES512", "P-521")))
                            throw new ConfigException($"GOTRUE_JWT_KEYS: EC key {kid}: alg {alg} does not fit crv {crv} (ES256/P-256, ES512/P-521)");
                        var parameters = new ECParameters { Curve = curve, Q = new ECPoint { X = Bytes("x"), Y = Bytes("y") } };
                        if (Str("d") is not null) parameters.D = Bytes("d");
                        else if (canSign) throw new ConfigException($"GOTRUE_JWT_KEYS: signing key {kid} has no private part");
                        using (var probe = ECDsa.Create(parameters)) { }
                        return new JwtKey
                        {
                            Kid = kid,
                            Alg = alg,
                            Kty = kty,
                            CanSign = canSign,
                            Ec = parameters,
                            PublicJwk = PublicJwk(("crv", crv!), ("x", Str("x")!), ("y", Str("y")!)),
                        };
                    }
                case "OKP":
                    {
                        if (crv != "Ed25519" || alg != "EdDSA")
                            throw new ConfigException($"GOTRUE_JWT_KEYS: OKP key {kid} must be Ed25519 with alg EdDSA");
                        var x = Bytes("x");
                        Ed25519PrivateKeyParameters? priv = null;
                        if (Str("d") is not null)
                        {
                            priv = new Ed25519PrivateKeyParameters(Bytes("d"));
                            if (!priv.GeneratePublicKey().GetEncoded().AsSpan().SequenceEqual(x))
                                throw new ConfigException($"GOTRUE_JWT_KEYS: OKP key {kid}: x does not match d");
                        }
                        else if (canSign) throw new ConfigException($"GOTRUE_JWT_KEYS: signing key {kid} has no private part");
                        return new JwtKey
                        {
                            Kid = kid,
                            Alg = alg,
                            Kty = kty,
                            CanSign = canSign,
                            EdPrivate = priv,
                            EdPublic = new Ed25519PublicKeyParameters(x),
                            PublicJwk = PublicJwk(("crv", crv), ("x", Str("x")!)),
                        };
                    }
                default:
                    throw new ConfigException($"GOTRUE_JWT_KEYS: unsupported kty {kty}");
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ConfigException($"GOTRUE_JWT_KEYS: key {kid} is not a valid {kty} key: {e.Message}");
        }
    }
}
