using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Tests.Infrastructure;
using Nethereum.Signer;
using NSec.Cryptography;
using SimpleBase;

namespace AuthServer.Tests.Features;

/// <summary>Both Web3 chains on, site URL https://app.example.com (messages must be signed for it).</summary>
public sealed class Web3Fixture : AuthServerFixture
{
    public const string Domain = "app.example.com";
    public const string Uri = "https://app.example.com/";

    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_SITE_URL"] = "https://app.example.com";
        settings["GOTRUE_EXTERNAL_WEB3_SOLANA_ENABLED"] = "true";
        settings["GOTRUE_EXTERNAL_WEB3_ETHEREUM_ENABLED"] = "true";
        settings["GOTRUE_RATE_LIMIT_WEB3"] = "1000000";
    }
}

/// <summary>Only Solana on: the other chains answer GoTrue's per-chain "disabled". Web3 rate limit at its default burst.</summary>
public sealed class Web3SolanaOnlyFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_EXTERNAL_WEB3_SOLANA_ENABLED"] = "true";
        settings["GOTRUE_RATE_LIMIT_WEB3"] = "0.3"; // burst 30, 0.3 per 5 min
        settings["GOTRUE_RATE_LIMIT_BY_SOCKET_ADDRESS"] = "true"; // per-client limits need a key (ours, opt-in)
    }
}

/// <summary>A Solana wallet: an Ed25519 key made in the test, its base58 public key as address.</summary>
public sealed class SolanaWallet : IDisposable
{
    readonly Key key = Key.Create(SignatureAlgorithm.Ed25519);

    public string Address => Base58.Bitcoin.Encode(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));

    /// <summary>The signature as supabase-js sends it: base64url without padding.</summary>
    public string Sign(string message) =>
        Convert.ToBase64String(SignatureAlgorithm.Ed25519.Sign(key, Encoding.UTF8.GetBytes(message)))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public void Dispose() => key.Dispose();
}

/// <summary>An Ethereum wallet: a secp256k1 key made in the test, `personal_sign` signatures.</summary>
public sealed class EthereumWallet
{
    readonly EthECKey key = EthECKey.GenerateKey();

    public string Address => key.GetPublicAddress(); // EIP-55 checksummed

    public string Sign(string message) => new EthereumMessageSigner().EncodeUTF8AndSign(message, key);
}

public static class Web3Messages
{
    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'");

    public static string Solana(string address, DateTimeOffset issuedAt, string domain = Web3Fixture.Domain,
        string uri = Web3Fixture.Uri, string statement = "Sign in to the test app", string extra = "") =>
        $"{domain} wants you to sign in with your Solana account:\n{address}\n\n{statement}\n\nVersion: 1\nURI: {uri}\nIssued At: {Iso(issuedAt)}{extra}";

    public static string Ethereum(string address, DateTimeOffset issuedAt, string domain = Web3Fixture.Domain,
        string uri = Web3Fixture.Uri, string statement = "Sign in to the test app", string chainId = "1", string extra = "") =>
        $"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n{statement}\n\nURI: {uri}\nVersion: 1\nChain ID: {chainId}\nNonce: {Guid.NewGuid():N}\nIssued At: {Iso(issuedAt)}{extra}";
}

/// <summary>`POST /token?grant_type=web3` (GoTrue `internal/api/web3.go`) with messages signed by keys made here.</summary>
public sealed class Web3Tests(Web3Fixture server) : IClassFixture<Web3Fixture>
{
    DateTimeOffset Now => server.Clock.GetUtcNow();

    Task<HttpResponseMessage> GrantAsync(string chain, string message, string signature)
    {
        var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        return client.PostAsJsonAsync("/token?grant_type=web3", new { chain, message, signature });
    }

