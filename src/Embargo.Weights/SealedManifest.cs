using System.Text;

namespace Embargo.Weights;

/// <summary>One sealed file: its plaintext identity and where its ciphertext lives.</summary>
public sealed record SealedFile
{
    public required string Path { get; init; }
    public required long Bytes { get; init; }
    public required string Sha256 { get; init; }
    /// <summary>32 hex digits, random per file per seal.</summary>
    public required string FileId { get; init; }
    public required long Chunks { get; init; }
    /// <summary>Relative path of the ciphertext inside the sealed directory (<c>blobs/NNNNNN</c>).</summary>
    public required string Blob { get; init; }
}

/// <summary>The data key wrapped to one grantee's X25519 public key.</summary>
public sealed record WrappedKey
{
    /// <summary><c>x25519:&lt;32 hex&gt;</c>, see <see cref="KeyFiles.KeyId"/>.</summary>
    public required string KeyId { get; init; }
    /// <summary>Base64 raw X25519 ephemeral public key.</summary>
    public required string EphemeralPublicKey { get; init; }
    /// <summary>Base64 AES-256-GCM ciphertext of the 32-byte data key followed by its 16-byte tag.</summary>
    public required string WrappedDataKey { get; init; }
}

/// <summary><c>sealed.json</c>: what a sealed directory holds and who can open it.</summary>
public sealed record SealedManifest
{
    public const string CurrentFormat = "embargo-sealed-weights/v1";
    public const string CurrentCipher = "AES-256-GCM";

    public required string Format { get; init; }
    public required string Cipher { get; init; }
    /// <summary>32 hex digits, random per seal.</summary>
    public required string SealId { get; init; }
    public required int ChunkSize { get; init; }
    /// <summary>The manifest digest of the plaintext directory (<c>sha256:&lt;hex&gt;</c>).</summary>
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<SealedFile> Files { get; init; }
    public required IReadOnlyList<WrappedKey> Recipients { get; init; }
    /// <summary>HMAC-SHA256 (hex) over <see cref="CanonicalText"/> under a key derived from the data key.</summary>
    public required string Mac { get; init; }

    /// <summary>Everything the MAC covers: all fields except the recipients and the MAC itself.</summary>
    public string CanonicalText()
    {
        var sb = new StringBuilder();
        sb.Append(Format).Append('\n').Append(Cipher).Append('\n').Append(SealId).Append('\n')
          .Append(ChunkSize).Append('\n').Append(ManifestDigest).Append('\n');
        foreach (var f in Files)
        {
            sb.Append(f.FileId).Append(' ').Append(f.Bytes).Append(' ').Append(f.Chunks).Append(' ')
              .Append(f.Sha256).Append(' ').Append(f.Blob).Append(' ').Append(f.Path).Append('\n');
        }
        return sb.ToString();
    }
}

/// <summary>Seal options. The chunk size is recorded in <c>sealed.json</c>.</summary>
public sealed record SealOptions
{
    public const int DefaultChunkSize = 1024 * 1024;
    public const int MaxChunkSize = 64 * 1024 * 1024;
    public int ChunkSize { get; init; } = DefaultChunkSize;
    public int DegreeOfParallelism { get; init; } = Environment.ProcessorCount;
}
