using AuthServer.Data;
using System.Text;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Features.Identity;
using AuthServer.Features.Signup;
using AuthServer.Http;
using AuthServer.Mail;
using AuthServer.Sessions;
using Npgsql;

namespace AuthServer.Features.Web3;

/// `POST /token?grant_type=web3` with `{chain, message, signature}` (GoTrue `internal/api/web3.go`): a
/// wallet signs a Sign in with Solana / Ethereum (EIP-4361) message for this app; the user is keyed by
/// the identity `web3:<chain>:<address>`. Malformed input is `validation_failed`; a message that parses
/// but is not acceptable is GoTrue's OAuth `invalid_grant`.
internal static class Web3Grant
{
    internal sealed record Web3Request(string? Chain, string? Message, string? Signature);

    sealed record Chain(string Name, string Title, TimeSpan MaximumValidity);

    const string Provider = "web3";

    public static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var options = services.GetRequiredService<Web3Options>();
        // GoTrue: with every chain off this answers before the body is read.
        if (!options.AnyEnabled)
            throw ApiError.Unprocessable(ErrorCode.Web3ProviderDisabled, "Web3 provider is disabled");
        var body = await BodyReader.ReadAsync<Web3Request>(http.Request, ct);
        var chain = body.Chain switch
        {
            "solana" when options.SolanaEnabled => new Chain("solana", "Solana", options.SolanaMaximumValidity),
            "solana" => throw Disabled("Solana"),
            "ethereum" when options.EthereumEnabled => new Chain("ethereum", "Ethereum", options.EthereumMaximumValidity),
            "ethereum" => throw Disabled("Ethereum"),
            "kaspa" => throw Disabled("Kaspa"), // GoTrue knows the chain; this server does not build it
            _ => throw ApiError.BadRequest(ErrorCode.Web3UnsupportedChain, "Unsupported chain"),
        };

        var raw = body.Message ?? "";
        var signature = body.Signature ?? "";
        var size = Encoding.UTF8.GetByteCount(raw);
        if (size < 64) throw Invalid("message is too short");
        if (size > 20 * 1024) throw Invalid("message must not exceed 20KB");
        var message = chain.Name == "solana" ? VerifySolana(raw, signature) : VerifyEthereum(raw, signature);

        var api = services.GetRequiredService<ApiOptions>();
        var uri = message.Uri;
        if (uri.Scheme != "https" && uri.Hostname != "localhost")
            throw new OAuthError("invalid_grant", $"Signed {chain.Title} message is using URI which does not use HTTPS");
        if (!Redirects.IsValid(api, uri.Raw))
            throw new OAuthError("invalid_grant",
                $"Signed {chain.Title} message is using URI which is not allowed on this server, message was signed for another app");
        if (uri.Hostname != "localhost" && (uri.Host != message.Domain || !Redirects.IsValid(api, $"https://{message.Domain}/")))
            throw new OAuthError("invalid_grant",
                $"Signed {chain.Title} message is using a Domain that does not match the one in URI which is not allowed on this server");

        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        if (message.NotBefore is { } notBefore && now < notBefore)
            throw new OAuthError("invalid_grant", $"Signed {chain.Title} message becomes valid in the future");
        // GoTrue checks an Ethereum message's Expiration Time only when it also has a Not Before; we always do.
        if (message.ExpirationTime is { } expiration && now > expiration)
            throw new OAuthError("invalid_grant", $"Signed {chain.Title} message is expired");
        var latestExpiry = message.IssuedAt + chain.MaximumValidity;
        if (now > latestExpiry)
            throw new OAuthError("invalid_grant", $"{chain.Title} message was issued too long ago");
        if (now < message.IssuedAt - chain.MaximumValidity)
            throw new OAuthError("invalid_grant", $"{chain.Title} message was issued too far in the future");

