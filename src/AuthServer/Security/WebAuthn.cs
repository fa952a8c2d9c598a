using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Http;
using Fido2NetLib;
using Fido2NetLib.Objects;

namespace AuthServer.Security;

/// A WebAuthn ceremony in flight: go-webauthn's `SessionData` as GoTrue stores it (flat JSON in
/// `auth.webauthn_challenges.session_data` and `auth.mfa_challenges.web_authn_session_data`).
internal sealed record CeremonySession(byte[] Challenge, string RpId, byte[]? UserHandle, DateTime Expires,
    string UserVerification, IReadOnlyList<byte[]> AllowedCredentials)
{
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["challenge"] = Base64Url.Encode(Challenge),
            ["rpId"] = RpId,
            ["user_id"] = UserHandle is null ? null : Convert.ToBase64String(UserHandle),
        };
        if (AllowedCredentials.Count > 0)
            json["allowed_credentials"] = new JsonArray(AllowedCredentials.Select(c => (JsonNode)Convert.ToBase64String(c)).ToArray());
        json["expires"] = Expires.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
        json["userVerification"] = UserVerification;
        return json;
    }

    public static CeremonySession Parse(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        return new CeremonySession(
            Base64Url.TryDecode((string?)node["challenge"] ?? "") ?? [],
            (string?)node["rpId"] ?? "",
            node["user_id"] is JsonValue u && (string?)u is { } s ? Convert.FromBase64String(s) : null,
            node["expires"] is JsonValue e ? DateTime.Parse((string)e!, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal) : DateTime.MinValue,
            (string?)node["userVerification"] ?? "preferred",
            node["allowed_credentials"] is JsonArray a ? a.Select(x => Convert.FromBase64String((string)x!)).ToList() : []);
    }
}

/// The relying party of GOTRUE_WEBAUTHN_*: builds options in go-webauthn's JSON shape (what supabase-js
/// feeds to `navigator.credentials`) and verifies the answers with fido2-net-lib (origin, RP id hash,
/// challenge, flags, attestation `none`/`packed`/…, signatures, counters).
internal sealed class RelyingParty(WebAuthnOptions options)
{
    /// go-webauthn's default ceremony timeout (5 minutes), in milliseconds.
    const long TimeoutMs = 300_000;

    /// COSE algorithms go-webauthn offers by default (`protocol.defaultRegistrationCredentialParameters`).
    static readonly int[] Algorithms = [-7, -35, -36, -257, -258, -259, -37, -38, -39, -8];

    public WebAuthnOptions Options => options;

    Fido2 Library()
    {
        // GoTrue builds the library per request and answers a relying party it cannot build with a 500.
        if (!options.IsComplete) throw ApiError.Internal("Failed to initialize WebAuthn");
        return new Fido2(new Fido2Configuration
        {
            RPID = options.RpId,
            RPName = options.RpDisplayName,
            Origins = options.RpOrigins.ToHashSet(),
            TimestampDriftTolerance = 300_000,
        }, null!); // no FIDO metadata service: attestation is not checked against MDS, as GoTrue's `none` preference
        // and go-webauthn's defaults don't either
    }

    public static byte[] NewChallenge() => RandomNumberGenerator.GetBytes(32);

    /// `PublicKeyCredentialCreationOptions` as go-webauthn's `BeginRegistration` writes it. Passkeys ask for
    /// a discoverable credential (resident key required); MFA factors don't.
    public JsonObject CreationOptions(byte[] challenge, byte[] userHandle, string name, string displayName,
        IEnumerable<byte[]> exclude, bool discoverable, string[]? excludeTransports = null)
    {
        if (!options.IsComplete) throw ApiError.Internal("Failed to initialize WebAuthn");
        var json = new JsonObject
        {
            ["rp"] = new JsonObject { ["name"] = options.RpDisplayName, ["id"] = options.RpId },
            ["user"] = new JsonObject { ["name"] = name, ["displayName"] = displayName, ["id"] = Base64Url.Encode(userHandle) },
            ["challenge"] = Base64Url.Encode(challenge),
            ["pubKeyCredParams"] = new JsonArray(Algorithms.Select(a => (JsonNode)new JsonObject { ["type"] = "public-key", ["alg"] = a }).ToArray()),
            ["timeout"] = TimeoutMs,
        };
        var excluded = exclude.Select(id =>
        {
            var descriptor = new JsonObject { ["type"] = "public-key", ["id"] = Base64Url.Encode(id) };
            if (excludeTransports is not null)
                descriptor["transports"] = new JsonArray(excludeTransports.Select(t => (JsonNode)t).ToArray());
            return (JsonNode)descriptor;
        }).ToArray();
        if (excluded.Length > 0) json["excludeCredentials"] = new JsonArray(excluded);
        json["authenticatorSelection"] = discoverable
            ? new JsonObject { ["requireResidentKey"] = true, ["residentKey"] = "required", ["userVerification"] = "preferred" }
            : new JsonObject { ["requireResidentKey"] = false, ["userVerification"] = "preferred" };
        json["attestation"] = "none";
        return json;
    }

    /// `PublicKeyCredentialRequestOptions` as go-webauthn's `BeginLogin` / `BeginDiscoverableLogin` write it.
    public JsonObject RequestOptions(byte[] challenge, IReadOnlyList<byte[]> allow)
    {
        if (!options.IsComplete) throw ApiError.Internal("Failed to initialize WebAuthn");
        var json = new JsonObject
        {
            ["challenge"] = Base64Url.Encode(challenge),
            ["timeout"] = TimeoutMs,
            ["rpId"] = options.RpId,
        };
        if (allow.Count > 0)
            json["allowCredentials"] = new JsonArray(allow.Select(id =>
                (JsonNode)new JsonObject { ["type"] = "public-key", ["id"] = Base64Url.Encode(id) }).ToArray());
        json["userVerification"] = "preferred";
        return json;
    }

