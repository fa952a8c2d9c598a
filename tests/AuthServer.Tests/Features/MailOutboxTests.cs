using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using AuthServer.Mail;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>The transactional outbox: an SMTP outage delays mail but loses none and fails no request.</summary>
public sealed class SmtpDownTests(SmtpDownFixture server) : IClassFixture<SmtpDownFixture>
{
    [Fact]
    [Trait("catalogue", "F4")]
    public async Task Signup_WhileSmtpIsDown_Returns200AndMailArrivesWhenSmtpComesBack()
    {
        var email = AuthServerFixture.NewEmail();
        using var client = server.CreateClient();

        var user = await server.OkJsonAsync(await client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" }));

        Assert.Equal(email, (string?)user["email"]);
        // The failed attempt is recorded with a retry time; then the server comes back on that port.
        await WaitUntilAsync(async () => await server.Db.ScalarAsync<int>(
            "select coalesce(max(attempts), 0) from authserver.mail_outbox where recipient = @email", new { email }) >= 1);
        server.LateMail.Start(server.DownPort);
        server.Clock.Advance(TimeSpan.FromMinutes(15)); // past any backoff

        var mail = await server.LateMail.LatestAsync(email);
        Assert.Equal("Confirm your email address", mail.Subject);
        await server.OkJsonAsync(await client.PostAsJsonAsync("/verify", new { type = "signup", email, token = mail.Code }));
        await WaitUntilAsync(async () => await server.Db.ScalarAsync<long>(
            "select count(*) from authserver.mail_outbox where recipient = @email", new { email }) == 0);
    }

    static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within 30 s");
            await Task.Delay(50);
        }
    }
}

/// <summary>An SMTP server that accepts and never answers blocks no request.</summary>
public sealed class SmtpHangingTests(SmtpHangingFixture server) : IClassFixture<SmtpHangingFixture>
{
    [Fact]
    [Trait("catalogue", "F5")]
    public async Task Requests_WhileSmtpHangs_AllComplete()
    {
        using var client = server.CreateClient();
        var emails = Enumerable.Range(0, 5).Select(_ => AuthServerFixture.NewEmail()).ToList();

        var responses = await Task.WhenAll(emails.Select(email =>
            client.PostAsJsonAsync("/signup", new { email, password = "correct-horse-battery" })));
        var recover = await client.PostAsJsonAsync("/recover", new { email = emails[0] });
        var health = await client.GetAsync("/health");

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, recover.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(6, await server.Db.ScalarAsync<long>( // 5 confirmations + 1 recovery, all still queued
            "select count(*) from authserver.mail_outbox where recipient = any(@emails)", new { emails = emails.ToArray() }));
    }
}

/// <summary>The Go-template subset Supabase email templates use (internal/mailer/templatemailer).</summary>
public sealed class GoTemplateTests
{
    static readonly Dictionary<string, object?> Data = new()
    {
        ["ConfirmationURL"] = "http://x/verify?token=a&type=signup",
        ["Token"] = "123456",
        ["Email"] = "ann@example.com",
        ["Data"] = JsonNode.Parse("""{"name":"Ann <3","locale":"fr","n":2,"vip":true,"nested":{"k":"v"}}"""),
    };

