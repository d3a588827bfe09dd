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
        Assert.Equal(4, map.Count);
    }
}
