using System.Text;
using Nethereum.Signer;
using NSec.Cryptography;
using SimpleBase;

namespace AuthServer.Features.Web3;

/// Signature checks of the two chains, with maintained libraries (no curve code here). Where GoTrue
/// panics on malformed input (an address that is not 32 base58 bytes, a bad recovery id), this says "no".
internal static class WalletSignatures
{
    /// Solana: Ed25519 over the message's UTF-8 bytes, the public key being the base58 address.
    public static bool VerifySolana(SignInMessage message, byte[] signature)
    {
        byte[] publicKeyBytes;
        try
        {
            publicKeyBytes = Base58.Bitcoin.Decode(message.Address);
        }
        catch (ArgumentException)
        {
            return false;
        }
        if (publicKeyBytes.Length != 32 || signature.Length != 64) return false;
        var ed25519 = SignatureAlgorithm.Ed25519;
        return PublicKey.TryImport(ed25519, publicKeyBytes, KeyBlobFormat.RawPublicKey, out var publicKey)
            && publicKey is not null
            && ed25519.Verify(publicKey, Encoding.UTF8.GetBytes(message.Raw), signature);
    }

    /// Ethereum `personal_sign` (EIP-191): recovers the signer of the prefixed keccak hash and compares it
    /// with the message's address, case-insensitively as GoTrue does.
    public static bool VerifyEthereum(SignInMessage message, string signatureHex)
    {
        var hex = signatureHex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? signatureHex[2..] : signatureHex;
        byte[] signature;
        try
        {
            signature = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return false;
        }
        if (signature.Length != 65) return false;
        // Wallets send v as 27/28 or as the bare recovery id 0/1.
        if (signature[64] < 27) signature[64] += 27;
        if (signature[64] is not (27 or 28)) return false;
        try
        {
            var recovered = new EthereumMessageSigner().EncodeUTF8AndEcRecover(message.Raw, "0x" + Convert.ToHexStringLower(signature));
            return string.Equals(recovered, message.Address, StringComparison.OrdinalIgnoreCase);
        }
        catch (Exception)
        {
            // r or s out of range, or no point for r: no key recovers (the library's exception types vary).
            return false;
        }
    }
}