    public CeremonySession Session(byte[] challenge, byte[]? userHandle, DateTime expires, IReadOnlyList<byte[]>? allow = null) =>
        new(challenge, options.RpId, userHandle, expires, "preferred", allow ?? []);

    /// Verifies `navigator.credentials.create()`'s answer against the ceremony; any failure is GoTrue's
    /// 400 `webauthn_verification_failed`.
    public async Task<RegisteredPublicKeyCredential> VerifyRegistrationAsync(JsonNode? credential, CeremonySession session,
        byte[] userHandle, string name, bool discoverable, CancellationToken ct)
    {
        var response = Parse<AuthenticatorAttestationRawResponse>(credential);
        var original = new CredentialCreateOptions
        {
            Rp = new PublicKeyCredentialRpEntity(options.RpId, options.RpDisplayName, null),
            User = new Fido2User { Id = userHandle, Name = name, DisplayName = name },
            Challenge = session.Challenge,
            PubKeyCredParams = Algorithms.Select(a => new PubKeyCredParam((COSE.Algorithm)a)).ToList(),
            AuthenticatorSelection = new AuthenticatorSelection
            {
                ResidentKey = discoverable ? ResidentKeyRequirement.Required : ResidentKeyRequirement.Discouraged,
                UserVerification = UserVerificationRequirement.Preferred,
            },
            Attestation = AttestationConveyancePreference.None,
            Timeout = TimeoutMs,
        };
        try
        {
            return await Library().MakeNewCredentialAsync(new MakeNewCredentialParams
            {
                AttestationResponse = response,
                OriginalOptions = original,
                IsCredentialIdUniqueToUserCallback = (_, _) => Task.FromResult(true), // the unique index decides
            }, ct);
        }
        catch (Exception e) when (IsBadCredential(e))
        {
            throw ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Credential verification failed");
        }
    }

    /// Verifies `navigator.credentials.get()`'s answer for a stored credential: signature, challenge, origin,
    /// RP id hash, user presence and a counter that must move forward.
    public async Task<VerifyAssertionResult> VerifyAssertionAsync(AuthenticatorAssertionRawResponse response,
        CeremonySession session, byte[] publicKey, uint storedCounter, byte[] ownerHandle, CancellationToken ct)
    {
        var original = new AssertionOptions
        {
            Challenge = session.Challenge,
            RpId = options.RpId,
            Timeout = TimeoutMs,
            UserVerification = UserVerificationRequirement.Preferred,
            AllowCredentials = session.AllowedCredentials.Select(id => new PublicKeyCredentialDescriptor(id)).ToList(),
        };
        try
        {
            return await Library().MakeAssertionAsync(new MakeAssertionParams
            {
                AssertionResponse = response,
                OriginalOptions = original,
                StoredPublicKey = publicKey,
                StoredSignatureCounter = storedCounter,
                IsUserHandleOwnerOfCredentialIdCallback = (args, _) =>
                    Task.FromResult(CryptographicOperations.FixedTimeEquals(args.UserHandle, ownerHandle)),
            }, ct);
        }
        catch (Exception e) when (IsBadCredential(e))
        {
            throw ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Credential verification failed");
        }
    }

    /// What fido2-net-lib throws for a credential that does not verify or does not parse (CBOR errors are
    /// FormatExceptions): the caller's fault, never a 500.
    static bool IsBadCredential(Exception e) => e is Fido2VerificationException or FormatException or JsonException
        or InvalidOperationException or ArgumentException or CryptographicException or NotSupportedException
        or IndexOutOfRangeException or OverflowException;

    /// The client's JSON credential (`toJSON()` shape: base64url fields) as fido2-net-lib's raw response.
    public static T Parse<T>(JsonNode? credential) where T : class
    {
        try
        {
            return credential?.Deserialize<T>() ?? throw new JsonException("empty credential");
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw ApiError.BadRequest(ErrorCode.WebAuthnVerificationFailed, "Invalid credential response");
        }
    }

    /// go-webauthn `Credential` as JSON, GoTrue's `mfa_factors.web_authn_credential` (`[]byte` in Go's
    /// standard base64).
    public static JsonObject CredentialJson(RegisteredPublicKeyCredential c) => new()
    {
        ["id"] = Convert.ToBase64String(c.Id),
        ["publicKey"] = Convert.ToBase64String(c.PublicKey),
        ["attestationType"] = c.AttestationType ?? "none",
        ["transport"] = new JsonArray((c.Transports ?? []).Select(t => (JsonNode)TransportName(t)).ToArray()),
        ["flags"] = new JsonObject
        {
            ["userPresent"] = true,
            ["userVerified"] = false,
            ["backupEligible"] = c.IsBackupEligible,
            ["backupState"] = c.IsBackedUp,
        },
        ["authenticator"] = new JsonObject
        {
            ["AAGUID"] = Convert.ToBase64String(c.AaGuid.ToByteArray(bigEndian: true)),
            ["signCount"] = c.SignCount,
            ["cloneWarning"] = false,
            ["attachment"] = "",
        },
    };

    public static string TransportName(AuthenticatorTransport transport) =>
        JsonSerializer.Serialize(transport).Trim('"');
}
