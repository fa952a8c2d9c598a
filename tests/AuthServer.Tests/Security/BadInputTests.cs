using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// Catalogue group B (bad input). Already covered elsewhere: B1 malformed JSON (ErrorTests), B2 body over
/// 1 MiB incl. chunked (ErrorTests), B7 72/73 characters and weak passwords (SignupTests, UserTests).
/// </summary>
[Trait("catalogue", "B")]
public sealed class BadInputTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    const string Password = "correct-horse-battery";

    static StringContent Raw(string json) => new(json, Encoding.UTF8, "application/json");

    Task<long> UserCountAsync() => server.Db.ScalarAsync<long>("select count(*) from auth.users");

    [Theory] // B1★ wrong types and trailing bytes
    [InlineData("/signup", """{"email":123,"password":"correct-horse-battery"}""")]
    [InlineData("/signup", """{"email":"a@example.com","password":true}""")]
    [InlineData("/signup", """{"email":"a@example.com","password":"correct-horse-battery","data":"str"}""")]
    [InlineData("/signup", """{"email":["a@example.com"],"password":"correct-horse-battery"}""")]
    [InlineData("/signup", """{"email":"b1-trailing@example.com","password":"correct-horse-battery"} x""")]
    [InlineData("/signup", """{"email":"b1-two@example.com","password":"correct-horse-battery"}{}""")]
    [InlineData("/token?grant_type=password", """{"email":{"$ne":null},"password":"x"}""")]
    [InlineData("/token?grant_type=refresh_token", """{"refresh_token":12}""")]
    public async Task Post_WrongTypesOrTrailingBytes_Returns400BadJsonAndWritesNothing(string path, string body)
    {
        var users = await UserCountAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsync(path, Raw(body)), 400, "bad_json");

        Assert.Equal(users, await UserCountAsync());
    }

    [Fact] // B3★
    public async Task Signup_TenThousandLevelsOfNesting_Returns400BadJson()
    {
        var deep = new StringBuilder("""{"email":"deep@example.com","password":"correct-horse-battery","data":""");
        deep.Append('[', 10_000).Append(']', 10_000).Append('}');

        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/signup", Raw(deep.ToString())), 400, "bad_json");
    }

    [Theory] // B3★ duplicate keys: two parsers (a proxy, a WAF, us) must not see different values
    [InlineData("""{"email":"dup1@example.com","email":"dup2@example.com","password":"correct-horse-battery"}""")]
    [InlineData("""{"email":"dup3@example.com","password":"correct-horse-battery","data":{"a":1,"a":2}}""")]
    public async Task Signup_DuplicateKeys_Returns400BadJsonAndCreatesNoUser(string body)
    {
        var users = await UserCountAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsync("/signup", Raw(body)), 400, "bad_json");

        Assert.Equal(users, await UserCountAsync());
    }

    public static TheoryData<string> BadEmails => new()
    {
        "a@", "a@b", "a@b..io", new string('a', 251) + "@b.io", "Eve <a@b.io>", "a@b.io\r\nBcc: victim@evil.io",
        "a@b.io\nBcc: x@y.io", "a\u200B@b.io", "ａ@b.io", "a@b.io\u0007", "a b@c.io", "@b.io",
    };

    [Theory] // B4★ B5★ (zero-width, control, full-width)
    [MemberData(nameof(BadEmails))]
    public async Task Signup_BadEmail_Returns400ValidationFailedAndCreatesNoUser(string email)
    {
        var users = await UserCountAsync();

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email, password = Password }),
            400, "validation_failed");

        Assert.Equal(users, await UserCountAsync());
    }

    [Fact] // B5★ case (incl. the Turkish dotted/dotless I) folds invariantly: one account
    public async Task Signup_UpperCaseEmailThenLowerCaseLogin_IsOneAccount()
    {
        var local = $"ILIKE-{Guid.NewGuid():N}";
        var session = await server.SignUpAsync($"{local}@X.IO", Password);

        Assert.Equal($"{local.ToLowerInvariant()}@x.io", (string?)session["user"]!["email"]);
        await server.SignInAsync($"{local.ToLowerInvariant()}@x.io", Password);
        using var client = server.CreateClient();
        var again = await client.PostAsJsonAsync("/signup", new { email = $"{local.ToLowerInvariant()}@x.io", password = Password });
        await ApiAssert.ErrorAsync(again, 422, "user_already_exists");
    }

    [Fact] // B5★ NFC/NFD and IDN/punycode forms never become two accounts
    public async Task Signup_UnicodeFormsOfOneAddress_NeverTwoAccounts()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        string[] forms =
        [
            $"jos\u00e9-{tag}@example.com", $"jose\u0301-{tag}@example.com",         // NFC, NFD
            $"u-{tag}@b\u00fccher.example", $"u-{tag}@xn--bcher-kva.example",         // IDN, punycode
        ];
        using var client = server.CreateClient();
        foreach (var email in forms)
        {
            var response = await client.PostAsJsonAsync("/signup", new { email, password = Password });
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest or HttpStatusCode.UnprocessableEntity,
                $"{email}: {(int)response.StatusCode}");
        }

        Assert.True(await server.Db.ScalarAsync<long>("select count(*) from auth.users where email like @p", new { p = $"jos%{tag}@example.com" }) <= 1);
        Assert.True(await server.Db.ScalarAsync<long>("select count(*) from auth.users where email like @p", new { p = $"u-{tag}@%" }) <= 1);
    }

    [Theory] // B6★ PostgreSQL refuses NUL (22021) and lone surrogates can't be encoded: 4xx, never 500
    [InlineData("""{"email":"nul\u0000@example.com","password":"correct-horse-battery"}""")]
    [InlineData("""{"email":"nul@example.com","password":"correct\u0000horse"}""")]
    [InlineData("""{"email":"nuldata@example.com","password":"correct-horse-battery","data":{"k":"a\u0000b"}}""")]
    [InlineData("""{"email":"nulkey@example.com","password":"correct-horse-battery","data":{"a\u0000b":1}}""")]
    [InlineData("""{"email":"sur\ud800@example.com","password":"correct-horse-battery"}""")]
    [InlineData("""{"email":"surdata@example.com","password":"correct-horse-battery","data":{"k":"\udc00"}}""")]
    [InlineData("""{"email":"surpw@example.com","password":"correct\ud800horse"}""")]
    public async Task Signup_NulOrLoneSurrogate_Returns4xxNot500(string body)
    {
        using var client = server.CreateClient();

        var response = await client.PostAsync("/signup", Raw(body));

        Assert.True((int)response.StatusCode is >= 400 and < 500, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}\n{server.ServerLog}");
    }

    [Fact] // B6★ invalid UTF-8 bytes
    public async Task Signup_InvalidUtf8_Returns400BadJson()
    {
        using var client = server.CreateClient();
        var bytes = Encoding.UTF8.GetBytes("""{"email":"x@example.com","password":"correct-horse-battery","data":{"k":"__"}}""");
        var i = Array.IndexOf(bytes, (byte)'_');
        bytes[i] = 0xC3; bytes[i + 1] = 0x28; // a two-byte sequence with a bad continuation byte

        var response = await client.PostAsync("/signup", new ByteArrayContent(bytes) { Headers = { ContentType = new("application/json") } });

        await ApiAssert.ErrorAsync(response, 400, "bad_json");
    }

    [Fact] // B7★ 19 emoji are 38 UTF-16 units but 76 bytes: bcrypt would silently drop the tail
    public async Task Signup_NineteenEmojiPassword_Returns400()
    {
        var password = string.Concat(Enumerable.Repeat("😀", 19));

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/signup", new { email = AuthServerFixture.NewEmail(), password }),
            400, "validation_failed");
    }

    public static TheoryData<string> SqlFragments => new()
    {
        "' OR '1'='1", "'; drop table auth.users; --", "\") or 1=1 --", "1; select pg_sleep(10)", "$$; delete from auth.identities; $$",
    };

    [Theory] // B8★ SQL in every field and metadata key: stored verbatim or refused, never executed
    [MemberData(nameof(SqlFragments))]
    public async Task Signup_SqlFragmentsInEveryField_DataIntact(string sql)
    {
        var users = await UserCountAsync();
        var identities = await server.Db.ScalarAsync<long>("select count(*) from auth.identities");
        using var client = server.CreateClient();

        var asEmail = await client.PostAsJsonAsync("/signup", new { email = sql, password = Password });
        var asLogin = await client.PostAsJsonAsync("/token?grant_type=password", new { email = sql + "@example.com", password = sql });
        var asRefresh = await client.PostAsJsonAsync("/token?grant_type=refresh_token", new { refresh_token = sql });
        var email = AuthServerFixture.NewEmail("sql");
        var asData = await client.PostAsJsonAsync("/signup", new { email, password = sql.PadRight(8, '!'), data = new Dictionary<string, string> { [sql] = sql } });

        Assert.All(new[] { asEmail, asLogin, asRefresh }, r => Assert.InRange((int)r.StatusCode, 400, 499));
        var session = await server.OkJsonAsync(asData);
        Assert.Equal(sql, (string?)session["user"]!["user_metadata"]![sql]);
        await server.SignInAsync(email, sql.PadRight(8, '!'));
        Assert.Equal(users + 1, await UserCountAsync());
        Assert.Equal(identities + 1, await server.Db.ScalarAsync<long>("select count(*) from auth.identities"));
    }

    [Fact] // B9★ a 40 KB header is refused by Kestrel before any handler runs
    public async Task Signup_40KbHeader_Returns431()
    {
        using var client = server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/signup") { Content = JsonContent.Create(new { }) };
        request.Headers.Add("X-Padding", new string('a', 40 * 1024));

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
    }
}
