using System.Formats.Cbor;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace AuthServer.Tests.Infrastructure;

/// <summary>
/// A software WebAuthn authenticator: one credential (ES256 or RS256) that answers
/// `navigator.credentials.create()` / `.get()` options with real clientDataJSON, authenticatorData and a CBOR
/// attestation object (`none` or `packed` self-attestation), serialised as the browser's `toJSON()`.
/// Knobs let a test lie about the origin, the RP id or the counter.
/// </summary>
public sealed class SoftAuthenticator : IDisposable
{
    readonly ECDsa? ec;
    readonly RSA? rsa;

    public byte[] CredentialId { get; } = RandomNumberGenerator.GetBytes(16);
    public byte[]? UserHandle { get; private set; }
    public uint Counter { get; set; }
    public Guid Aaguid { get; init; } = Guid.Empty;

    public SoftAuthenticator(bool rsa = false)
    {
        if (rsa) this.rsa = RSA.Create(2048);
        else ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    }

    public string Id => B64(CredentialId);

    /// <summary>Answers creation options (`publicKey` JSON as the server sent it).</summary>
    public JsonObject Create(JsonNode options, string origin, string format = "none", string? rpId = null)
    {
        UserHandle = Convert.FromBase64String(ToStd((string)options["user"]!["id"]!));
        var clientData = ClientData("webauthn.create", (string)options["challenge"]!, origin);
        var authData = AuthData(rpId ?? (string)options["rp"]!["id"]!, 0x41 | 0x04, attested: true);
        var cbor = new CborWriter(CborConformanceMode.Lax);
        cbor.WriteStartMap(3);
        cbor.WriteTextString("fmt");
        cbor.WriteTextString(format);
        cbor.WriteTextString("attStmt");
        if (format == "packed")
        {
            cbor.WriteStartMap(2);
            cbor.WriteTextString("alg");
            cbor.WriteInt32(ec is null ? -257 : -7);
            cbor.WriteTextString("sig");
            cbor.WriteByteString(Sign([.. authData, .. SHA256.HashData(clientData)]));
            cbor.WriteEndMap();
        }
        else
        {
            cbor.WriteStartMap(0);
            cbor.WriteEndMap();
        }
        cbor.WriteTextString("authData");
        cbor.WriteByteString(authData);
        cbor.WriteEndMap();

        return new JsonObject
        {
            ["id"] = Id,
            ["rawId"] = Id,
            ["type"] = "public-key",
            ["response"] = new JsonObject
            {
                ["clientDataJSON"] = B64(clientData),
                ["attestationObject"] = B64(cbor.Encode()),
                ["transports"] = new JsonArray("internal"),
            },
            ["clientExtensionResults"] = new JsonObject(),
            ["authenticatorAttachment"] = "platform",
        };
    }

    /// <summary>Answers request options; the counter moves forward first, as a real authenticator's does.</summary>
    public JsonObject Get(JsonNode options, string origin, string? rpId = null, byte[]? userHandle = null,
        bool bumpCounter = true)
    {
        if (bumpCounter) Counter++;
        var clientData = ClientData("webauthn.get", (string)options["challenge"]!, origin);
        var authData = AuthData(rpId ?? (string)options["rpId"]!, 0x01 | 0x04, attested: false);
        var handle = userHandle ?? UserHandle;
        var response = new JsonObject
        {
            ["clientDataJSON"] = B64(clientData),
            ["authenticatorData"] = B64(authData),
            ["signature"] = B64(Sign([.. authData, .. SHA256.HashData(clientData)])),
        };
        if (handle is not null) response["userHandle"] = B64(handle);
        return new JsonObject
        {
            ["id"] = Id,
            ["rawId"] = Id,
            ["type"] = "public-key",
            ["response"] = response,
            ["clientExtensionResults"] = new JsonObject(),
            ["authenticatorAttachment"] = "platform",
        };
    }

    static byte[] ClientData(string type, string challenge, string origin) =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["type"] = type,
            ["challenge"] = challenge,
            ["origin"] = origin,
            ["crossOrigin"] = false,
        }.ToJsonString());

    byte[] AuthData(string rpId, byte flags, bool attested)
    {
        var data = new List<byte>();
        data.AddRange(SHA256.HashData(Encoding.UTF8.GetBytes(rpId)));
        data.Add(flags);
        data.AddRange([(byte)(Counter >> 24), (byte)(Counter >> 16), (byte)(Counter >> 8), (byte)Counter]);
        if (attested)
        {
            data.AddRange(Aaguid.ToByteArray(bigEndian: true));
            data.AddRange([(byte)(CredentialId.Length >> 8), (byte)CredentialId.Length]);
            data.AddRange(CredentialId);
            data.AddRange(CoseKey());
        }
        return [.. data];
    }

    byte[] CoseKey()
    {
        var cbor = new CborWriter(CborConformanceMode.Lax);
        if (ec is not null)
        {
            var p = ec.ExportParameters(false);
            cbor.WriteStartMap(5);
            cbor.WriteInt32(1); cbor.WriteInt32(2);      // kty: EC2
            cbor.WriteInt32(3); cbor.WriteInt32(-7);     // alg: ES256
            cbor.WriteInt32(-1); cbor.WriteInt32(1);     // crv: P-256
            cbor.WriteInt32(-2); cbor.WriteByteString(p.Q.X!);
            cbor.WriteInt32(-3); cbor.WriteByteString(p.Q.Y!);
        }
        else
        {
            var p = rsa!.ExportParameters(false);
            cbor.WriteStartMap(4);
            cbor.WriteInt32(1); cbor.WriteInt32(3);      // kty: RSA
            cbor.WriteInt32(3); cbor.WriteInt32(-257);   // alg: RS256
            cbor.WriteInt32(-1); cbor.WriteByteString(p.Modulus!);
            cbor.WriteInt32(-2); cbor.WriteByteString(p.Exponent!);
        }
        cbor.WriteEndMap();
        return cbor.Encode();
    }

    byte[] Sign(byte[] data) => ec is not null
        ? ec.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence)
        : rsa!.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    public static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    static string ToStd(string b64url)
    {
        var s = b64url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
    }

    public void Dispose()
    {
        ec?.Dispose();
        rsa?.Dispose();
    }
}
