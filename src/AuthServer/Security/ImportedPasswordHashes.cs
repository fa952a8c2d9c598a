using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;

namespace AuthServer.Security;

/// Password hashes imported from other systems through admin `password_hash` (GoTrue
/// internal/crypto/password.go): argon2i/argon2id in PHC string format (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`,
/// unpadded base64) and Firebase's modified scrypt (`$fbscrypt$v=1,n=…,r=…,p=…,ss=…,sk=…$salt$hash`, padded
/// base64: scrypt(password, salt‖ss) is an AES-256 key, the hash is the signer key AES-CTR-encrypted under
/// it with a zero IV). Both verify as they are; like GoTrue, a successful sign-in does not rehash them to bcrypt.
/// Argon2 and scrypt come from BouncyCastle (already a dependency); AES-CTR is built from .NET's AES-ECB.
internal static partial class ImportedPasswordHashes
{
    public const string Argon2Prefix = "$argon2";
    public const string FirebaseScryptPrefix = "$fbscrypt";

    public static bool IsImported(string hash) =>
        hash.StartsWith(Argon2Prefix, StringComparison.Ordinal) || hash.StartsWith(FirebaseScryptPrefix, StringComparison.Ordinal);

    /// Null when the hash parses as GoTrue parses it, else GoTrue's complaint (for a 400 on import).
    public static string? Problem(string hash) =>
        hash.StartsWith(Argon2Prefix, StringComparison.Ordinal) ? ParseArgon2(hash, out _)
        : hash.StartsWith(FirebaseScryptPrefix, StringComparison.Ordinal) ? ParseFirebaseScrypt(hash, out _)
        : "not an argon2 or fbscrypt hash";

    /// CPU- and memory-bound: call on the password threads. A hash that does not parse matches nothing.
    public static bool Verify(string password, string hash)
    {
        byte[]? derived = null, expected = null;
        if (hash.StartsWith(Argon2Prefix, StringComparison.Ordinal) && ParseArgon2(hash, out var a) is null)
        {
            expected = a!.Hash;
            var parameters = new Argon2Parameters.Builder(a.Id ? Argon2Parameters.Argon2id : Argon2Parameters.Argon2i)
                .WithVersion(Argon2Parameters.Version13)
                .WithMemoryAsKB((int)a.MemoryKiB)
                .WithIterations((int)a.Time)
                .WithParallelism((int)a.Threads)
                .WithSalt(a.Salt)
                .Build();
            var generator = new Argon2BytesGenerator();
            generator.Init(parameters);
            derived = new byte[expected.Length];
            generator.GenerateBytes(Encoding.UTF8.GetBytes(password), derived);
        }
        else if (hash.StartsWith(FirebaseScryptPrefix, StringComparison.Ordinal) && ParseFirebaseScrypt(hash, out var f) is null)
        {
            expected = f!.Hash;
            derived = FirebaseScrypt(Encoding.UTF8.GetBytes(password), f.Salt, f.SignerKey, f.SaltSeparator, f.N, f.R, f.P);
        }
        return derived is not null && CryptographicOperations.FixedTimeEquals(derived, expected);
    }

    /// Firebase's scrypt variant (github.com/firebase/scrypt; GoTrue `firebaseScrypt`).
    internal static byte[] FirebaseScrypt(byte[] password, byte[] salt, byte[] signerKey, byte[] saltSeparator, int n, int r, int p)
    {
        var key = SCrypt.Generate(password, [.. salt, .. saltSeparator], n, r, p, 32);
        using var aes = Aes.Create();
        aes.Key = key;
        // CTR mode with a zero IV: keystream block i = AES(i as a 128-bit big-endian counter).
        var output = new byte[signerKey.Length];
        var counter = new byte[16];
        var block = new byte[16];
        for (var offset = 0; offset < signerKey.Length; offset += 16)
        {
            aes.EncryptEcb(counter, block, PaddingMode.None);
            for (var i = 0; i < 16 && offset + i < signerKey.Length; i++)
                output[offset + i] = (byte)(signerKey[offset + i] ^ block[i]);
            for (var i = 15; i >= 0 && ++counter[i] == 0; i--) { }
        }
        return output;
    }

    internal sealed record Argon2Hash(bool Id, uint MemoryKiB, uint Time, uint Threads, byte[] Salt, byte[] Hash);
    internal sealed record FirebaseScryptHash(int N, int R, int P, byte[] SaltSeparator, byte[] SignerKey, byte[] Salt, byte[] Hash);

    // GoTrue's argon2HashRegexp / fbscryptHashRegexp.
    [GeneratedRegex(@"^\$(?<alg>argon2(d|i|id))\$v=(?<v>(16|19))\$m=(?<m>[0-9]+),t=(?<t>[0-9]+),p=(?<p>[0-9]+)(,keyid=(?<keyid>[^,$]+))?(,data=(?<data>[^$]+))?\$(?<salt>[^$]*)\$(?<hash>.*)$")]
    private static partial Regex Argon2Format();