    static async Task AssertInvalidGrantAsync(HttpResponseMessage response, string description)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal("invalid_grant", (string?)body["error"]);
        Assert.Equal(description, (string?)body["error_description"]);
    }

    async Task AssertNoIdentityAsync(string address) =>
        Assert.Equal(0, await server.Db.ScalarAsync<long>(
            "select count(*) from auth.identities where provider = 'web3' and provider_id like @p", new { p = $"%:{address}" }));

    [Fact]
    public async Task Solana_SignedMessage_CreatesWeb3UserIdentityAndSession()
    {
        using var wallet = new SolanaWallet();
        var message = Web3Messages.Solana(wallet.Address, Now);

        var session = await server.OkJsonAsync(await GrantAsync("solana", message, wallet.Sign(message)));

        ApiAssert.Session(session, server.Clock);
        var claims = Jwt.Payload((string)session["access_token"]!);
        Assert.Equal("web3", (string?)claims["amr"]![0]!["method"]);
        var user = session["user"]!.AsObject();
        Assert.Equal("", (string?)user["email"]);
        ApiAssert.JsonEqual("""{"provider":"web3","providers":["web3"]}""", user["app_metadata"]);
        var subject = $"web3:solana:{wallet.Address}";
        var expected = $$"""
            {"sub":"{{subject}}","email_verified":false,"phone_verified":false,
             "custom_claims":{"address":"{{wallet.Address}}","chain":"solana","network":"","domain":"app.example.com",
                              "statement":"Sign in to the test app"} }
            """;
        ApiAssert.JsonEqual(expected, user["user_metadata"]);
        var identity = await server.Db.SingleAsync<IdentityRow>(IdentityRow.Select + " where provider_id = @subject", new { subject });
        Assert.Equal("web3", identity.Provider);
        Assert.Equal(Guid.Parse((string)user["id"]!), identity.UserId);
        Assert.Null(identity.Email);
        ApiAssert.JsonEqual(expected, JsonNode.Parse(identity.IdentityData));
        var row = await server.Db.SingleAsync<UserRow>(UserRow.Select + " where id = @id", new { id = identity.UserId });
        Assert.Null(row.Email);
        Assert.Null(row.EmailConfirmedAt);
        var traits = await server.Db.ScalarAsync<string>(
            "select payload->'traits' from auth.audit_log_entries where payload->>'action' = 'login' and payload->>'actor_id' = @id",
            new { id = identity.UserId.ToString() });
        ApiAssert.JsonEqual($$"""
            {"provider":"web3","chain":"solana","network":"","address":"{{wallet.Address}}","domain":"app.example.com",
             "uri":"https://app.example.com/"}
            """, JsonNode.Parse(traits));
    }

    [Fact]
    public async Task Solana_NewMessageFromSameWallet_SignsInSameUser()
    {
        using var wallet = new SolanaWallet();
        var first = Web3Messages.Solana(wallet.Address, Now);
        var second = Web3Messages.Solana(wallet.Address, Now, statement: "Welcome back");

        var one = await server.OkJsonAsync(await GrantAsync("solana", first, wallet.Sign(first)));
        var two = await server.OkJsonAsync(await GrantAsync("solana", second, wallet.Sign(second)));

        Assert.Equal((string?)one["user"]!["id"], (string?)two["user"]!["id"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where provider_id = @p",
            new { p = $"web3:solana:{wallet.Address}" }));
    }

    [Fact]
    public async Task Ethereum_SignedMessage_CreatesUserAndSignsInAgainAsSameUser()
    {
        var wallet = new EthereumWallet();
        var first = Web3Messages.Ethereum(wallet.Address, Now);
        var second = Web3Messages.Ethereum(wallet.Address, Now, chainId: "137");

        var one = await server.OkJsonAsync(await GrantAsync("ethereum", first, wallet.Sign(first)));
        var two = await server.OkJsonAsync(await GrantAsync("ethereum", second, wallet.Sign(second)));

        ApiAssert.Session(one, server.Clock);
        Assert.Equal((string?)one["user"]!["id"], (string?)two["user"]!["id"]);
        Assert.Equal("web3", (string?)Jwt.Payload((string)two["access_token"]!)["amr"]![0]!["method"]);
        var identity = await server.Db.SingleAsync<IdentityRow>(IdentityRow.Select + " where provider_id = @p",
            new { p = $"web3:ethereum:{wallet.Address}" });
        ApiAssert.JsonEqual($$"""
            {"sub":"web3:ethereum:{{wallet.Address}}","email_verified":false,"phone_verified":false,
             "custom_claims":{"address":"{{wallet.Address}}","chain":"ethereum","network":"137","domain":"app.example.com",
                              "statement":"Sign in to the test app"} }
            """, JsonNode.Parse(identity.IdentityData));
    }

    [Fact]
    public async Task Ethereum_RecoveryIdWithoutOffset_IsAccepted()
    {
        var wallet = new EthereumWallet();
        var message = Web3Messages.Ethereum(wallet.Address, Now);
        var signature = wallet.Sign(message);
        var v = Convert.ToByte(signature[^2..], 16);
        var bare = signature[..^2] + (v - 27).ToString("x2");

        await server.OkJsonAsync(await GrantAsync("ethereum", message, bare));
    }

    [Trait("catalogue", "W1")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task Replay_SameSignedMessageTwice_SecondIs400InvalidGrantWithoutSession(string chain)
    {
        using var solana = new SolanaWallet();
        var ethereum = new EthereumWallet();
        var message = chain == "solana" ? Web3Messages.Solana(solana.Address, Now) : Web3Messages.Ethereum(ethereum.Address, Now);
        var signature = chain == "solana" ? solana.Sign(message) : ethereum.Sign(message);
        var first = await server.OkJsonAsync(await GrantAsync(chain, message, signature));
        var userId = Guid.Parse((string)first["user"]!["id"]!);

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature), "Signed message was already used");

        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @userId", new { userId }));
    }

    [Trait("catalogue", "W1")]
    [Fact]
    public async Task Replay_AfterFailedSignIn_MessageIsNotBurned()
    {
        // A rejection after the replay record (here: the user is banned) rolls the record back.
        using var wallet = new SolanaWallet();
        var setup = Web3Messages.Solana(wallet.Address, Now, statement: "first");
        var userId = Guid.Parse((string)(await server.OkJsonAsync(await GrantAsync("solana", setup, wallet.Sign(setup))))["user"]!["id"]!);
        await server.Db.ExecuteAsync("update auth.users set banned_until = now() + interval '1 hour' where id = @userId", new { userId });
        var message = Web3Messages.Solana(wallet.Address, Now, statement: "second");

        var banned = await GrantAsync("solana", message, wallet.Sign(message));
        Assert.Equal(HttpStatusCode.Forbidden, banned.StatusCode);
        await server.Db.ExecuteAsync("update auth.users set banned_until = null where id = @userId", new { userId });

        await server.OkJsonAsync(await GrantAsync("solana", message, wallet.Sign(message)));
    }

    [Trait("catalogue", "W2")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task WrongDomain_DomainNotTheUrisHost_Is400InvalidGrant(string chain)
    {
        var (message, signature, address) = Signed(chain, domain: "evil.example.com");

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature),
            $"Signed {Title(chain)} message is using a Domain that does not match the one in URI which is not allowed on this server");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W2")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task WrongUri_AnotherAppsUri_Is400InvalidGrant(string chain)
    {
        var (message, signature, address) = Signed(chain, domain: "evil.example.com", uri: "https://evil.example.com/login");

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature),
            $"Signed {Title(chain)} message is using URI which is not allowed on this server, message was signed for another app");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W2")]
    [Fact]
    public async Task PlainHttpUri_NotLocalhost_Is400InvalidGrant()
    {
        var (message, signature, _) = Signed("solana", uri: "http://app.example.com/");

        await AssertInvalidGrantAsync(await GrantAsync("solana", message, signature),
            "Signed Solana message is using URI which does not use HTTPS");
    }

    [Trait("catalogue", "W3")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")] // GoTrue only checks an Ethereum expiry when Not Before is present too
    public async Task Expired_ExpirationTimeInThePast_Is400InvalidGrant(string chain)
    {
        var (message, signature, address) = Signed(chain, issuedAt: Now.AddMinutes(-2),
            extra: $"\nExpiration Time: {Web3Messages.Iso(Now.AddMinutes(-1))}");

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature), $"Signed {Title(chain)} message is expired");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W3")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task NotYetValid_NotBeforeInTheFuture_Is400InvalidGrant(string chain)
    {
        var (message, signature, address) = Signed(chain, extra: $"\nNot Before: {Web3Messages.Iso(Now.AddMinutes(5))}");

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature), $"Signed {Title(chain)} message becomes valid in the future");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W3")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task OverLongValidity_IssuedBeyondMaximumValidityAgo_Is400InvalidGrant(string chain)
    {
        // The signer allowed a day, the server allows 10 minutes from Issued At.
        var (message, signature, address) = Signed(chain, issuedAt: Now.AddMinutes(-11),
            extra: $"\nExpiration Time: {Web3Messages.Iso(Now.AddDays(1))}");

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature), $"{Title(chain)} message was issued too long ago");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W3")]
    [Fact]
    public async Task IssuedAtFarInTheFuture_Is400InvalidGrant()
    {
        var (message, signature, _) = Signed("solana", issuedAt: Now.AddMinutes(11));

        await AssertInvalidGrantAsync(await GrantAsync("solana", message, signature), "Solana message was issued too far in the future");
    }

    [Trait("catalogue", "W4")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task SignatureByAnotherKey_Is400InvalidGrant(string chain)
    {
        using var victim = new SolanaWallet();
        using var attacker = new SolanaWallet();
        var victimEth = new EthereumWallet();
        var attackerEth = new EthereumWallet();
        var address = chain == "solana" ? victim.Address : victimEth.Address;
        var message = chain == "solana" ? Web3Messages.Solana(address, Now) : Web3Messages.Ethereum(address, Now);
        var signature = chain == "solana" ? attacker.Sign(message) : attackerEth.Sign(message);

        await AssertInvalidGrantAsync(await GrantAsync(chain, message, signature), "Signature does not match address in message");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W4")]
    [Theory]
    [InlineData("solana")]
    [InlineData("ethereum")]
    public async Task TamperedStatement_AfterSigning_Is400InvalidGrant(string chain)
    {
        var (message, signature, address) = Signed(chain, statement: "Sign in to the test app");
        var tampered = message.Replace("Sign in to the test app", "Transfer all my tokens", StringComparison.Ordinal);

        await AssertInvalidGrantAsync(await GrantAsync(chain, tampered, signature), "Signature does not match address in message");
        await AssertNoIdentityAsync(address);
    }

    [Trait("catalogue", "W4")]
    [Fact]
    public async Task Ethereum_LowerCaseAddressAsSupabaseJsWritesIt_IsAcceptedAndKeptAsWritten()
    {
        // supabase-js lower-cases the address; GoTrue compares the recovered signer case-insensitively.
        var wallet = new EthereumWallet();
        var address = wallet.Address.ToLowerInvariant();
        var message = Web3Messages.Ethereum(address, Now);

        var session = await server.OkJsonAsync(await GrantAsync("ethereum", message, wallet.Sign(message)));

        Assert.Equal(address, (string?)session["user"]!["user_metadata"]!["custom_claims"]!["address"]);
        Assert.Equal(1, await server.Db.ScalarAsync<long>("select count(*) from auth.identities where provider_id = @p",
            new { p = $"web3:ethereum:{address}" }));
    }

    [Theory]
    [InlineData("ethereum", "0", "siwe: Chain ID is not valid")]
    [InlineData("ethereum", "mainnet", "siwe: Chain ID is not valid")]
    [InlineData("solana", "mainnet", "siws: Chain ID is not valid")]
    public async Task WrongChainId_Is400ValidationFailed(string chain, string chainId, string error)
    {
        var (message, signature, _) = chain == "solana"
            ? Signed(chain, extra: $"\nChain ID: {chainId}")
            : SignedEthereum(chainId);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3", new { chain, message, signature }),
            400, "validation_failed", error);
    }

    [Fact]
    public async Task Solana_ChainIdOfTheSolanaForm_IsAccepted()
    {
        var (message, signature, _) = Signed("solana", extra: "\nChain ID: solana:devnet");

        var session = await server.OkJsonAsync(await GrantAsync("solana", message, signature));

        Assert.Equal("solana:devnet", (string?)session["user"]!["user_metadata"]!["custom_claims"]!["network"]);
    }

    public static TheoryData<string, string, string> MalformedMessages => new()
    {
        { "solana", "too short", "message is too short" },
        { "solana", new string('a', 20 * 1024 + 1), "message must not exceed 20KB" },
        { "solana", "app.example.com wants you to sign in with your Ethereum account:\nx\n\n\n\n\nVersion: 1 and some padding", "siws: message first line does not end in \" wants you to sign in with your Solana account:\"" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\nnot-base58!\n\n\n\nVersion: 1 padding padding", "siws: wallet address is not in base58 format" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\n11111111111111111111111111111111\nVersion: 1\nURI: https://app.example.com/\nIssued At: 2026-01-01T00:00:00Z\nNonce: 12345678", "siws: third line must be empty" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\n11111111111111111111111111111111\n\nURI: https://app.example.com/\nIssued At: 2026-01-01T00:00:00Z\nnonsense", "siws: encountered unparsable line at index 5" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\n11111111111111111111111111111111\n\nURI: https://app.example.com/\nIssued At: 2026-01-01T00:00:00Z\nVersion: 2", "siws: Version value is not supported, expected 1 got \"2\"" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\n11111111111111111111111111111111\n\nURI: https://app.example.com/\nVersion: 1\nIssued At: yesterday", "siws: Issued At is not a valid ISO8601 timestamp" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\n11111111111111111111111111111111\n\nURI: https://app.example.com/\nVersion: 1\nIssued At: 2026-01-01T00:00:00Z\nExpiration Time: 2025-01-01T00:00:00Z", "siws: Issued At is after Expiration Time" },
        { "solana", "app.example.com wants you to sign in with your Solana account:\n11111111111111111111111111111111\n\nVersion: 1\nIssued At: 2026-01-01T00:00:00Z\nResources:\n- https://app.example.com/", "siws: URI is not specified" },
        { "ethereum", "app.example.com wants you to sign in with your Ethereum account:\n0x0000000000000000000000000000000000000000\n\nURI: https://app.example.com/\nVersion: 1\nResources:\n- not a uri", "siwe: Resource at position 0 has invalid URI" },
        { "ethereum", "app.example.com wants you to sign in with your Ethereum account:\n0x00000000000000000000000000000000000000\n\nURI: https://app.example.com/\nVersion: 1\nIssued At: 2026-01-01T00:00:00Z", "siwe: wallet address is not a valid Ethereum address" },
        { "ethereum", "app.example.com wants you to sign in with your Ethereum account:\n0x0000000000000000000000000000000000000000\n\nURI: https://app.example.com/\nVersion: 1\nChain ID: 1", "siwe: Issued At is not specified" },
        { "ethereum", "bad_domain wants you to sign in with your Ethereum account:\n0x0000000000000000000000000000000000000000\n\nURI: https://app.example.com/\nVersion: 1\nChain ID: 1", "siwe: domain in first line of message is not valid" },
    };

    [Theory]
    [MemberData(nameof(MalformedMessages))]
    public async Task MalformedMessage_Is400ValidationFailedWithGoTruesParserError(string chain, string message, string error)
    {
        var signature = chain == "solana" ? new string('A', 86) : "0x" + new string('a', 130);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3", new { chain, message, signature }),
            400, "validation_failed", error);
    }

    [Theory]
    [InlineData("solana", "c2hvcnQ", "signature must be 64 bytes encoded as base64 with or without padding")]
    [InlineData("ethereum", "0x1234", "signature must be 65 bytes long, encoded as a 130 character-long hexadecimal string")]
    public async Task SignatureOfWrongLength_Is400ValidationFailed(string chain, string signature, string error)
    {
        var (message, _, _) = Signed(chain);

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3", new { chain, message, signature }),
            400, "validation_failed", error);
    }

    [Trait("catalogue", "W4")]
    [Fact]
    public async Task SolanaSignatureNotBase64_Is400ValidationFailed()
    {
        var (message, _, _) = Signed("solana");

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3",
                new { chain = "solana", message, signature = new string('!', 86) }),
            400, "validation_failed", "signature does not contain valid base64 characters");
    }

    [Trait("catalogue", "W4")]
    [Fact]
    public async Task EthereumSignatureNotHex_Is400InvalidGrant()
    {
        // GoTrue panics here (500); a bad signature is a rejected grant.
        var (message, _, _) = Signed("ethereum");

        await AssertInvalidGrantAsync(await GrantAsync("ethereum", message, "0x" + new string('z', 130)),
            "Signature does not match address in message");
    }

    [Trait("catalogue", "W4")]
    [Theory]
    [InlineData("00", "00", "1b")]
    [InlineData("ff", "ff", "1c")]
    [InlineData("00", "01", "1b")]
    [InlineData("5a", "a5", "1b")]
    public async Task EthereumSignatureNoKeyRecovers_Is400InvalidGrant(string r, string s, string v)
    {
        // r/s of zero, above the curve order, or an r with no curve point: GoTrue panics (500).
        var (message, _, _) = Signed("ethereum");
        var signature = "0x" + string.Concat(Enumerable.Repeat(r, 31)) + (r == "00" && s == "01" ? "01" : r)
            + string.Concat(Enumerable.Repeat(s, 32)) + v;

        await AssertInvalidGrantAsync(await GrantAsync("ethereum", message, signature), "Signature does not match address in message");
    }

    [Trait("catalogue", "W4")]
    [Fact]
    public async Task SolanaAddressNotAKey_Is400InvalidGrant()
    {
        // Valid base58 of the wrong length: GoTrue panics in ed25519.Verify; here it is a signature mismatch.
        using var wallet = new SolanaWallet();
        var message = Web3Messages.Solana(new string('z', 44), Now);

        await AssertInvalidGrantAsync(await GrantAsync("solana", message, wallet.Sign(message)), "Signature does not match address in message");
    }

    [Theory]
    [InlineData("bitcoin")]
    [InlineData("")]
    public async Task UnsupportedChain_Is400Web3UnsupportedChain(string chain)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3", new { chain, message = "m", signature = "s" }),
            400, "web3_unsupported_chain", "Unsupported chain");
    }

    (string Message, string Signature, string Address) Signed(string chain, DateTimeOffset? issuedAt = null,
        string domain = Web3Fixture.Domain, string uri = Web3Fixture.Uri, string statement = "Sign in to the test app", string extra = "")
    {
        if (chain == "solana")
        {
            using var wallet = new SolanaWallet();
            var message = Web3Messages.Solana(wallet.Address, issuedAt ?? Now, domain, uri, statement, extra);
            return (message, wallet.Sign(message), wallet.Address);
        }
        var eth = new EthereumWallet();
        var siwe = Web3Messages.Ethereum(eth.Address, issuedAt ?? Now, domain, uri, statement, extra: extra);
        return (siwe, eth.Sign(siwe), eth.Address);
    }

    (string Message, string Signature, string Address) SignedEthereum(string chainId)
    {
        var eth = new EthereumWallet();
        var siwe = Web3Messages.Ethereum(eth.Address, Now, chainId: chainId);
        return (siwe, eth.Sign(siwe), eth.Address);
    }

    static string Title(string chain) => chain == "solana" ? "Solana" : "Ethereum";
}