    [Theory]
    [InlineData("{{ .Token }}", "123456")]
    [InlineData("<a href=\"{{ .ConfirmationURL }}\">", "<a href=\"http://x/verify?token=a&amp;type=signup\">")]
    [InlineData("Hi {{ .Data.name }}", "Hi Ann &lt;3")]
    [InlineData("{{ .Data.nested.k }}|{{ .Data.missing }}|", "v||")]
    [InlineData("{{ if eq .Data.locale \"fr\" }}Bonjour{{ else if eq .Data.locale \"de\" }}Hallo{{ else }}Hello{{ end }}", "Bonjour")]
    [InlineData("{{ if eq .Data.missing \"fr\" }}Bonjour{{ else }}Hello{{ end }}", "Hello")]
    [InlineData("{{ if ne .Data.locale \"fr\" }}x{{ else }}y{{ end }}", "y")]
    [InlineData("{{ if and .Data.vip (eq .Data.n 2) }}vip{{ end }}", "vip")]
    [InlineData("{{ if or .Data.missing (not .Data.vip) }}a{{ else }}b{{ end }}", "b")]
    [InlineData("{{ with .Data.name }}[{{ . }}]{{ end }}", "[Ann &lt;3]")]
    [InlineData("a  {{- /* note */ -}}  b", "ab")]
    [InlineData("{{ if .Data.vip -}}\n  yes\n{{- end }}", "yes")]
    public void Render_SupportedSyntax_MatchesGo(string template, string expected)
    {
        Assert.Equal(expected, GoTemplate.Parse(template).Render(Data));
    }

    [Theory]
    [InlineData("{{ if .Token }}unterminated")]
    [InlineData("{{ range .Data }}x{{ end }}")]
    [InlineData("{{ .Token | printf \"%s\" }}")]
    [InlineData("{{ end }}")]
    public void Parse_Unsupported_Throws(string template)
    {
        Assert.Throws<TemplateException>(() => GoTemplate.Parse(template));
    }
}

/// <summary>redirect_to validation (api.md §5.1).</summary>
public sealed class RedirectValidationTests
{
    static readonly AuthServer.Config.ApiOptions Api = new()
    {
        SiteUrl = "https://site.example.com",
        UriAllowList = ["https://*.example.org/**", "myapp://callback", "http://{a,b}.test/cb"],
        ExternalUrl = new Uri("http://localhost:9999"),
    };

    [Theory]
    [InlineData("https://site.example.com/anything", true)]
    [InlineData("https://site.example.com:8443/", false)]
    [InlineData("http://site.example.com/", false)]
    [InlineData("http://localhost:1234/cb", false)]
    [InlineData("http://127.0.0.1:1234/cb", true)]
    [InlineData("http://[::1]:5/cb", true)]
    [InlineData("http://2130706433/", false)]
    [InlineData("https://app.example.org/deep/path", true)]
    [InlineData("https://a.b.example.org/", false)]
    [InlineData("https://app.example.org.evil.com/", false)]
    [InlineData("myapp://callback", true)]
    [InlineData("myapp://callback#frag", true)]
    [InlineData("myapp://other", false)]
    [InlineData("http://b.test/cb", true)]
    [InlineData("http://c.test/cb", false)]
    [InlineData("", false)]
    // Cases from the OAuth copy this check replaced (Features/External/RedirectUrls) and GoTrue's tests.
    [InlineData("https://SITE.example.com/x", true)]
    [InlineData("https://site.example.com.evil.com/", false)]
    [InlineData("http://127.0.0.2/cb", true)]
    [InlineData("https://x_y.example.org/", true)]
    [InlineData("https://ev!l.example.org/", false)]
    [InlineData("//evil.com/", false)]
    [InlineData("javascript:alert(1)", false)]
    [InlineData("/relative/path", false)]
    [Trait("catalogue", "D1")]
    [Trait("catalogue", "D2")]
    public void IsValid_FollowsSiteUrlLoopbackAndAllowList(string url, bool valid)
    {
        Assert.Equal(valid, AuthServer.Http.Redirects.IsValid(Api, url));
    }

    [Fact]
    [Trait("catalogue", "D2")]
    public void IsValid_LocalhostAnyPortWhenSiteIsLocalhost()
    {
        var api = new AuthServer.Config.ApiOptions { SiteUrl = "http://localhost:3000", ExternalUrl = new Uri("http://x") };
        Assert.True(AuthServer.Http.Redirects.IsValid(api, "http://localhost:5173/x"));
        Assert.False(AuthServer.Http.Redirects.IsValid(api, "https://localhost:5173/x"));
    }
}
