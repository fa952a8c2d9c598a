using AuthServer.Features.External.Providers;

namespace AuthServer.Tests.Security;

/// <summary>OAuth 1.0a signing (Twitter's legacy sign-in) against RFC 5849's worked example and Twitter's documented one.</summary>
public sealed class OAuth1Tests
{
    static KeyValuePair<string, string> P(string k, string v) => new(k, v);

    /// RFC 5849 §3.4.1: `POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b`, body `c2&a3=2+q`, decoded as in §3.4.1.3.1.
    static readonly KeyValuePair<string, string>[] RfcParameters =
    [
        P("b5", "=%3D"), P("a3", "a"), P("c@", ""), P("a2", "r b"), P("oauth_consumer_key", "9djdj82h48djs9d2"),
        P("oauth_token", "kkk9d7dh3k39sjv7"), P("oauth_signature_method", "HMAC-SHA1"), P("oauth_timestamp", "137131201"),
        P("oauth_nonce", "7d8f3e4a"), P("c2", ""), P("a3", "2 q"),
    ];

    [Fact]
    public void Rfc5849_NormalizedParameters_3_4_1_3_2()
    {
        Assert.Equal(
            "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a" +
            "&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7",
            OAuth1.NormalizedParameters(RfcParameters));
    }

    [Fact]
    public void Rfc5849_BaseString_3_4_1_1()
    {
        Assert.Equal(
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D" +
            "%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1" +
            "%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7",
            OAuth1.BaseString("post", new Uri("http://EXAMPLE.com:80/request?b5=%3D%253D"), RfcParameters));
    }

    [Theory]
    [InlineData("http://EXAMPLE.COM:80/r%20v/X?id=123", "http://example.com/r%20v/X")] // §3.4.1.2
    [InlineData("https://www.example.net:8080/?q=1", "https://www.example.net:8080/")]
    public void Rfc5849_BaseUri_3_4_1_2(string url, string expected) => Assert.Equal(expected, OAuth1.BaseUri(new Uri(url)));

    [Theory]
    [InlineData("Ladies + Gentlemen", "Ladies%20%2B%20Gentlemen")]
    [InlineData("An encoded string!", "An%20encoded%20string%21")]
    [InlineData("Dogs, Cats & Mice", "Dogs%2C%20Cats%20%26%20Mice")]
    [InlineData("☃", "%E2%98%83")]
    [InlineData("-._~", "-._~")]
    public void Rfc5849_PercentEncoding_3_6(string value, string expected) => Assert.Equal(expected, OAuth1.Encode(value));

    /// Twitter's "Creating a signature" example (developer.x.com), end to end through the header.
    [Fact]
    public void Header_TwitterDocumentedExample()
    {
        var url = new Uri("https://api.twitter.com/1.1/statuses/update.json?include_entities=true");
        var header = OAuth1.Header("POST", url,
            [P("include_entities", "true"), P("status", "Hello Ladies + Gentlemen, a signed OAuth request!")],
            "xvz1evFS4wEEPTGEFPHBog", "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE", [],
            "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", 1318622958);

        Assert.Contains("oauth_signature=\"hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D\"", header);
        Assert.StartsWith("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", oauth_nonce=", header);
    }

    [Fact]
    public void Sign_WrongTokenSecret_DifferentSignature()
    {
        var baseString = OAuth1.BaseString("GET", new Uri("https://api.twitter.com/x"), [P("a", "b")]);
        Assert.NotEqual(OAuth1.Sign(baseString, "cs", "ts"), OAuth1.Sign(baseString, "cs", "other"));
        Assert.Equal(OAuth1.Sign(baseString, "cs", null), OAuth1.Sign(baseString, "cs", ""));
    }
}