/// <summary>Chains that are off answer GoTrue's 422 before the message is looked at.</summary>
public sealed class Web3DisabledChainTests(Web3SolanaOnlyFixture server) : IClassFixture<Web3SolanaOnlyFixture>
{
    [Theory]
    [InlineData("ethereum", "Ethereum Web3 provider is disabled")]
    [InlineData("kaspa", "Kaspa Web3 provider is disabled")]
    public async Task DisabledChain_Is422Web3ProviderDisabled(string chain, string message)
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3", new { chain, message = "m", signature = "s" }),
            422, "web3_provider_disabled", message);
    }

    [Fact]
    public async Task Web3Grant_OverBurstFromOneIp_Returns429WhileOtherGrantsGoOn()
    {
        // GOTRUE_RATE_LIMIT_WEB3 is its own bucket; the other grants count against GOTRUE_RATE_LIMIT_TOKEN_REFRESH.
        using var client = LoopbackClients.From("127.0.0.77", server.BaseAddress, AuthServerFixture.ApiVersion2024);
        var passed = 0;
        while (passed < 60 && (await client.PostAsJsonAsync("/token?grant_type=web3", new { chain = "bitcoin" })).StatusCode != HttpStatusCode.TooManyRequests)
            passed++;

        Assert.Equal(30, passed);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=web3", new { chain = "bitcoin" }),
            429, "over_request_rate_limit", "Request rate limit reached");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email = "a@example.com", password = "x" }),
            400, "invalid_credentials");
    }

    [Fact]
    public async Task EnabledChain_SignedForLocalhostSite_ReturnsSession()
    {
        // The default site URL http://localhost:3000: localhost may use http and skips the domain check.
        using var wallet = new SolanaWallet();
        var message = Web3Messages.Solana(wallet.Address, server.Clock.GetUtcNow(), domain: "localhost:3000", uri: "http://localhost:3000/");
        using var client = server.CreateClient();

        await server.OkJsonAsync(await client.PostAsJsonAsync("/token?grant_type=web3",
            new { chain = "solana", message, signature = wallet.Sign(message) }));
    }
}

/// <summary>GoTrue's captcha covers `grant_type=web3` (isIgnoreCaptchaRoute lists only refresh_token, pkce, id_token).</summary>
public sealed class Web3CaptchaTests(CaptchaFixture server) : IClassFixture<CaptchaFixture>
{
    [Fact]
    public async Task Web3Grant_WithoutCaptchaToken_Is400CaptchaFailed()
    {
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=web3",
                new { chain = "solana", message = "m", signature = "s" }),
            400, "captcha_failed", "captcha protection: request disallowed (no captcha_token found)");
    }
}