    [GeneratedRegex(@"^\$fbscrypt\$v=(?<v>[0-9]+),n=(?<n>[0-9]+),r=(?<r>[0-9]+),p=(?<p>[0-9]+)(?:,ss=(?<ss>[^,]+))?(?:,sk=(?<sk>[^$]+))?\$(?<salt>[^$]+)\$(?<hash>.+)$")]
    private static partial Regex FirebaseScryptFormat();

    static string? ParseArgon2(string hash, out Argon2Hash? parsed)
    {
        parsed = null;
        var m = Argon2Format().Match(hash);
        if (!m.Success) return "crypto: incorrect argon2 hash format";
        var alg = m.Groups["alg"].Value;
        if (alg is not ("argon2i" or "argon2id"))
            return $"crypto: argon2 hash uses unsupported algorithm \"{alg}\" only argon2i and argon2id supported";
        if (m.Groups["v"].Value != "19") return $"crypto: argon2 hash uses unsupported version \"{m.Groups["v"].Value}\" only 19 is supported";
        if (m.Groups["data"].Success) return "crypto: argon2 hashes with the data parameter not supported";
        if (m.Groups["keyid"].Success) return "crypto: argon2 hashes with the keyid parameter not supported";
        if (!uint.TryParse(m.Groups["m"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var memory))
            return $"crypto: argon2 hash has invalid m parameter \"{m.Groups["m"].Value}\"";
        if (memory > 1024 * 1024) return $"crypto: argon2 hash has m parameter {memory} exceeds memory limit";
        if (!uint.TryParse(m.Groups["t"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var time))
            return $"crypto: argon2 hash has invalid t parameter \"{m.Groups["t"].Value}\"";
        if (time > 20) return $"crypto: argon2 hash has t parameter {time} exceeds time limit";
        if (!byte.TryParse(m.Groups["p"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var threads))
            return $"crypto: argon2 hash has invalid p parameter \"{m.Groups["p"].Value}\"";
        if (threads > 16) return $"crypto: argon2 hash has p parameter {threads} exceeds thread limit";
        // Argon2 itself needs t ≥ 1, p ≥ 1 and m ≥ 8p (Go's argon2 quietly raises them; refuse instead).
        if (time < 1 || threads < 1 || memory < 8u * threads) return "crypto: argon2 hash parameters are below the algorithm's minimums";
        if (DecodeBase64(m.Groups["hash"].Value, padded: false) is not { } raw) return "crypto: argon2 hash has invalid base64 in the hash section";
        if (raw.Length == 0) return "crypto: argon2 hash is empty";
        if (DecodeBase64(m.Groups["salt"].Value, padded: false) is not { } salt) return "crypto: argon2 hash has invalid base64 in the salt section";
        if (salt.Length == 0) return "crypto: argon2 salt is empty";
        parsed = new Argon2Hash(alg == "argon2id", memory, time, threads, salt, raw);
        return null;
    }

    static string? ParseFirebaseScrypt(string hash, out FirebaseScryptHash? parsed)
    {
        parsed = null;
        var m = FirebaseScryptFormat().Match(hash);
        if (!m.Success) return "crypto: incorrect scrypt hash format";
        if (m.Groups["v"].Value != "1")
            return $"crypto: Firebase scrypt hash uses unsupported version \"{m.Groups["v"].Value}\" only version 1 is supported";
        // GoTrue accepts any n; 2^n blocks of 128·r bytes beyond n = 20 (128 MiB at r = 8) is not a
        // password hash but a denial of service, so those are refused at import and never computed.
        if (!int.TryParse(m.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is 0 or > 20)
            return $"crypto: Firebase scrypt hash has invalid n parameter \"{m.Groups["n"].Value}\"";
        if (!int.TryParse(m.Groups["r"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var r) || r is 0 or > 32)
            return $"crypto: Firebase scrypt hash has invalid r parameter \"{m.Groups["r"].Value}\"";
        if (!byte.TryParse(m.Groups["p"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is 0 or > 16)
            return $"crypto: Firebase scrypt hash has invalid p parameter \"{m.Groups["p"].Value}\"";
        if (DecodeBase64(m.Groups["hash"].Value, padded: true) is not { } raw)
            return "crypto: Firebase scrypt hash has invalid base64 in the hash section";
        if (DecodeBase64(m.Groups["salt"].Value, padded: true) is not { } salt)
            return "crypto: Firebase scrypt salt has invalid base64 in the hash section";
        if (DecodeBase64(m.Groups["sk"].Value, padded: true) is not { } signerKey) return "illegal base64 data in the sk parameter";
        if (DecodeBase64(m.Groups["ss"].Value, padded: true) is not { } separator) return "illegal base64 data in the ss parameter";
        parsed = new FirebaseScryptHash(1 << n, r, p, separator, signerKey, salt, raw);
        return null;
    }

    /// Go's base64.StdEncoding (padded) or RawStdEncoding (unpadded), strictly.
    static byte[]? DecodeBase64(string text, bool padded)
    {
        if (padded ? text.Length % 4 != 0 : text.Contains('=') || text.Length % 4 == 1) return null;
        if (!padded) text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
        try { return Convert.FromBase64String(text); }
        catch (FormatException) { return null; }
    }
}
