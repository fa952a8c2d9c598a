using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Security;

/// <summary>
/// Issue 9 §5: thousands of generated malformed and hostile bodies against every public route (and the
/// user routes with a real token): never a 5xx, and the public routes change nothing in the database.
/// Seeded, so a failure reproduces; the seed and the offending body are in the message.
/// </summary>
[Trait("catalogue", "B")]
public sealed class FuzzTests(AuthServerFixture server) : IClassFixture<AuthServerFixture>
{
    const int Seed = 20260909;

    static readonly string[] PublicRoutes =
    [
        "POST /signup", "POST /token?grant_type=password", "POST /token?grant_type=refresh_token",
        "POST /token?grant_type=pkce", "POST /token?grant_type=id_token", "POST /token?grant_type=%00",
        "POST /token", "POST /verify", "GET /verify?type=signup&token=%27%20or%201%3D1", "POST /otp", "POST /magiclink",
        "POST /recover", "POST /resend", "POST /logout", "PUT /user", "GET /user", "POST /auth/v1/signup",
    ];

    static readonly string[] Fields =
    [
        "email", "phone", "password", "data", "refresh_token", "gotrue_meta_security", "captcha_token", "channel",
        "code_verifier", "auth_code", "token", "token_hash", "type", "options", "provider", "id_token", "nonce",
        "app_metadata", "user_metadata", "current_password", "scope", "__proto__", "constructor", "",
    ];

    // Nothing here is a valid email, so no generated sign-up can succeed.
    static readonly string[] Strings =
    [
        "", " ", "\u0000", "a\u0000@b.io", "\u0007\u001b[31m", "a@b.io\r\nBcc: x@evil.io", "' OR '1'='1", "'; drop table auth.users; --",
        "$$;select pg_sleep(5);$$", "<script>alert(1)</script>", "😀😀😀", "\u200B", "ｆｕｌｌ＠ｗｉｄｔｈ", "${jndi:ldap://x}",
        "../../../../etc/passwd", "%00%0d%0a", "null", "NaN", "-1", "1e309", "\\u0000", "a@", "@", "Eve <a@b.io>",
        "+1 (555) 0100 ext 9", "bearer x.y.z", "eyJhbGciOiJub25lIn0.e30.", new string('x', 10_000), "\t\n\v\f\r",
    ];

    static readonly string[] Numbers =
        ["0", "-0", "1e309", "-1e309", "123456789012345678901234567890", "1.7976931348623157e308", "4.9e-324", "-1", "0.1"];

    static string Atom(Random r) => r.Next(10) switch
    {
        0 => Numbers[r.Next(Numbers.Length)],
        1 => r.Next(3) switch { 0 => "true", 1 => "false", _ => "null" },
        2 => "\"\\ud800\"",
        3 => "\"\\udc00x\"",
        _ => JsonSerializer.Serialize(Strings[r.Next(Strings.Length)]),
    };

    static string Value(Random r, int depth) => depth > 3 ? Atom(r) : r.Next(6) switch
    {
        0 => Object(r, depth + 1),
        1 => "[" + string.Join(",", Enumerable.Range(0, r.Next(4)).Select(_ => Value(r, depth + 1))) + "]",
        _ => Atom(r),
    };

    static string Object(Random r, int depth) =>
        "{" + string.Join(",", Enumerable.Range(0, r.Next(1, 6)).Select(_ =>
            JsonSerializer.Serialize(r.Next(5) == 0 ? Strings[r.Next(Strings.Length)] : Fields[r.Next(Fields.Length)]) + ":" + Value(r, depth))) + "}";

    static byte[] Body(Random r)
    {
        var json = Object(r, 0);
        var bytes = Encoding.UTF8.GetBytes(json);
        switch (r.Next(12))
        {
            case 0: return bytes[..r.Next(bytes.Length)];                                           // truncated
            case 1: return [.. bytes, .. "garbage"u8];                                              // trailing bytes
            case 2: { var b = (byte[])bytes.Clone(); b[r.Next(b.Length)] = (byte)(0x80 + r.Next(0x7F)); return b; } // invalid UTF-8
            case 3: return Encoding.UTF8.GetBytes(new string('[', 5000) + new string(']', 5000)); // deep nesting
            case 4: return Encoding.UTF8.GetBytes("{\"email\":\"a\",\"email\":" + Value(r, 0) + "}");   // duplicate keys
            case 5: return [0xEF, 0xBB, 0xBF, .. bytes];                                            // BOM
            case 6: return [];                                                                      // empty
            default: return bytes;
        }
    }

    async Task<string> FingerprintAsync() => await server.Db.ScalarAsync<string>(
        """
        select concat_ws('|',
            (select count(*) from auth.users), (select count(*) from auth.identities),
            (select count(*) from auth.sessions), (select count(*) from auth.refresh_tokens),
            (select count(*) from auth.audit_log_entries),
            (select md5(coalesce(string_agg(u::text, ',' order by u.id), '')) from auth.users u))
        """);

    async Task FuzzAsync(IReadOnlyList<string> routes, int count, string? bearer, Random random)
    {
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var cases = Enumerable.Range(0, count).Select(_ => (Route: routes[random.Next(routes.Count)], Body: Body(random),
            ContentType: random.Next(4) switch { 0 => "text/plain", 1 => "application/x-www-form-urlencoded", _ => "application/json" })).ToList();
        using var client = server.CreateClient(random.Next(2) == 0 ? AuthServerFixture.ApiVersion2024 : null, bearer);
        await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, ct) =>
        {
            var space = c.Route.IndexOf(' ');
            using var request = new HttpRequestMessage(new HttpMethod(c.Route[..space]), c.Route[(space + 1)..]);
            if (request.Method != HttpMethod.Get)
                request.Content = new ByteArrayContent(c.Body) { Headers = { ContentType = MediaTypeHeaderValue.Parse(c.ContentType) } };
            using var response = await client.SendAsync(request, ct);
            if ((int)response.StatusCode >= 500)
                failures.Add($"{c.Route} {c.ContentType} → {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}\n  body: {Encoding.UTF8.GetString(c.Body)[..Math.Min(300, c.Body.Length)]}");
        });
        Assert.True(failures.IsEmpty, $"seed {Seed}: {failures.Count} requests got a 5xx:\n{string.Join("\n", failures.Take(10))}\n{server.ServerLog}");
    }

    [Fact]
    public async Task PublicRoutes_TwoThousandHostileBodies_No5xxAndDatabaseUnchanged()
    {
        var before = await FingerprintAsync();

        await FuzzAsync(PublicRoutes, 2000, bearer: null, new Random(Seed));

        Assert.Equal(before, await FingerprintAsync());
    }

    [Fact]
    public async Task UserRoutes_FiveHundredHostileBodiesWithValidToken_No5xx()
    {
        var (_, _, session) = await server.NewUserAsync("fuzz");

        await FuzzAsync(["PUT /user", "GET /user", "POST /logout?scope=local%27", "PUT /auth/v1/user"], 500,
            (string)session["access_token"]!, new Random(Seed + 1));
    }
}
