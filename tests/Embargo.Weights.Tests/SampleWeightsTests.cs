namespace Embargo.Weights.Tests;

public class SampleWeightsTests
{
    [Fact]
    public async Task SampleIsDeterministicShardedAndLabelledAsASample()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        SampleWeights.Write(a.Path);
        SampleWeights.Write(b.Path);

        var ma = await ManifestBuilder.BuildAsync(a.Path, null, CancellationToken.None);
        var mb = await ManifestBuilder.BuildAsync(b.Path, null, CancellationToken.None);

        Assert.True(ma.IsOk, ma.Error?.ToString());
        Assert.Equal(ma.Value.Digest, mb.Value.Digest);
        Assert.Equal(SampleWeights.Parameters, ma.Value.Parameters);
        Assert.Equal(2, ma.Value.Files.Count(f => f.Format == "safetensors"));
        Assert.Contains(ma.Value.Files, f => f.IsShardIndex);
        Assert.Contains("SAMPLE — not a real model", File.ReadAllText(Path.Combine(a.Path, "config.json")), StringComparison.Ordinal);
        var shard = SafetensorsReader.Read(Path.Combine(a.Path, "model-00001-of-00002.safetensors")).Value;
        Assert.Contains("SAMPLE", shard.Metadata["note"], StringComparison.Ordinal);
    }

    [Fact]
    public void SampleIndexNamesEveryTensorOfEveryShard()
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Path);
        var map = ShardIndex.Read(Path.Combine(dir.Path, "model.safetensors.index.json"), "index").Value;
        foreach (var (tensor, shard) in map)
        {
            var header = SafetensorsReader.Read(Path.Combine(dir.Path, shard)).Value;
            Assert.Contains(header.Tensors, t => t.Name == tensor);
        }
        Assert.Equal(8, map.Count);
    }

    [Fact]
    public async Task SampleRowsAreWholeGgmlBlocksAndEveryValueIsExactInF16AndBF16()
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Path);
        var manifest = (await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None)).Value;
        Assert.InRange(manifest.TotalBytes, 1L << 20, 4L << 20);
        foreach (var file in manifest.Files.Where(f => f.Header is not null))
        {
            using var stream = File.OpenRead(Path.Combine(dir.Path, file.Path));
            foreach (var tensor in file.Header!.Tensors)
            {
                Assert.Equal(0, tensor.Shape[^1] % 32);
                new TensorValues().Stream(stream, tensor, values =>
                {
                    foreach (var v in values)
                    {
                        Assert.Equal(v, (float)(Half)v);
                        Assert.Equal(v, BitConverter.UInt32BitsToSingle((uint)TensorValues.ToBFloat16(v) << 16));
                    }
                });
            }
        }
    }

    [Fact]
    public void AnotherSeedGivesTheSameShapesAndUnrelatedValues()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        SampleWeights.Write(a.Path);
        SampleWeights.Write(b.Path, seed: 42);
        var fa = Fingerprints.Compute(a.Path).Value;
        var fb = Fingerprints.Compute(b.Path).Value;
        Assert.Equal(fa.Select(f => (f.Name, f.Fingerprint.Elements)), fb.Select(f => (f.Name, f.Fingerprint.Elements)));
        Assert.Null(FingerprintMatcher.Match(fa.Select(f => f.Fingerprint).ToList(), fb.Select(f => f.Fingerprint).ToList()));
        Assert.Equal(FingerprintMatcher.Reserialised, FingerprintMatcher.Match(fa.Select(f => f.Fingerprint).ToList(), fa.Select(f => f.Fingerprint).ToList())!.Kind);
    }
}
