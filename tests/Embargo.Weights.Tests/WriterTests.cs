namespace Embargo.Weights.Tests;

public class WriterTests
{
    private static float[] Values(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2) - 1) * 0.3f).ToArray();
    }

    private static float[] ReadAll(string path, TensorInfo tensor)
    {
        var values = new List<float>();
        using var stream = File.OpenRead(path);
        new TensorValues().Stream(stream, tensor, chunk => values.AddRange(chunk.ToArray()));
        return values.ToArray();
    }

    [Fact]
    public void Q8BlocksDequantiseWithinHalfAStepOfGgmlScale()
    {
        var x = Values(32 * 64, 1);
        var q = new byte[TensorValues.BytesFor("Q8_0", x.Length)];
        TensorValues.Encode("Q8_0", x, q);
        var back = new float[x.Length];
        TensorValues.Decode("Q8_0", q, back);
        for (var b = 0; b < x.Length; b += 32)
        {
            var d = x.Skip(b).Take(32).Max(MathF.Abs) / 127f;
            for (var j = b; j < b + 32; j++)
            {
                // Half a step, plus what rounding the scale to f16 moves the largest code (127 · 2^-11 · d).
                Assert.True(MathF.Abs(x[j] - back[j]) <= (0.5f * d) + (127f * d / 2048f) + 1e-7f, $"element {j}: {x[j]} → {back[j]} (d {d})");
            }
        }
    }

    [Fact]
    public void Q4BlocksDequantiseWithinOneStepOfGgmlScaleAndKeepTheLargestValueExactly()
    {
        var x = Values(32 * 64, 2);
        var q = new byte[TensorValues.BytesFor("Q4_0", x.Length)];
        TensorValues.Encode("Q4_0", x, q);
        var back = new float[x.Length];
        TensorValues.Decode("Q4_0", q, back);
        for (var b = 0; b < x.Length; b += 32)
        {
            var block = x.Skip(b).Take(32).ToArray();
            var max = block.OrderByDescending(MathF.Abs).First();
            var d = MathF.Abs(max / -8f);
            for (var j = 0; j < 32; j++)
            {
                // q = min(15, ⌊x/d + 8.5⌋): half a step inside the range, one step at the clamped end, plus the f16 scale's rounding.
                Assert.True(MathF.Abs(block[j] - back[b + j]) <= d + (8f * d / 2048f) + 1e-7f, $"element {b + j}: {block[j]} → {back[b + j]} (d {d})");
            }
            var at = Array.IndexOf(block, max);
            Assert.True(MathF.Abs(max - back[b + at]) <= 8f * d / 2048f + 1e-7f);
        }
    }

    [Fact]
    public void Q4NibblesHoldElementsZeroToFifteenLowAndSixteenToThirtyOneHigh()
    {
        var x = new float[32];
        x[0] = -8f; // the largest magnitude: d = -8 / -8 = 1, q = x/d + 8
        x[1] = 1f;
        x[16] = 2f;
        var q = new byte[18];
        TensorValues.Encode("Q4_0", x, q);
        Assert.Equal((Half)1f, BitConverter.UInt16BitsToHalf(BitConverter.ToUInt16(q, 0)));
        Assert.Equal(0 | (10 << 4), q[2]);       // element 0: -8 → 0 (low); element 16: 2 → 10 (high)
        Assert.Equal(9 | (8 << 4), q[3]);        // element 1: 1 → 9 (low); element 17: 0 → 8 (high)
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    [InlineData("Q8_0")]
    [InlineData("Q4_0")]
    public void WhatTheGgufWriterWritesTheGgufReaderReadsBackWithShapesReversed(string dtype)
    {
        using var dir = new TempDir();
        var x = Values(64 * 96, 3);
        var y = Values(96, 4);
        var plans = new List<TensorPlan> { new("blk.0.w", dtype, [64, 96]), new("blk.0.norm", "F32", [96]) };
        var path = dir.Sub("t.gguf");
        using (var file = File.Create(path))
        {
            GgufWriter.Write(file, plans, new Dictionary<string, string> { ["general.name"] = "test" }, (i, sink) => sink(i == 0 ? x : y));
        }
        var header = GgufReader.Read(path);
        Assert.True(header.IsOk, header.Error?.ToString());
        Assert.Equal("test", header.Value.Metadata["general.name"]);
        var w = header.Value.Tensors.Single(t => t.Name == "blk.0.w");
        Assert.Equal(dtype, w.Dtype);
        Assert.Equal([96L, 64L], w.Shape);
        var norm = header.Value.Tensors.Single(t => t.Name == "blk.0.norm");
        Assert.Equal(y, ReadAll(path, norm));
        var expected = new float[x.Length];
        var encoded = new byte[TensorValues.BytesFor(dtype, x.Length)];
        TensorValues.Encode(dtype, x, encoded);
        TensorValues.Decode(dtype, encoded, expected);
        Assert.Equal(expected, ReadAll(path, w));
    }

    [Fact]
    public async Task TheConverterReshardsRenamesAndCastsSafetensorsThatTheReaderAccepts()
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Sub("sample"));
        var written = WeightsConverter.Convert(dir.Sub("sample"), dir.Sub("out"), new ConvertOptions { Target = "safetensors", Dtype = "BF16", Shards = 3, Rename = true });
        Assert.True(written.IsOk, written.Error?.ToString());
        Assert.Equal(["part-1.safetensors", "part-2.safetensors", "part-3.safetensors", "model.safetensors.index.json"], written.Value);
        var manifest = await ManifestBuilder.BuildAsync(dir.Sub("out"), null, default);
        Assert.True(manifest.IsOk, manifest.Error?.ToString());
        Assert.Equal(SampleWeights.Parameters, manifest.Value.Parameters);
        var tensors = manifest.Value.Files.Where(f => f.Header is not null).SelectMany(f => f.Header!.Tensors).ToList();
        Assert.All(tensors, t => Assert.Equal("BF16", t.Dtype));
        Assert.All(tensors, t => Assert.StartsWith("tensor.", t.Name, StringComparison.Ordinal));
        Assert.Equal(ShardIndex.Read(dir.Sub("out/model.safetensors.index.json"), "index").Value.Count, tensors.Count);
    }

    [Fact]
    public void TheConverterRefusesAnOutputDirectoryThatIsNotEmpty()
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Sub("sample"));
        dir.File("out/keep.txt", [1]);
        var result = WeightsConverter.Convert(dir.Sub("sample"), dir.Sub("out"), new ConvertOptions { Target = "gguf-q8_0" });
        Assert.Equal(WeightsErrorKind.OutputExists, result.Error?.Kind);
        Assert.Single(Directory.GetFiles(dir.Sub("out")));
    }
}
