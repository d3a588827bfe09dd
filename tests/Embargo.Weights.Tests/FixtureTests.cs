using System.Text.Json;

namespace Embargo.Weights.Tests;

/// <summary>The readers against files written independently by fixtures/make_fixtures.py (python stdlib only).</summary>
public class FixtureTests
{
    private static readonly JsonElement Expected = JsonDocument.Parse(File.ReadAllText(Fixtures.PathOf("expected.json"))).RootElement;

    public static TheoryData<string> ParsedFiles() =>
    [
        "tiny.safetensors", "v3.gguf", "v2.gguf",
        "sharded/model-00001-of-00002.safetensors", "sharded/model-00002-of-00002.safetensors",
    ];

    public static TheoryData<string> AllFiles()
    {
        var data = new TheoryData<string>();
        foreach (var p in Expected.GetProperty("files").EnumerateObject()) data.Add(p.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(AllFiles))]
    public async Task InspectAgreesWithPythonOnBytesHashAndFormat(string relative)
    {
        var expected = Expected.GetProperty("files").GetProperty(relative);
        var result = await ManifestBuilder.BuildAsync(Fixtures.PathOf(relative), null, CancellationToken.None);

        Assert.True(result.IsOk, result.Error?.ToString());
        var file = Assert.Single(result.Value.Files);
        Assert.Equal(Path.GetFileName(relative), file.Path);
        Assert.Equal(expected.GetProperty("bytes").GetInt64(), file.Bytes);
        Assert.Equal(expected.GetProperty("sha256").GetString(), file.Sha256);
        Assert.Equal(expected.GetProperty("format").GetString(), file.Format);
    }

