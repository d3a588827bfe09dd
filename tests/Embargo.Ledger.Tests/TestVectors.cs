using System.Text.Json;

namespace Embargo.Ledger.Tests;

/// <summary>
/// Loads the RFC 6962 vectors the repository carries (tests/Embargo.Ledger.Tests/vectors/rfc6962.json, copied to
/// the test output; provenance in vectors/README.md), or those in $EMBARGO_TESTVECTORS.
/// </summary>
internal static class TestVectors
{
    private static readonly Lazy<Rfc6962Vectors> Loaded = new(Load);

    public static Rfc6962Vectors Rfc6962 => Loaded.Value;

    public static string Directory()
    {
        var overridden = Environment.GetEnvironmentVariable("EMBARGO_TESTVECTORS");
        var directory = string.IsNullOrEmpty(overridden) ? Path.Combine(AppContext.BaseDirectory, "vectors") : overridden;
        return File.Exists(Path.Combine(directory, "rfc6962.json"))
            ? directory
            : throw new FileNotFoundException("rfc6962.json not found in " + directory);
    }

    private static Rfc6962Vectors Load()
    {
        using var stream = File.OpenRead(Path.Combine(Directory(), "rfc6962.json"));
        using var doc = JsonDocument.Parse(stream);
        var root = doc.RootElement;
        static byte[] Hex(JsonElement e) => Convert.FromHexString(e.GetString()!);
        static byte[][] HexList(JsonElement e) => [.. e.EnumerateArray().Select(Hex)];

        return new Rfc6962Vectors(
            Leaves: HexList(root.GetProperty("leaves")),
            EmptyRoot: Hex(root.GetProperty("empty_root")),
            Roots: root.GetProperty("roots").EnumerateArray()
                .ToDictionary(r => r.GetProperty("size").GetInt64(), r => Hex(r.GetProperty("root"))),
            Inclusion: [.. root.GetProperty("inclusion").EnumerateArray().Select(c => new InclusionVector(
                c.GetProperty("index").GetInt64(), c.GetProperty("size").GetInt64(), Hex(c.GetProperty("leaf_hash")),
                HexList(c.GetProperty("proof")), Hex(c.GetProperty("root"))))],
            Consistency: [.. root.GetProperty("consistency").EnumerateArray().Select(c => new ConsistencyVector(
                c.GetProperty("size1").GetInt64(), c.GetProperty("size2").GetInt64(), HexList(c.GetProperty("proof")),
                Hex(c.GetProperty("root1")), Hex(c.GetProperty("root2"))))]);
    }
}

internal sealed record Rfc6962Vectors(
    byte[][] Leaves, byte[] EmptyRoot, Dictionary<long, byte[]> Roots,
    IReadOnlyList<InclusionVector> Inclusion, IReadOnlyList<ConsistencyVector> Consistency);

internal sealed record InclusionVector(long Index, long Size, byte[] LeafHash, byte[][] Proof, byte[] Root);

internal sealed record ConsistencyVector(long Size1, long Size2, byte[][] Proof, byte[] Root1, byte[] Root2);

internal static class Bytes
{
    public static byte[] FlipBit(byte[] bytes, int bit)
    {
        var copy = (byte[])bytes.Clone();
        copy[bit / 8 % copy.Length] ^= (byte)(1 << (bit % 8));
        return copy;
    }

    public static byte[][] Replace(byte[][] list, int at, byte[] value)
    {
        var copy = (byte[][])list.Clone();
        copy[at] = value;
        return copy;
    }

    public static MerkleTree TreeOf(IEnumerable<byte[]> leaves)
    {
        var tree = new MerkleTree();
        foreach (var leaf in leaves)
        {
            tree.AppendLeaf(leaf);
        }

        return tree;
    }

    /// <summary>Deterministic distinct leaves: leaf i is "leaf-i".</summary>
    public static byte[] Leaf(long i) => System.Text.Encoding.UTF8.GetBytes($"leaf-{i}");

    public static string Hex(byte[] b) => Convert.ToHexStringLower(b);
}
