using System.Text.Json;
using System.Text.Json.Nodes;

namespace Embargo.Weights.Tests;

/// <summary>seal → unseal round trips, and every tampering is refused leaving no output behind.</summary>
public sealed class SealTests : IDisposable
{
    private const int Chunk = 16;
    private const int TagSize = WeightsSealer.TagSize;
    private readonly TempDir _dir = new();
    private readonly string _alicePub;
    private readonly string _aliceKey;
    private readonly string _bobKey;

    public SealTests()
    {
        Assert.True(KeyFiles.Generate(_dir.Sub("alice")).IsOk);
        Assert.True(KeyFiles.Generate(_dir.Sub("bob")).IsOk);
        _alicePub = _dir.Sub("alice.pub");
        _aliceKey = _dir.Sub("alice.key");
        _bobKey = _dir.Sub("bob.key");
    }

    public void Dispose() => _dir.Dispose();

    private static byte[] Pattern(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Files of 0, 1, exactly one chunk, one chunk + 1, several chunks, and a nested one.</summary>
    private string Source()
    {
        var src = _dir.Sub("src");
        _dir.File("src/empty.bin", []);
        _dir.File("src/one.bin", [42]);
        _dir.File("src/chunk.bin", Pattern(Chunk, 1));
        _dir.File("src/chunk-plus-one.bin", Pattern(Chunk + 1, 2));
        _dir.File("src/several.bin", Pattern((Chunk * 5) + 3, 3));
        _dir.File("src/twin.bin", Pattern((Chunk * 5) + 3, 4));
        _dir.File("src/nested/deeper/config.json", "{\"sample\":true}"u8.ToArray());
        return src;
    }

    private async Task<string> Sealed()
    {
        var sealedDir = _dir.Sub("sealed");
        var result = await WeightsSealer.SealAsync(Source(), sealedDir, [_alicePub], new SealOptions { ChunkSize = Chunk }, null, CancellationToken.None);
        Assert.True(result.IsOk, result.Error?.ToString());
        return sealedDir;
    }

    private static string BlobOf(string sealedDir, string path)
    {
        var m = WeightsSealer.ReadManifest(sealedDir).Value;
        return Path.Combine(sealedDir, m.Files.Single(f => f.Path == path).Blob);
    }

    private async Task<WeightsError> UnsealFails(string sealedDir, WeightsErrorKind kind, string? identity = null)
    {
        var outDir = _dir.Sub("out");
        var result = await WeightsSealer.UnsealAsync(sealedDir, identity ?? _aliceKey, outDir, null, CancellationToken.None);
        Assert.False(result.IsOk, "tampered input was accepted");
        Assert.Equal(kind, result.Error.Kind);
        Assert.DoesNotContain('\n', result.Error.ToString());
        Assert.False(Directory.Exists(outDir), "output directory exists after a refused unseal");
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_dir.Path), e => Path.GetFileName(e).StartsWith(".out", StringComparison.Ordinal));
        return result.Error;
    }

    [Fact]
    public async Task SealThenUnsealIsByteIdenticalForEdgeSizes()
    {
        var sealedDir = await Sealed();
        var outDir = _dir.Sub("out");

        var result = await WeightsSealer.UnsealAsync(sealedDir, _aliceKey, outDir, null, CancellationToken.None);

        Assert.True(result.IsOk, result.Error?.ToString());
        foreach (var file in Directory.GetFiles(_dir.Sub("src"), "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(_dir.Sub("src"), file);
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(outDir, relative)));
        }
        var original = await ManifestBuilder.BuildAsync(_dir.Sub("src"), null, CancellationToken.None);
        var restored = await ManifestBuilder.BuildAsync(outDir, null, CancellationToken.None);
        Assert.Equal(original.Value.Digest, restored.Value.Digest);
        Assert.Equal(original.Value.Digest, result.Value.Digest);
        Assert.Equal(original.Value.Digest, WeightsSealer.ReadManifest(sealedDir).Value.ManifestDigest);
    }

    [Fact]
    public async Task SealedBlobsHaveExactlyOneTagPerChunkAndNoPlaintext()
    {
        var sealedDir = await Sealed();
        var m = WeightsSealer.ReadManifest(sealedDir).Value;

        Assert.Equal(1, m.Files.Single(f => f.Path == "empty.bin").Chunks);
        Assert.Equal(1, m.Files.Single(f => f.Path == "chunk.bin").Chunks);
        Assert.Equal(2, m.Files.Single(f => f.Path == "chunk-plus-one.bin").Chunks);
        Assert.Equal(6, m.Files.Single(f => f.Path == "several.bin").Chunks);
        foreach (var f in m.Files)
        {
            Assert.Equal(f.Bytes + (f.Chunks * TagSize), new FileInfo(Path.Combine(sealedDir, f.Blob)).Length);
        }
        var plain = File.ReadAllBytes(_dir.Sub("src/several.bin"));
        var blob = File.ReadAllBytes(BlobOf(sealedDir, "several.bin"));
        Assert.NotEqual(plain[..Chunk], blob[..Chunk]);
    }

    [Fact]
    public async Task EveryRecipientCanUnsealAndOthersCannot()
    {
        Assert.True(KeyFiles.Generate(_dir.Sub("carol")).IsOk);
        var sealedDir = _dir.Sub("sealed");
        var sealedResult = await WeightsSealer.SealAsync(Source(), sealedDir, [_alicePub, _dir.Sub("carol.pub")], new SealOptions { ChunkSize = Chunk }, null, CancellationToken.None);
        Assert.Equal(2, sealedResult.Value.Recipients.Count);

        var carol = await WeightsSealer.UnsealAsync(sealedDir, _dir.Sub("carol.key"), _dir.Sub("carol-out"), null, CancellationToken.None);
        Assert.True(carol.IsOk, carol.Error?.ToString());
        var e = await UnsealFails(sealedDir, WeightsErrorKind.NoKeyForIdentity, _bobKey);
        Assert.Contains("no wrapped key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlippedCiphertextByteIsRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "several.bin");
        var bytes = File.ReadAllBytes(blob);
        bytes[(Chunk + TagSize) * 2 + 3] ^= 0x01;
        File.WriteAllBytes(blob, bytes);

        var e = await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
        Assert.Contains("chunk 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FlippedTagByteIsRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "one.bin");
        var bytes = File.ReadAllBytes(blob);
        bytes[^1] ^= 0x80;
        File.WriteAllBytes(blob, bytes);

        await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task ReorderedChunksAreRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "several.bin");
        var bytes = File.ReadAllBytes(blob);
        const int c = Chunk + TagSize;
        byte[] swapped = [.. bytes[c..(2 * c)], .. bytes[..c], .. bytes[(2 * c)..]];
        File.WriteAllBytes(blob, swapped);

        // Caught by the chunk's own tag (index bound in), not only by the whole-file hash at the end.
        var e = await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
        Assert.Contains("chunk 0 of 6 failed authentication", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DroppedChunkIsRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "several.bin");
        var bytes = File.ReadAllBytes(blob);
        const int c = Chunk + TagSize;
        File.WriteAllBytes(blob, [.. bytes[..c], .. bytes[(2 * c)..]]);

        var e = await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
        Assert.Contains("expected", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DroppedChunkWithManifestEditedToMatchIsRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "several.bin");
        var bytes = File.ReadAllBytes(blob);
        const int c = Chunk + TagSize;
        File.WriteAllBytes(blob, bytes[..^c]); // drop the final chunk ...
        EditManifest(sealedDir, m =>             // ... and shorten the file in sealed.json to hide it
        {
            var f = m["files"]!.AsArray().Single(x => x!["path"]!.GetValue<string>() == "several.bin")!;
            f["bytes"] = (Chunk * 5);
            f["chunks"] = 5;
        });

        await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task TruncatedLastChunkIsRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "chunk-plus-one.bin");
        var bytes = File.ReadAllBytes(blob);
        File.WriteAllBytes(blob, bytes[..^1]);

        await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task AppendedChunkIsRefused()
    {
        var sealedDir = await Sealed();
        var blob = BlobOf(sealedDir, "chunk.bin");
        var bytes = File.ReadAllBytes(blob);
        File.WriteAllBytes(blob, [.. bytes, .. bytes]);

        await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task ChunkSwappedBetweenTwoFilesIsRefused()
    {
        var sealedDir = await Sealed();
        var a = BlobOf(sealedDir, "several.bin");
        var b = BlobOf(sealedDir, "twin.bin");
        var bytesA = File.ReadAllBytes(a);
        var bytesB = File.ReadAllBytes(b);
        const int c = Chunk + TagSize;
        File.WriteAllBytes(a, [.. bytesB[..c], .. bytesA[c..]]);

        var e = await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
        Assert.Contains("chunk 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WholeBlobsSwappedBetweenFilesOfEqualSizeAreRefused()
    {
        var sealedDir = await Sealed();
        var a = BlobOf(sealedDir, "several.bin");
        var b = BlobOf(sealedDir, "twin.bin");
        File.Move(a, a + ".tmp");
        File.Move(b, a);
        File.Move(a + ".tmp", b);

        await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task ChunkFromAnotherSealOfTheSameFilesIsRefused()
    {
        var first = await Sealed();
        var second = _dir.Sub("sealed2");
        Assert.True((await WeightsSealer.SealAsync(_dir.Sub("src"), second, [_alicePub], new SealOptions { ChunkSize = Chunk }, null, CancellationToken.None)).IsOk);
        File.Copy(BlobOf(second, "one.bin"), BlobOf(first, "one.bin"), overwrite: true);

        await UnsealFails(first, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task WrongIdentityIsRefused()
    {
        var sealedDir = await Sealed();
        await UnsealFails(sealedDir, WeightsErrorKind.NoKeyForIdentity, _bobKey);
    }

    [Fact]
    public async Task WrongIdentityClaimingTheGranteesKeyIdIsRefused()
    {
        var sealedDir = await Sealed();
        var bobPub = KeyFiles.ReadPublic(_dir.Sub("bob.pub")).Value;
        EditManifest(sealedDir, m => m["recipients"]![0]!["keyId"] = KeyFiles.KeyId(bobPub));

        await UnsealFails(sealedDir, WeightsErrorKind.KeyUnwrapFailed, _bobKey);
    }

    [Fact]
    public async Task RenamedFileInSealedManifestIsRefused()
    {
        var sealedDir = await Sealed();
        EditManifest(sealedDir, m => m["files"]![0]!["path"] = "renamed.bin");

        var e = await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
        Assert.Contains("sealed.json", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FileRemovedFromSealedManifestIsRefused()
    {
        var sealedDir = await Sealed();
        EditManifest(sealedDir, m => m["files"]!.AsArray().RemoveAt(0));

        await UnsealFails(sealedDir, WeightsErrorKind.Tampered);
    }

    [Fact]
    public async Task PathTraversalInSealedManifestIsRefusedBeforeDecrypting()
    {
        var sealedDir = await Sealed();
        EditManifest(sealedDir, m => m["files"]![0]!["path"] = "../escape.bin");

        await UnsealFails(sealedDir, WeightsErrorKind.InvalidSealedManifest);
        Assert.False(File.Exists(_dir.Sub("escape.bin")));
    }

    [Fact]
    public async Task GarbageSealedManifestIsRefused()
    {
        var sealedDir = await Sealed();
        File.WriteAllText(Path.Combine(sealedDir, WeightsSealer.ManifestFileName), "{\"format\": 1");

        await UnsealFails(sealedDir, WeightsErrorKind.InvalidSealedManifest);
    }

    [Fact]
    public async Task ExistingOutputIsNeverOverwritten()
    {
        var sealedDir = await Sealed();
        var outDir = _dir.Sub("out");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "mine");

        var result = await WeightsSealer.UnsealAsync(sealedDir, _aliceKey, outDir, null, CancellationToken.None);

        Assert.Equal(WeightsErrorKind.OutputExists, result.Error!.Kind);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(outDir, "keep.txt")));
    }

    [Fact]
    public async Task SealingTheSameDirectoryTwiceGivesDifferentCiphertextButTheSameDigest()
    {
        var first = await Sealed();
        var second = _dir.Sub("sealed2");
        var result = await WeightsSealer.SealAsync(_dir.Sub("src"), second, [_alicePub], new SealOptions { ChunkSize = Chunk }, null, CancellationToken.None);

        Assert.Equal(WeightsSealer.ReadManifest(first).Value.ManifestDigest, result.Value.ManifestDigest);
        Assert.NotEqual(File.ReadAllBytes(BlobOf(first, "several.bin")), File.ReadAllBytes(BlobOf(second, "several.bin")));
    }

    [Fact]
    public async Task SealWithDefaultChunkSizeRoundTripsTheSampleModel()
    {
        SampleWeights.Write(_dir.Sub("sample"));
        var sealedDir = _dir.Sub("sample-sealed");
        var outDir = _dir.Sub("sample-out");

        var sealedResult = await WeightsSealer.SealAsync(_dir.Sub("sample"), sealedDir, [_alicePub], null, null, CancellationToken.None);
        var opened = await WeightsSealer.UnsealAsync(sealedDir, _aliceKey, outDir, null, CancellationToken.None);

        Assert.True(opened.IsOk, opened.Error?.ToString());
        Assert.Equal(SealOptions.DefaultChunkSize, sealedResult.Value.ChunkSize);
        Assert.Equal((await ManifestBuilder.BuildAsync(_dir.Sub("sample"), null, CancellationToken.None)).Value.Digest, opened.Value.Digest);
    }

    [Fact]
    public async Task SealRefusesAnExistingOutputAndLeavesNoTemporaryDirectory()
    {
        Directory.CreateDirectory(_dir.Sub("sealed"));
        var result = await WeightsSealer.SealAsync(Source(), _dir.Sub("sealed"), [_alicePub], null, null, CancellationToken.None);

        Assert.Equal(WeightsErrorKind.OutputExists, result.Error!.Kind);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(_dir.Path), e => Path.GetFileName(e).StartsWith(".sealed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SealWithABadRecipientFileFailsNamingTheFile()
    {
        var bad = _dir.File("bad.pub", "not a key"u8.ToArray());
        var result = await WeightsSealer.SealAsync(Source(), _dir.Sub("sealed"), [bad], null, null, CancellationToken.None);

        Assert.Equal(WeightsErrorKind.InvalidKeyFile, result.Error!.Kind);
        Assert.Equal(bad, result.Error.File);
        Assert.False(Directory.Exists(_dir.Sub("sealed")));
    }

    private static void EditManifest(string sealedDir, Action<JsonNode> edit)
    {
        var path = Path.Combine(sealedDir, WeightsSealer.ManifestFileName);
        var node = JsonNode.Parse(File.ReadAllText(path))!;
        edit(node);
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