    [Theory]
    [MemberData(nameof(ParsedFiles))]
    public async Task InspectAgreesWithPythonOnTensorsParametersAndDtypes(string relative)
    {
        var expected = Expected.GetProperty("files").GetProperty(relative);
        var result = await ManifestBuilder.BuildAsync(Fixtures.PathOf(relative), null, CancellationToken.None);

        Assert.True(result.IsOk, result.Error?.ToString());
        var file = Assert.Single(result.Value.Files);
        Assert.Equal(expected.GetProperty("tensors").GetInt32(), file.Tensors);
        Assert.Equal(expected.GetProperty("parameters").GetInt64(), file.Parameters);
        Assert.Equal(expected.GetProperty("parameters").GetInt64(), result.Value.Parameters);
        var dtypes = expected.GetProperty("dtypes").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(dtypes.OrderBy(p => p.Key, StringComparer.Ordinal), file.Dtypes!.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("v3.gguf")]
    [InlineData("v2.gguf")]
    [InlineData("tiny.safetensors")]
    public void MetadataOfEveryTypeReadsAsPythonWroteIt(string relative)
    {
        var expected = Expected.GetProperty("files").GetProperty(relative);
        var header = relative.EndsWith(".gguf", StringComparison.Ordinal)
            ? GgufReader.Read(Fixtures.PathOf(relative))
            : SafetensorsReader.Read(Fixtures.PathOf(relative));

        Assert.True(header.IsOk, header.Error?.ToString());
        foreach (var kv in expected.GetProperty("metadata").EnumerateObject())
        {
            Assert.True(header.Value.Metadata.TryGetValue(kv.Name, out var actual), $"missing {kv.Name}");
            Assert.Equal(kv.Value.GetString(), actual);
        }
        if (expected.TryGetProperty("version", out var version))
        {
            Assert.Equal(version.GetInt32(), header.Value.Version);
        }
    }

    [Fact]
    public void GgufMetadataTypesAreReported()
    {
        var header = GgufReader.Read(Fixtures.PathOf("v3.gguf")).Value;

        Assert.Equal("UINT64", header.MetadataTypes["test.u64"]);
        Assert.Equal("ARRAY[STRING]", header.MetadataTypes["test.array.strings"]);
        Assert.Equal("ARRAY[ARRAY[INT16]]", header.MetadataTypes["test.array.nested"]);
        Assert.Equal(20, header.MetadataTypes.Count);
    }

    [Fact]
    public void GgufTensorInfosCarryShapeTypeAndAlignedAbsoluteOffsets()
    {
        var header = GgufReader.Read(Fixtures.PathOf("v2.gguf")).Value;

        Assert.Equal(0, header.DataStart % 64);
        var q4k = header.Tensors.Single(t => t.Name == "blk.0.ffn_up.weight");
        Assert.Equal("Q4_K", q4k.Dtype);
        Assert.Equal([256L, 2L], q4k.Shape);
        Assert.Equal(2 * 144, q4k.ByteLength);
        Assert.All(header.Tensors, t => Assert.Equal(0, (t.DataOffset - header.DataStart) % 64));
        Assert.True(header.Tensors.Max(t => t.DataOffset + t.ByteLength) <= new FileInfo(Fixtures.PathOf("v2.gguf")).Length);
    }

    [Fact]
    public void SafetensorsScalarAndEmptyTensorsAreCountedCorrectly()
    {
        var header = SafetensorsReader.Read(Fixtures.PathOf("tiny.safetensors")).Value;

        Assert.Equal(1, header.Tensors.Single(t => t.Name == "scale").Elements);
        Assert.Empty(header.Tensors.Single(t => t.Name == "scale").Shape);
        Assert.Equal(0, header.Tensors.Single(t => t.Name == "empty").Elements);
    }

    [Fact]
    public async Task ShardedModelCountsEachTensorOnceAndMatchesPythonDigest()
    {
        var expected = Expected.GetProperty("directories").GetProperty("sharded");
        var result = await ManifestBuilder.BuildAsync(Fixtures.PathOf("sharded"), null, CancellationToken.None);

        Assert.True(result.IsOk, result.Error?.ToString());
        Assert.Equal(expected.GetProperty("digest").GetString(), result.Value.Digest);
        Assert.Equal(expected.GetProperty("parameters").GetInt64(), result.Value.Parameters);
        Assert.Equal(expected.GetProperty("files").GetInt32(), result.Value.Files.Count);
        var index = result.Value.Files.Single(f => f.Path == "model.safetensors.index.json");
        Assert.True(index.IsShardIndex);
        Assert.Equal("other", index.Format);
        Assert.Null(index.Parameters);
        Assert.Contains(result.Value.Files, f => f.Path == "tokenizer/vocab.txt");
    }

    [Fact]
    public async Task FilesAreListedInUtf8ByteOrderWithForwardSlashes()
    {
        var result = await ManifestBuilder.BuildAsync(Fixtures.PathOf("sharded"), null, CancellationToken.None);

        var paths = result.Value.Files.Select(f => f.Path).ToList();
        Assert.Equal(paths.OrderBy(p => p, StringComparer.Ordinal), paths);
        Assert.All(paths, p => Assert.DoesNotContain('\\', p));
    }

    [Fact]
    public async Task ATensorRepeatedAcrossIndexedShardsIsCountedOnceButUnindexedFilesStillCount()
    {
        using var dir = new TempDir();
        var x = ("x", "F32", new long[] { 4 }, new byte[16]);
        var y = ("y", "F32", new long[] { 2 }, new byte[8]);
        dir.File("sub/model-00001-of-00002.safetensors", SampleWeights.Safetensors([x, y], null));
        dir.File("sub/model-00002-of-00002.safetensors", SampleWeights.Safetensors([x], null));
        dir.File("sub/model.safetensors.index.json", """{"weight_map":{"x":"model-00002-of-00002.safetensors","y":"model-00001-of-00002.safetensors"}}"""u8.ToArray());
        dir.File("other.safetensors", SampleWeights.Safetensors([x], null));

        var result = await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None);

        Assert.True(result.IsOk, result.Error?.ToString());
        Assert.Equal(["sub/model-00001-of-00002.safetensors", "sub/model-00002-of-00002.safetensors"], result.Value.Files.Single(f => f.IsShardIndex).IndexedShards);
        // the indexed model: x (in both shards, counted once) + y = 6; other.safetensors is another file: 4
        Assert.Equal(6 + 4, result.Value.Parameters);
        Assert.Equal(4 + 2 + 4 + 4, result.Value.Files.Sum(f => f.Parameters ?? 0));
    }
}
