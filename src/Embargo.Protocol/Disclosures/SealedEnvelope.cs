using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Embargo.Protocol.Disclosures;

/// <summary>
/// Private disclosure detail sealed to one recipient's X25519 public key, so the server stores only ciphertext
/// (rule 8). Layout, base64 as a whole: version 0x01 ‖ ephemeral X25519 public key (32) ‖ nonce (12) ‖
/// AES-256-GCM ciphertext ‖ tag (16). Key = HKDF-SHA256(X25519(ephemeral, recipient), salt = ephemeral ‖ recipient,
/// info = "embargo-disclosure-v1"); associated data = "embargo-disclosure-v1\0" ‖ context (the finding and the
/// recipient organisation), so a sealed detail cannot be moved to another finding or recipient.
/// </summary>
public static class SealedEnvelope
{
    private const byte Version = 1;
    private const int KeySize = 32, NonceSize = 12, TagSize = 16;
    private static readonly byte[] Info = "embargo-disclosure-v1"u8.ToArray();

    public static string Context(string findingId, string organisationId) => $"{findingId}\n{organisationId}";

    public static string Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> recipientPublicKey, string context)
    {
        var recipient = NSec.Cryptography.PublicKey.Import(KeyAgreementAlgorithm.X25519, recipientPublicKey, KeyBlobFormat.RawPublicKey);
        using var ephemeral = Key.Create(KeyAgreementAlgorithm.X25519);
        var ephemeralPublic = ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        using var shared = KeyAgreementAlgorithm.X25519.Agree(ephemeral, recipient)
            ?? throw new CryptographicException("X25519 agreement failed (low-order recipient key)");
        var key = KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, [.. ephemeralPublic, .. recipientPublicKey], Info, KeySize);
        var output = new byte[1 + KeySize + NonceSize + plaintext.Length + TagSize];
        output[0] = Version;
        ephemeralPublic.CopyTo(output, 1);
        var nonce = output.AsSpan(1 + KeySize, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Encrypt(nonce, plaintext, output.AsSpan(1 + KeySize + NonceSize, plaintext.Length),
                output.AsSpan(output.Length - TagSize), AssociatedData(context));
        }
        CryptographicOperations.ZeroMemory(key);
        return Convert.ToBase64String(output);
    }

    public static Result<byte[]> Open(string sealedBase64, ReadOnlySpan<byte> recipientPrivateKey, string context)
    {
        byte[] input;
        try
        {
            input = Convert.FromBase64String(sealedBase64);
        }
        catch (FormatException)
        {
            return ProtocolError.Validation("the sealed detail is not base64");
        }
        if (input.Length < 1 + KeySize + NonceSize + TagSize || input[0] != Version)
        {
            return ProtocolError.Validation("the sealed detail is not an embargo-disclosure-v1 envelope");
        }
        using var key = Key.Import(KeyAgreementAlgorithm.X25519, recipientPrivateKey, KeyBlobFormat.RawPrivateKey);
        var recipientPublic = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        var ephemeral = NSec.Cryptography.PublicKey.Import(KeyAgreementAlgorithm.X25519, input.AsSpan(1, KeySize), KeyBlobFormat.RawPublicKey);
        using var shared = KeyAgreementAlgorithm.X25519.Agree(key, ephemeral);
        if (shared is null)
        {
            return ProtocolError.Validation("the sealed detail carries an invalid ephemeral key");
        }
        var aesKey = KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, [.. input.AsSpan(1, KeySize), .. recipientPublic], Info, KeySize);
        var cipherLength = input.Length - 1 - KeySize - NonceSize - TagSize;
        var plaintext = new byte[cipherLength];
        try
        {
            using var aes = new AesGcm(aesKey, TagSize);
            aes.Decrypt(input.AsSpan(1 + KeySize, NonceSize), input.AsSpan(1 + KeySize + NonceSize, cipherLength),
                input.AsSpan(input.Length - TagSize), plaintext, AssociatedData(context));
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            return ProtocolError.Validation("the sealed detail does not open with this key (another recipient's, or tampered with)");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(aesKey);
        }
    }

    /// <summary>The largest envelope the server accepts (private detail is text, not a data dump).</summary>
    public const int MaxEnvelopeBytes = 1 << 20;

    /// <summary>
    /// What the server can check without the recipient's private key: base64 of a version-1 envelope of plausible
    /// size whose ephemeral key is a usable X25519 public key (not a low-order point). Base64 of plaintext, random
    /// bytes or a truncated envelope fail; the error names <paramref name="member"/>.
    /// </summary>
    public static ProtocolError? WellFormed(string? sealedBase64, string member)
    {
        if (string.IsNullOrEmpty(sealedBase64) || sealedBase64.Length > (MaxEnvelopeBytes + 2) / 3 * 4)
        {
            return ProtocolError.Validation($"{member} is not a sealed envelope (empty or larger than {MaxEnvelopeBytes} bytes)");
        }
        var input = new byte[sealedBase64.Length];
        if (!Convert.TryFromBase64String(sealedBase64, input, out var length))
        {
            return ProtocolError.Validation($"{member} is not base64 of a sealed envelope");
        }
        if (length < 1 + KeySize + NonceSize + TagSize + 1 || input[0] != Version)
        {
            return ProtocolError.Validation($"{member} is not an embargo-disclosure-v1 envelope (version 0x01, ephemeral key, nonce, ciphertext, tag)");
        }
        using var probe = Key.Create(KeyAgreementAlgorithm.X25519);
        if (!NSec.Cryptography.PublicKey.TryImport(KeyAgreementAlgorithm.X25519, input.AsSpan(1, KeySize), KeyBlobFormat.RawPublicKey, out var ephemeral))
        {
            return ProtocolError.Validation($"{member} carries an invalid ephemeral key");
        }
        using var shared = KeyAgreementAlgorithm.X25519.Agree(probe, ephemeral!);
        return shared is null ? ProtocolError.Validation($"{member} carries a low-order ephemeral key: it cannot have been sealed to anyone") : null;
    }

    private static byte[] AssociatedData(string context) => [.. Info, 0, .. Encoding.UTF8.GetBytes(context)];
}
