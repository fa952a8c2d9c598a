using AuthServer.Config;
using Microsoft.Extensions.Configuration;

namespace AuthServer.Tests.Config;

/// GoTrue's parsing rules for env vars (config.md §0) and boot-time validation.
public sealed class EnvReaderTests
{
    static EnvReader Env(params (string Key, string Value)[] values) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Theory]
    [InlineData("1", true)]
    [InlineData("t", true)]
    [InlineData("TRUE", true)]
    [InlineData("True", true)]
    [InlineData("0", false)]
    [InlineData("f", false)]
    [InlineData("False", false)]
    public void Bool_GoParseBoolSpellings_Parse(string value, bool expected) =>
        Assert.Equal(expected, Env(("X", value)).Bool("X", !expected));

    [Fact]
    public void Bool_Garbage_ThrowsNamingTheVariable()
    {
        var e = Assert.Throws<ConfigException>(() => Env(("GOTRUE_DISABLE_SIGNUP", "yes")).Bool("GOTRUE_DISABLE_SIGNUP", false));
        Assert.Contains("GOTRUE_DISABLE_SIGNUP", e.Message);
    }

    [Theory]
    [InlineData("300s", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("1.5h", 5400)]
    [InlineData("250ms", 0.25)]
    [InlineData("45", 45)]
    public void Duration_GoSyntax_Parses(string value, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), Env(("D", value)).Duration("D"));

    [Fact]
    public void Duration_Garbage_ThrowsNamingTheVariable() =>
        Assert.Contains("GOTRUE_SESSIONS_TIMEBOX",
            Assert.Throws<ConfigException>(() => Env(("GOTRUE_SESSIONS_TIMEBOX", "soon")).Duration("GOTRUE_SESSIONS_TIMEBOX")).Message);

    [Fact]
    public void String_PrefixedNameWinsOverBareName() =>
        Assert.Equal("a", Env(("GOTRUE_DB_DATABASE_URL", "a"), ("DATABASE_URL", "b")).String("GOTRUE_DB_DATABASE_URL", "DATABASE_URL"));

    [Fact]
    public void JwtOptions_ShortSecret_BootsWithAWarningAsGoTrue()
    {
        var env = Env(("GOTRUE_JWT_SECRET", "too-short"));
        JwtOptions.Load(env);
        Assert.Contains(env.Warnings, w => w.StartsWith("GOTRUE_JWT_SECRET must be at least 32 bytes", StringComparison.Ordinal));
    }

    [Fact]
    public void JwtOptions_ShortSecretWithStrictConfig_Refused() =>
        Assert.Contains("GOTRUE_JWT_SECRET",
            Assert.Throws<ConfigException>(() => JwtOptions.Load(Env(("GOTRUE_JWT_SECRET", "too-short"), ("GOTRUE_STRICT_CONFIG", "true")))).Message);

    [Fact]
    public void JwtOptions_AudAndRoleDefaultToAuthenticated()
    {
        var jwt = JwtOptions.Load(Env(("GOTRUE_JWT_SECRET", new string('s', 32))));
        Assert.Equal("authenticated", jwt.Aud);
        Assert.Equal("authenticated", jwt.DefaultGroupName);
        Assert.Equal(3600, jwt.ExpirySeconds);
    }

    [Theory]
    [InlineData("postgres://u%40x:p%3Aw@db.example:6543/app?sslmode=require", "db.example", 6543, "app", "u@x", "p:w")]
    [InlineData("postgresql://postgres@127.0.0.1/postgres", "127.0.0.1", 5432, "postgres", "postgres", null)]
    [InlineData("Host=h;Port=1;Database=d;Username=u;Password=pw", "h", 1, "d", "u", "pw")]
    public void DatabaseUrl_UriOrConnectionString_Converts(string url, string host, int port, string db, string user, string? password)
    {
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(global::AuthServer.Data.DatabaseUrl.ToConnectionString(url, "DATABASE_URL"));
        Assert.Equal((host, port, db, user, password), (cs.Host, cs.Port, cs.Database, cs.Username, cs.Password));
        Assert.Equal("UTC", cs.Timezone);
    }

    [Fact]
    public void DatabaseUrl_Garbage_ThrowsWithoutEchoingTheValue()
    {
        var e = Assert.Throws<ConfigException>(() => global::AuthServer.Data.DatabaseUrl.ToConnectionString("postgres://user:s3cret@[bad", "DATABASE_URL"));
        Assert.DoesNotContain("s3cret", e.Message);
        Assert.Contains("DATABASE_URL", e.Message);
    }
}
