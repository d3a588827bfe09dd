namespace Embargo.Weights;

/// <summary>One tensor as described by a header. Offsets are absolute positions in the file.</summary>
public sealed record TensorInfo
{
    public required string Name { get; init; }
    public required string Dtype { get; init; }
    public required IReadOnlyList<long> Shape { get; init; }
    public required long Elements { get; init; }
    /// <summary>Absolute file offset of the first data byte.</summary>
    public required long DataOffset { get; init; }
    public required long ByteLength { get; init; }
}

/// <summary>What a safetensors or GGUF header says about a file. Tensor data is never read.</summary>
public sealed record ModelHeader
{
    /// <summary><c>safetensors</c> or <c>gguf</c>.</summary>
    public required string Format { get; init; }
    /// <summary>GGUF version (1, 2 or 3); null for safetensors.</summary>
    public int? Version { get; init; }
    public required IReadOnlyList<TensorInfo> Tensors { get; init; }
    /// <summary>safetensors <c>__metadata__</c> (string → string) or GGUF key/values rendered as text
    /// (arrays as <c>[TYPE x N: first, values, ...]</c>).</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
    /// <summary>GGUF key → value type name (e.g. <c>UINT32</c>, <c>ARRAY[STRING]</c>); empty for safetensors.</summary>
    public IReadOnlyDictionary<string, string> MetadataTypes { get; init; } = new Dictionary<string, string>();
    /// <summary>Absolute offset where tensor data begins.</summary>
    public required long DataStart { get; init; }

    public long Parameters => Tensors.Sum(t => t.Elements);

    /// <summary>Tensor count per dtype, ordinal-sorted by dtype name.</summary>
    public IReadOnlyDictionary<string, int> DtypeCounts =>
        new SortedDictionary<string, int>(
            Tensors.GroupBy(t => t.Dtype).ToDictionary(g => g.Key, g => g.Count()), StringComparer.Ordinal);
}
