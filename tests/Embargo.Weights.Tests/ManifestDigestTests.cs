using System.Diagnostics;

namespace Embargo.Weights.Tests;

/// <summary>The manifest digest is recomputable with coreutils, exactly as MANIFEST.md says.</summary>
public class ManifestDigestTests
{
    /// <summary>The recipe from MANIFEST.md, verbatim.</summary>
    public const string Recipe = "find . -name .git -prune -o -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum";

    private static string RunRecipe(string dir)
    {
        var psi = new ProcessStartInfo("bash", ["-c", Recipe]) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return "sha256:" + output.Split(' ')[0];
    }

    [Fact]
    public void RecipeInManifestDocumentIsTheOneTested()
    {
        var doc = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "MANIFEST.md"));
        Assert.Contains(Recipe, doc, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ShellRecipeAgreesWithManifestBuilderOnAnAwkwardDirectory()
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Sub("model"));
        var root = dir.Sub("model");
        File.WriteAllBytes(Path.Combine(root, "empty.bin"), []);
        File.WriteAllText(Path.Combine(root, "with space.txt"), "x");
        Directory.CreateDirectory(Path.Combine(root, "tokenizer", "deep"));
        File.WriteAllText(Path.Combine(root, "tokenizer", "deep", "vocab.json"), "{}");
        File.WriteAllText(Path.Combine(root, "ünïcode-名前.txt"), "u");
        File.WriteAllText(Path.Combine(root, "Z-upper.txt"), "z");
        File.WriteAllText(Path.Combine(root, "a.b"), "dot sorts before slash");
        Directory.CreateDirectory(Path.Combine(root, "a"));
        File.WriteAllText(Path.Combine(root, "a", "b"), "slash");
        Directory.CreateDirectory(Path.Combine(root, ".git", "objects"));
        File.WriteAllText(Path.Combine(root, ".git", "objects", "ignored"), "not part of the model");
        File.WriteAllText(Path.Combine(root, ".gitattributes"), "*.safetensors filter=lfs");

        var manifest = await ManifestBuilder.BuildAsync(root, null, CancellationToken.None);

        Assert.True(manifest.IsOk, manifest.Error?.ToString());
        Assert.Equal(RunRecipe(root), manifest.Value.Digest);
        Assert.DoesNotContain(manifest.Value.Files, f => f.Path.StartsWith(".git/", StringComparison.Ordinal));
        Assert.Contains(manifest.Value.Files, f => f.Path == ".gitattributes");
    }

    [Fact]
    public async Task ShellRecipeAgreesOnAnEmptyDirectory()
    {
        using var dir = new TempDir();
        var manifest = await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None);
        Assert.Equal(RunRecipe(dir.Path), manifest.Value.Digest);
        Assert.Empty(manifest.Value.Files);
    }

    [Fact]
    public async Task DigestChangesWhenAByteChangesOrAFileIsRenamed()
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Path);
        var original = (await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None)).Value.Digest;

        var config = Path.Combine(dir.Path, "config.json");
        var bytes = File.ReadAllBytes(config);
        bytes[^2] ^= 1;
        File.WriteAllBytes(config, bytes);
        var changed = (await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None)).Value.Digest;
        File.Move(config, Path.Combine(dir.Path, "config2.json"));
        var renamed = (await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None)).Value.Digest;

        Assert.NotEqual(original, changed);
        Assert.NotEqual(changed, renamed);
    }

    [Fact]
    public async Task DigestDoesNotDependOnDegreeOfParallelism()
    {
        var one = await ManifestBuilder.BuildAsync(Fixtures.PathOf("sharded"), null, 1, CancellationToken.None);
        var many = await ManifestBuilder.BuildAsync(Fixtures.PathOf("sharded"), null, 8, CancellationToken.None);
        Assert.Equal(one.Value.Digest, many.Value.Digest);
    }

    [Fact]
    public void CanonicalTextIsSha256sumFormatInUtf8ByteOrder()
    {
        var text = ManifestDigest.CanonicalText([("b", new string('1', 64)), ("a/b", new string('2', 64)), ("a.b", new string('3', 64)), ("é", new string('4', 64)), ("\uFF21", new string('5', 64)), ("😀", new string('6', 64))]);
        Assert.Equal(
            $"{new string('3', 64)}  a.b\n{new string('2', 64)}  a/b\n{new string('1', 64)}  b\n{new string('4', 64)}  é\n{new string('5', 64)}  \uFF21\n{new string('6', 64)}  😀\n",
            text);
    }

    [Fact]
    public async Task ProgressReachesTheTotal()
    {
        var reports = new List<HashProgress>();
        var progress = new SynchronousProgress(reports);
        var result = await ManifestBuilder.BuildAsync(Fixtures.PathOf("sharded"), progress, CancellationToken.None);

        var last = reports.MaxBy(r => r.FilesDone)!;
        Assert.Equal(result.Value.Files.Count, last.FilesTotal);
        Assert.Equal(result.Value.Files.Count, reports.Max(r => r.FilesDone));
        Assert.Equal(result.Value.TotalBytes, reports.Max(r => r.TotalBytesDone));
    }

    private sealed class SynchronousProgress(List<HashProgress> sink) : IProgress<HashProgress>
    {
        public void Report(HashProgress value)
        {
            lock (sink) sink.Add(value);
        }
    }
}
