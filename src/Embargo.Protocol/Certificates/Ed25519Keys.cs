using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Embargo.Protocol.Certificates;

/// <summary>Ed25519 signing keys as PEM (PKCS#8 private, SPKI public) — readable by openssl too.</summary>
public sealed class SigningKey : IDisposable
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private SigningKey(Key key) => _key = key;

    public static SigningKey Generate() =>
        new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    public static Result<SigningKey> FromPem(string pem)
    {
        var bytes = Encoding.ASCII.GetBytes(pem.Trim() + "\n");
        return Key.TryImport(Algorithm, bytes, KeyBlobFormat.PkixPrivateKeyText, out var key,
                new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }) && key is not null
            ? new SigningKey(key)
            : ProtocolError.Validation("the private key is not an Ed25519 PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)");
    }

    public string PrivatePem => Encoding.ASCII.GetString(_key.Export(KeyBlobFormat.PkixPrivateKeyText));
    public VerifyingKey PublicKey => new(_key.PublicKey);

    public byte[] Sign(ReadOnlySpan<byte> data) => Algorithm.Sign(_key, data);

    public void Dispose() => _key.Dispose();
}

public sealed class VerifyingKey
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly NSec.Cryptography.PublicKey _key;

    internal VerifyingKey(NSec.Cryptography.PublicKey key) => _key = key;

    public static Result<VerifyingKey> FromPem(string? pem)
    {
        if (string.IsNullOrWhiteSpace(pem))
        {
            return ProtocolError.Validation("the public key is empty");
        }
        var bytes = Encoding.ASCII.GetBytes(pem.Trim() + "\n");
        return NSec.Cryptography.PublicKey.TryImport(Algorithm, bytes, KeyBlobFormat.PkixPublicKeyText, out var key) && key is not null
            ? new VerifyingKey(key)
            : ProtocolError.Validation("the public key is not an Ed25519 SPKI PEM (-----BEGIN PUBLIC KEY-----)");
    }

    public string Pem => Encoding.ASCII.GetString(_key.Export(KeyBlobFormat.PkixPublicKeyText));

    /// <summary>Key id: hex SHA-256 of the raw 32-byte public key.</summary>
    public string KeyId => Convert.ToHexStringLower(SHA256.HashData(_key.Export(KeyBlobFormat.RawPublicKey)));

    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        signature.Length == Algorithm.SignatureSize && Algorithm.Verify(_key, data, signature);
}
