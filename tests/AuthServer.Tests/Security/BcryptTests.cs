using System.Text;
using AuthServer.Security;
using AuthServer.Tests.Infrastructure.GoTrue;
using Managed = BCrypt.Net.BCrypt;

namespace AuthServer.Tests.Security;

/// The native engine (libxcrypt) must be bit-exact with BCrypt.Net-Next and Go: hashes either writes verify with
/// the other, and stored GoTrue hashes keep verifying, whichever engine a server picked.
public sealed class BcryptTests
{
    const string LibCrypt = "/usr/lib/x86_64-linux-gnu/libcrypt.so.1";

    // ASCII, Latin-1 with the high bit set (crypt_blowfish's `$2a$` countermeasure lives there), other BMP
    // characters and surrogate pairs (4-byte UTF-8), so random passwords cross the 72-byte limit mid-character.
    static readonly string[] Alphabet =
        ["a", "Z", "0", " ", "~", "\u007f", "é", "ÿ", "\u0080", "ß", "€", "漢", "\u00ad", "𝄞", "😀"];

    static string RandomPassword(Random random, int maxChars)
    {
        var sb = new StringBuilder();
        for (var i = random.Next(maxChars + 1); i > 0; i--) sb.Append(Alphabet[random.Next(Alphabet.Length)]);
        return sb.ToString();
    }

    static string Setting(string prefix, int cost) =>
        prefix + Managed.GenerateSalt(cost)[4..]; // "$2a$" + "04$<22>" → same salt under $2a$/$2b$/$2y$

    [Fact]
    public void Native_IsChosenWhereLibxcryptIsInstalled()
    {
        if (!File.Exists(LibCrypt)) return; // other systems run managed only; CI's Debian image has it
        Assert.True(Bcrypt.Native.Available);
        Assert.Equal("libxcrypt", Bcrypt.Engine);
    }

    [Fact]
    public void Native_RandomPasswordsAndSalts_SameHashAsManaged()
    {
        if (!Bcrypt.Native.Available) return;
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var i = 0; i < 3000; i++)
        {
            var password = RandomPassword(random, 40);
            var setting = Setting(new[] { "$2a$", "$2b$", "$2y$" }[i % 3], 4);
            var native = Bcrypt.Native.Hash(password, setting);
            Assert.True(native == Managed.HashPassword(password, setting),
                $"seed {seed}, case {i}: {Convert.ToHexString(Encoding.UTF8.GetBytes(password))} with {setting}: native {native}");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(70)]
    [InlineData(71)]
    [InlineData(72)]
    [InlineData(73)]
    [InlineData(200)]
    [InlineData(600)]
    public void Native_AroundThe72ByteLimit_SameHashAsManaged(int asciiBytes)
    {
        if (!Bcrypt.Native.Available) return;
        foreach (var tail in new[] { "", "é", "€", "😀" }) // a multi-byte character straddling byte 72
        {
            var password = new string('x', asciiBytes) + tail;
            var setting = Managed.GenerateSalt(4);
            Assert.Equal(Managed.HashPassword(password, setting), Bcrypt.Native.Hash(password, setting));
        }
    }

    [Fact]
    public void EachEngine_VerifiesTheOthersHashes()
    {
        if (!Bcrypt.Native.Available) return;
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var password = RandomPassword(random, 30);
            var nativeHash = Bcrypt.Hash(password, 4); // native here
            var managedHash = Managed.HashPassword(password, 4);
            Assert.StartsWith("$2a$04$", nativeHash);
            Assert.True(Managed.Verify(password, nativeHash));
            Assert.True(Bcrypt.Verify(password, managedHash));
            Assert.False(Bcrypt.Verify(password + "x", managedHash));
            Assert.False(Managed.Verify(password + "x", nativeHash));
        }
    }

    [Fact]
    public void GoTrueHashFromTheAdoptionFixture_VerifiesWithBothEngines()
    {
        const string goHash = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga"; // gotrue_database.sql, Go's x/crypto
        Assert.True(Bcrypt.Verify(GoTrueFixture.Password, goHash));
        Assert.False(Bcrypt.Verify(GoTrueFixture.Password + "!", goHash));
        Assert.True(Managed.Verify(GoTrueFixture.Password, goHash));
        if (Bcrypt.Native.Available) Assert.Equal(goHash, Bcrypt.Native.Hash(GoTrueFixture.Password, goHash));
    }

    [Fact]
    public void PasswordWithNul_FallsBackToManaged_AndStillVerifies()
    {
        const string password = "before\0after"; // C strings stop at the NUL; Go and BCrypt.Net hash past it
        Assert.Null(Bcrypt.Native.Hash(password, Managed.GenerateSalt(4)));
        var hash = Bcrypt.Hash(password, 4);
        Assert.True(Bcrypt.Verify(password, hash));
        Assert.False(Bcrypt.Verify("before", hash));
    }

    [Theory]
    [InlineData("")]
    [InlineData("$2a$10$not-a-valid-salt")]
    [InlineData("$2a$04$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!")]
    [InlineData("$2a$99$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234")]
    [InlineData("$1$abcdefgh$abcdefghijklmnopqrstuv")]
    public void Verify_MalformedHash_IsFalseNotAnException(string hash) =>
        Assert.False(Bcrypt.Verify("anything", hash));
}
