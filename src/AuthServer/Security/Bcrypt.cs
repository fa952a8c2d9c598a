using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace AuthServer.Security;

/// bcrypt hashes as GoTrue writes them (`$2a$`, Go's x/crypto/bcrypt), computed by the system's libxcrypt
/// (`crypt_rn`, in every Debian image) when it is there and agrees with the managed library on a known
/// vector, else by BCrypt.Net-Next. Native C is ≈ 20 % faster per hash than the managed code on this kind
/// of machine (shared/perf-notes.md), which is the whole cost of a password sign-in.
internal static class Bcrypt
{
    /// "libxcrypt" or "BCrypt.Net-Next": chosen once, on first use.
    public static string Engine => Native.Available ? "libxcrypt" : "BCrypt.Net-Next";

    public static string Hash(string password, int cost)
    {
        var salt = BCrypt.Net.BCrypt.GenerateSalt(cost); // "$2a$NN$" + 22 chars from the system CSPRNG
        return Native.Available && Native.Hash(password, salt) is { } hash ? hash : BCrypt.Net.BCrypt.HashPassword(password, salt);
    }

    /// False for a wrong password and for a malformed hash (never throws for bad stored data).
    public static bool Verify(string password, string hash)
    {
        if (Native.Available && Native.Hash(password, hash) is { } computed)
            return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(computed), Encoding.ASCII.GetBytes(hash));
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, hash);
        }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException)
        {
            return false; // BCrypt.Net throws ArgumentOutOfRange on short hashes: no match, not a 500
        }
    }

    /// libxcrypt through P/Invoke. Returns null where it would not be bit-exact with Go and BCrypt.Net, and the
    /// caller falls back to the managed code: a password containing NUL (C strings end there; Go hashes
    /// past it) or a setting that is not `$2a$`/`$2b$`/`$2y$` with cost and 22 salt characters.
    internal static class Native
    {
        const int CryptDataSize = 32768; // sizeof(struct crypt_data) in libxcrypt's crypt.h

        [ThreadStatic] static byte[]? data; // crypt_rn's work area; one per bcrypt thread, zeroed before first use

        [DllImport("libcrypt.so.1", EntryPoint = "crypt_rn")]
        static extern IntPtr CryptRn(byte[] phrase, byte[] setting, byte[] data, int size);

        static readonly Lazy<bool> available = new(Probe);
        public static bool Available => available.Value;

        static bool Probe()
        {
            try
            {
                // One vector the managed library computes; any disagreement (an odd build) means managed only.
                const string salt = "$2a$04$abcdefghijklmnopqrstuu";
                return Hash("AuthServer bcrypt probe é", salt) == BCrypt.Net.BCrypt.HashPassword("AuthServer bcrypt probe é", salt);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
            {
                return false;
            }
        }

        public static string? Hash(string password, string setting)
        {
            if (setting.Length < 29 || setting[0] != '$' || setting[1] != '2' || setting[2] is not ('a' or 'b' or 'y')
                || setting[3] != '$' || setting[6] != '$' || password.Contains('\0'))
                return null;
            var bytes = Encoding.UTF8.GetBytes(password);
            // bcrypt reads at most 72 key bytes; libxcrypt refuses phrases over 512 bytes, so cut here.
            var phrase = new byte[Math.Min(bytes.Length, 72) + 1];
            Array.Copy(bytes, phrase, phrase.Length - 1);
            // Always `$2b$`: libxcrypt's `$2a$` carries crypt_blowfish's countermeasure for the old sign-extension
            // bug, which changes the hash of some byte strings containing 0xFF (never produced by UTF-8, but the
            // guarantee is cheap); `$2b$` is the algorithm Go and BCrypt.Net compute for `$2a$`, `$2b$`, `$2y$`.
            var fixedSetting = Encoding.ASCII.GetBytes("$2b" + setting[3..Math.Min(setting.Length, 60)] + "\0");
            var work = data ??= new byte[CryptDataSize];
            var ok = CryptRn(phrase, fixedSetting, work, CryptDataSize) != IntPtr.Zero;
            CryptographicOperations.ZeroMemory(bytes);
            CryptographicOperations.ZeroMemory(phrase);
            if (!ok) return null;
            var end = Array.IndexOf(work, (byte)0); // the result is the struct's first field, `output`
            if (end != 60) return null;
            return setting[..3] + Encoding.ASCII.GetString(work, 3, 57);
        }
    }
}
