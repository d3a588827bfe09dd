using System.Security.Cryptography;
using System.Text;

namespace Embargo.Weights;

/// <summary>The manifest digest: SHA-256 of the <c>sha256sum</c>-format listing of every file, one
/// <c>&lt;hex&gt;␠␠&lt;path&gt;\n</c> line per file, sorted by the path's UTF-8 bytes (<c>LC_ALL=C sort</c>).
/// Recompute: <c>cd DIR &amp;&amp; find . -name .git -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum</c>.</summary>
public static class ManifestDigest
{
    public const string Prefix = "sha256:";

    public static IComparer<string> PathOrder { get; } = Comparer<string>.Create(ComparePaths);

    public static int ComparePaths(string? a, string? b)
    {
        if (ReferenceEquals(a, b)) return 0;
        if (a is null) return -1;
        if (b is null) return 1;
        return Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));
    }

    /// <summary>The canonical text hashed into the digest (exactly what <c>sha256sum</c> prints).</summary>
    public static string CanonicalText(IEnumerable<(string Path, string Sha256)> files)
    {
        var sb = new StringBuilder();
        foreach (var (path, sha) in files.OrderBy(f => f.Path, PathOrder))
        {
            sb.Append(sha.ToLowerInvariant()).Append("  ").Append(path).Append('\n');
        }
        return sb.ToString();
    }

    public static string Compute(IEnumerable<(string Path, string Sha256)> files) =>
        Prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(files))));

    public static string Compute(IEnumerable<ManifestFile> files) => Compute(files.Select(f => (f.Path, f.Sha256)));
}
