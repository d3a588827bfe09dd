namespace Embargo.Weights;

/// <summary>One file of a model directory.</summary>
public sealed record ManifestFile
{
    /// <summary>Relative path, <c>/</c>-separated.</summary>
    public required string Path { get; init; }
    public required long Bytes { get; init; }
    /// <summary>Lower-case hex SHA-256 of the file's bytes.</summary>
    public required string Sha256 { get; init; }
    /// <summary><c>safetensors</c>, <c>gguf</c> or <c>other</c>.</summary>
    public required string Format { get; init; }
    /// <summary>Parsed header (safetensors and gguf only).</summary>
    public ModelHeader? Header { get; init; }
    /// <summary>True for a <c>*.safetensors.index.json</c> shard index (recognised, not counted).</summary>
    public bool IsShardIndex { get; init; }
    /// <summary>For a shard index: the manifest paths of the shard files its <c>weight_map</c> names.</summary>
    public IReadOnlyList<string>? IndexedShards { get; init; }
    public int? Tensors => Header?.Tensors.Count;
    public long? Parameters => Header?.Parameters;
    public IReadOnlyDictionary<string, int>? Dtypes => Header?.DtypeCounts;
}

/// <summary>The identity of a model version: every file, and a digest over the list (see MANIFEST.md).</summary>
public sealed record WeightsManifest
{
    /// <summary><c>sha256:&lt;hex&gt;</c> over the canonical file list.</summary>
    public required string Digest { get; init; }
    /// <summary>Files sorted by the UTF-8 bytes of their path.</summary>
    public required IReadOnlyList<ManifestFile> Files { get; init; }
    /// <summary>Parameters across safetensors and GGUF files. The shards named by a shard index count as one model:
    /// a tensor name appearing in several of them counts once; the index itself adds nothing.</summary>
    public long Parameters
    {
        get
        {
            var indexes = Files.Where(f => f.IndexedShards is not null).ToList();
            var indexed = indexes.SelectMany(f => f.IndexedShards!).ToHashSet(StringComparer.Ordinal);
            var total = Files.Where(f => !indexed.Contains(f.Path)).Sum(f => f.Parameters ?? 0);
            var byPath = Files.ToDictionary(f => f.Path, StringComparer.Ordinal);
            foreach (var index in indexes)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var shard in index.IndexedShards!.Distinct(StringComparer.Ordinal))
                {
                    if (byPath.TryGetValue(shard, out var file) && file.Header is not null)
                    {
                        total += file.Header.Tensors.Where(t => seen.Add(t.Name)).Sum(t => t.Elements);
                    }
                }
            }
            return total;
        }
    }
    public long TotalBytes => Files.Sum(f => f.Bytes);
}

/// <summary>Hashing progress, reported from worker threads.</summary>
public sealed record HashProgress(string Path, long TotalBytesDone, long TotalBytes, int FilesDone, int FilesTotal);
