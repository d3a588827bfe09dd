using System.Buffers;
using System.Security.Cryptography;

namespace Embargo.Weights;

/// <summary>Builds the manifest of a model file or directory: lists files, parses safetensors/GGUF headers,
/// and hashes every file streaming (fixed 1 MiB buffers) and in parallel across files.</summary>
public static class ManifestBuilder
{
    public const int BufferSize = 1024 * 1024;
    private const long ProgressEvery = 64L * 1024 * 1024;

    /// <summary>A file found under the root: its relative path and absolute location.</summary>
    public sealed record SourceFile(string Path, string FullPath, long Bytes);

    public static Task<WeightsResult<WeightsManifest>> BuildAsync(string path, IProgress<HashProgress>? progress, CancellationToken ct) =>
        BuildAsync(path, progress, Environment.ProcessorCount, ct);

    public static async Task<WeightsResult<WeightsManifest>> BuildAsync(string path, IProgress<HashProgress>? progress, int degreeOfParallelism, CancellationToken ct)
    {
        var listed = ListFiles(path);
        if (!listed.IsOk)
        {
            return listed.Error;
        }
        var files = listed.Value;
        var described = await PerFile.RunAsync(files.Select(f => (f.Path, f.Bytes)).ToList(), degreeOfParallelism, progress,
            (i, hashed, token) => Describe(files[i], hashed, token), ct);
        if (!described.IsOk)
        {
            return described.Error;
        }
        var list = described.Value.ToList();
        return WeightsResult<WeightsManifest>.Ok(new WeightsManifest { Digest = ManifestDigest.Compute(list), Files = list });
    }

    /// <summary>Parses the header (if any) and hashes one file.</summary>
    public static WeightsResult<ManifestFile> Describe(SourceFile file, Action<long>? hashed, CancellationToken ct)
    {
        var format = DetectFormat(file.FullPath);
        ModelHeader? header = null;
        if (format is "safetensors" or "gguf")
        {
            var parsed = format == "safetensors"
                ? SafetensorsReader.Read(file.FullPath, file.Path)
                : GgufReader.Read(file.FullPath, file.Path);
            if (!parsed.IsOk)
            {
                return parsed.Error;
            }
            header = parsed.Value;
        }
        var isIndex = file.Path.EndsWith(".safetensors.index.json", StringComparison.Ordinal);
        List<string>? shards = null;
        if (isIndex)
        {
            var index = ShardIndex.Read(file.FullPath, file.Path);
            if (!index.IsOk)
            {
                return index.Error;
            }
            var slash = file.Path.LastIndexOf('/');
            var prefix = slash < 0 ? "" : file.Path[..(slash + 1)];
            shards = index.Value.Values.Distinct(StringComparer.Ordinal).Select(s => prefix + s).Order(StringComparer.Ordinal).ToList();
        }
        var hash = HashFile(file, hashed, ct);
        if (!hash.IsOk)
        {
            return hash.Error;
        }
        return WeightsResult<ManifestFile>.Ok(new ManifestFile
        {
            Path = file.Path, Bytes = file.Bytes, Sha256 = hash.Value, Format = format, Header = header, IsShardIndex = isIndex, IndexedShards = shards,
        });
    }

    /// <summary>Streams the file through SHA-256 with one 1 MiB pooled buffer; checks the length did not change.</summary>
    public static WeightsResult<string> HashFile(SourceFile file, Action<long>? hashed, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using var stream = new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long total = 0, sinceReport = 0;
            int n;
            while ((n = stream.Read(buffer, 0, BufferSize)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
                sinceReport += n;
                if (sinceReport >= ProgressEvery)
                {
                    ct.ThrowIfCancellationRequested();
                    hashed?.Invoke(sinceReport);
                    sinceReport = 0;
                }
            }
            hashed?.Invoke(sinceReport);
            if (total != file.Bytes)
            {
                return new WeightsError(WeightsErrorKind.Io, file.Path, $"file changed while hashing ({file.Bytes} bytes listed, {total} read)");
            }
            return WeightsResult<string>.Ok(Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, file.Path, e.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary><c>safetensors</c> or <c>gguf</c> by extension (or the GGUF magic), else <c>other</c>.</summary>
    public static string DetectFormat(string fullPath)
    {
        if (fullPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            return "safetensors";
        }
        if (fullPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            return "gguf";
        }
        try
        {
            using var s = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
            Span<byte> magic = stackalloc byte[4];
            return s.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && BitConverter.ToUInt32(magic) == GgufReader.Magic ? "gguf" : "other";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "other";
        }
    }

    /// <summary>Every regular file under <paramref name="path"/> (or the file itself), sorted by UTF-8 path bytes.
    /// Skips <c>.git</c> directories; refuses symbolic links and paths <c>sha256sum</c> would escape.</summary>
    public static WeightsResult<IReadOnlyList<SourceFile>> ListFiles(string path)
    {
        try
        {
            if (File.Exists(path))
            {
                var info = new FileInfo(path);
                if (info.LinkTarget is not null)
                {
                    return new WeightsError(WeightsErrorKind.UnsupportedPath, path, "is a symbolic link; links are not followed");
                }
                var bad = CheckName(info.Name, path);
                if (bad is not null) return bad;
                return WeightsResult<IReadOnlyList<SourceFile>>.Ok([new SourceFile(info.Name, info.FullName, info.Length)]);
            }
            if (!Directory.Exists(path))
            {
                return new WeightsError(WeightsErrorKind.NotFound, path, "no such file or directory");
            }
            var root = new DirectoryInfo(path);
            var found = new List<SourceFile>();
            var pending = new Stack<(DirectoryInfo Dir, string Prefix)>();
            pending.Push((root, ""));
            while (pending.Count > 0)
            {
                var (dir, prefix) = pending.Pop();
                foreach (var entry in dir.EnumerateFileSystemInfos())
                {
                    var relative = prefix + entry.Name;
                    if (entry.LinkTarget is not null)
                    {
                        return new WeightsError(WeightsErrorKind.UnsupportedPath, Path.Combine(path, relative), "is a symbolic link; links are not followed");
                    }
                    if (entry is DirectoryInfo sub)
                    {
                        if (sub.Name != ".git")
                        {
                            pending.Push((sub, relative + "/"));
                        }
                    }
                    else if (entry is FileInfo file && (file.Attributes & (FileAttributes.Device | FileAttributes.ReparsePoint)) == 0)
                    {
                        var bad = CheckName(relative, Path.Combine(path, relative));
                        if (bad is not null) return bad;
                        found.Add(new SourceFile(relative, file.FullName, file.Length));
                    }
                }
            }
            found.Sort((a, b) => ManifestDigest.ComparePaths(a.Path, b.Path));
            return WeightsResult<IReadOnlyList<SourceFile>>.Ok(found);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, path, e.Message);
        }
    }

    private static WeightsError? CheckName(string relative, string display) =>
        relative.AsSpan().IndexOfAny('\\', '\n', '\r') >= 0
            ? new WeightsError(WeightsErrorKind.UnsupportedPath, display.Replace("\n", "\\n", StringComparison.Ordinal), "path contains a backslash or line break, which the manifest format does not allow")
            : null;
}