        var subject = $"{Provider}:{chain.Name}:{message.Address}";
        // GoTrue `provider.Claims` with only `sub` and `custom_claims` set; SIWS keeps an absent statement as "".
        var identityData = new JsonObject
        {
            ["sub"] = subject,
            ["custom_claims"] = new JsonObject
            {
                ["address"] = message.Address,
                ["chain"] = chain.Name,
                ["network"] = message.ChainId,
                ["domain"] = message.Domain,
                ["statement"] = chain.Name == "solana" ? message.Statement ?? "" : message.Statement,
            },
            ["email_verified"] = false,
            ["phone_verified"] = false,
        };
        // GoTrue's login audit entry for a Web3 sign-in names the wallet and where the message was signed.
        var loginTraits = new JsonObject
        {
            ["provider"] = Provider,
            ["chain"] = chain.Name,
            ["network"] = message.ChainId,
            ["address"] = message.Address,
            ["domain"] = message.Domain,
            ["uri"] = message.Uri.Raw,
        };
        var expiresAt = message.ExpirationTime is { } exp && exp < latestExpiry ? exp : latestExpiry;
        return await SignInAsync(http, new ExternalUser(subject, null, false, identityData), loginTraits, message.Raw,
            expiresAt.UtcDateTime, now.UtcDateTime, ct);
    }

    static SignInMessage VerifySolana(string raw, string signature)
    {
        if (signature.Length is not (86 or 88))
            throw Invalid("signature must be 64 bytes encoded as base64 with or without padding");
        // Standard or URL-safe alphabet, padded or not (supabase-js sends unpadded base64url).
        var standard = signature.TrimEnd('=').Replace('-', '+').Replace('_', '/');
        var signatureBytes = new byte[66];
        if (!Convert.TryFromBase64String(standard.PadRight((standard.Length + 3) / 4 * 4, '='), signatureBytes, out var written))
            throw Invalid("signature does not contain valid base64 characters");
        var message = Parse(raw, SignInMessages.Solana);
        if (!WalletSignatures.VerifySolana(message, signatureBytes[..written]))
            throw new OAuthError("invalid_grant", "Signature does not match address in message");
        return message;
    }

    static SignInMessage VerifyEthereum(string raw, string signature)
    {
        var hex = signature.StartsWith("0x", StringComparison.Ordinal) ? signature[2..] : signature;
        if (hex.Length != 130)
            throw Invalid("signature must be 65 bytes long, encoded as a 130 character-long hexadecimal string");
        // Any letter case, as GoTrue: supabase-js writes the address in lower case (EIP-4361 asks for EIP-55),
        // and the identity keeps it as written.
        var message = Parse(raw, SignInMessages.Ethereum);
        if (!WalletSignatures.VerifyEthereum(message, signature))
            throw new OAuthError("invalid_grant", "Signature does not match address in message");
        return message;
    }

    static SignInMessage Parse(string raw, SignInMessages.Grammar grammar)
    {
        try
        {
            return SignInMessages.Parse(raw, grammar);
        }
        catch (MessageFormatException e)
        {
            throw Invalid(e.Message);
        }
    }

    /// GoTrue `createAccountFromExternalIdentity` (no emails, so no linking by email and no confirmation
    /// mail) and `issueRefreshToken` with the `web3` AMR, in one transaction with the replay record.
    static async Task<IResult> SignInAsync(HttpContext http, ExternalUser data, JsonObject loginTraits, string raw,
        DateTime expiresAt, DateTime now, CancellationToken ct)
    {
        var services = http.RequestServices;
        var mailer = services.GetRequiredService<Mailer>();
        var jwt = services.GetRequiredService<JwtOptions>();
        await using var conn = await services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        try
        {
            if (!await SingleUse.TryUseAsync(conn, SingleUse.Web3Message, raw, expiresAt, now, ct))
                throw new OAuthError("invalid_grant", "Signed message was already used"); // beyond GoTrue
            var (userId, _) = await ExternalAccounts.ResolveAsync(conn, data, Provider,
                SignupEndpoints.RequestAudience(http, jwt), services.GetRequiredService<AuthOptions>(), jwt,
                services.GetRequiredService<ExternalOptions>(), ClientInfo.Ip(http), mailer, mailer.Links(http), now, ct,
                hasEmails: false);
            var session = await services.GetRequiredService<SessionIssuer>()
                .StartAsync(conn, userId, Provider, http, now, ct, provider: Provider, loginTraits: loginTraits);
            await tx.CommitAsync(ct);
            return Results.Json(session, Json.Options);
        }
        catch (Exception e) when (e is not (ApiError or OAuthError or OperationCanceledException)
                                  && e is not NpgsqlException { IsTransient: true })
        {
            services.GetRequiredService<ILogger<Web3Request>>().LogError(e, "web3 grant failed");
            throw new OAuthError("server_error", "Internal Server Error");
        }
    }

    static ApiError Disabled(string chain) =>
        ApiError.Unprocessable(ErrorCode.Web3ProviderDisabled, $"{chain} Web3 provider is disabled");

    static ApiError Invalid(string message) => ApiError.BadRequest(ErrorCode.ValidationFailed, message);
}
