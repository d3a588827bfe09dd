using System.Security.Cryptography;
using NSec.Cryptography;

namespace Embargo.Weights;

/// <summary>X25519 key files. A public key file holds
/// <code>
/// -----BEGIN EMBARGO X25519 PUBLIC KEY-----
/// &lt;base64 of the 32-byte raw public key&gt;
/// -----END EMBARGO X25519 PUBLIC KEY-----
/// </code>
/// and a private key file the same with <c>PRIVATE KEY</c> and the 32-byte raw private scalar. The key id is
/// <c>x25519:</c> + the first 16 bytes (32 hex digits) of SHA-256 over the raw public key.</summary>
public static class KeyFiles
{
    public const string PublicLabel = "EMBARGO X25519 PUBLIC KEY";
    public const string PrivateLabel = "EMBARGO X25519 PRIVATE KEY";

    public static string KeyId(ReadOnlySpan<byte> rawPublicKey) =>
        "x25519:" + Convert.ToHexStringLower(SHA256.HashData(rawPublicKey)[..16]);

    /// <summary>Generates a key pair and writes <c>NAME.key</c> (mode 0600) and <c>NAME.pub</c>; refuses to overwrite.</summary>
    public static WeightsResult<string> Generate(string name)
    {
        var keyPath = name + ".key";
        var pubPath = name + ".pub";
        foreach (var p in new[] { keyPath, pubPath })
        {
            if (File.Exists(p))
            {
                return new WeightsError(WeightsErrorKind.OutputExists, p, "already exists; refusing to overwrite a key file");
            }
        }
        using var key = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        var priv = key.Export(KeyBlobFormat.RawPrivateKey);
        var pub = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using (var w = new StreamWriter(keyPath, options))
            {
                w.Write(Armor(PrivateLabel, priv));
            }
            File.WriteAllText(pubPath, Armor(PublicLabel, pub));
            return WeightsResult<string>.Ok(KeyId(pub));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, keyPath, e.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(priv);
        }
    }

    public static string Armor(string label, ReadOnlySpan<byte> raw) =>
        $"-----BEGIN {label}-----\n{Convert.ToBase64String(raw)}\n-----END {label}-----\n";

    /// <summary>Reads a public key file; returns the 32 raw bytes.</summary>
    public static WeightsResult<byte[]> ReadPublic(string path) => ReadArmored(path, PublicLabel);

    /// <summary>Reads a private key file; returns the 32 raw bytes.</summary>
    public static WeightsResult<byte[]> ReadPrivate(string path) => ReadArmored(path, PrivateLabel);

    public static WeightsResult<byte[]> ParseArmored(string text, string label, string name)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length != 3 || lines[0] != $"-----BEGIN {label}-----" || lines[2] != $"-----END {label}-----")
        {
            return new WeightsError(WeightsErrorKind.InvalidKeyFile, name, $"not an {label} file (expected BEGIN line, base64 line, END line)");
        }
        var raw = new byte[32];
        if (!Convert.TryFromBase64String(lines[1], raw, out var n) || n != 32)
        {
            return new WeightsError(WeightsErrorKind.InvalidKeyFile, name, "key is not 32 bytes of base64");
        }
        return WeightsResult<byte[]>.Ok(raw);
    }

    private static WeightsResult<byte[]> ReadArmored(string path, string label)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                return new WeightsError(WeightsErrorKind.NotFound, path, "key file not found");
            }
            if (info.Length > 4096)
            {
                return new WeightsError(WeightsErrorKind.InvalidKeyFile, path, "key file is too large to be a key");
            }
            return ParseArmored(File.ReadAllText(path), label, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, path, e.Message);
        }
    }
}
