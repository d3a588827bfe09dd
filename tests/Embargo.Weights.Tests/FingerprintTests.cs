namespace Embargo.Weights.Tests;

public class FingerprintTests
{
    private static float[] Normal(int n, int seed, float sigma = 0.05f)
    {
        var random = new Random(seed);
        var values = new float[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())) * sigma;
        }
        return values;
    }

    private static double CosineOf(TensorFingerprint a, TensorFingerprint b) => TensorFingerprint.Cosine(a.Centred(), b.Centred());

    [Theory]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(4096)]
    [InlineData(5000)]
    [InlineData(65_536)]
    public void ChunkedInputGivesTheSameFingerprintAsWholeInput(int chunk)
    {
        var values = Normal(300_001, 1);
        var whole = TensorFingerprint.Of(values);
        var builder = new TensorFingerprint.Builder(values.Length);
        for (var i = 0; i < values.Length; i += chunk)
        {
            builder.Add(values.AsSpan(i, Math.Min(chunk, values.Length - i)));
        }
        var chunked = builder.Build();
        Assert.Equal(whole.Sketch, chunked.Sketch);
        Assert.Equal(whole.Sum, chunked.Sum);
        Assert.Equal(whole.SumSquares, chunked.SumSquares);
    }

    [Fact]
    public void TheSameValuesUnderAnotherNameAndContainerGiveTheSameFingerprint()
    {
        using var dir = new TempDir();
        var values = Normal(64 * 64, 2);
        var f16 = new byte[values.Length * 2];
        TensorValues.Encode("F16", values, f16);
        var exact = new float[values.Length];
        TensorValues.Decode("F16", f16, exact);
        dir.File("a/model.safetensors", SampleWeights.Safetensors([("model.layers.0.w", "F16", [64L, 64L], f16)], null));
        var f32 = new byte[values.Length * 4];
        TensorValues.Encode("F32", exact, f32);
        dir.File("b/renamed.safetensors", SampleWeights.Safetensors([("x", "F32", [64L, 64L], f32)], null));
        Assert.True(WeightsConverter.Convert(dir.Sub("a"), dir.Sub("c"), new ConvertOptions { Target = "gguf-f16", Rename = true }).IsOk);

        var a = Assert.Single(Fingerprints.Compute(dir.Sub("a")).Value).Fingerprint;
        var b = Assert.Single(Fingerprints.Compute(dir.Sub("b")).Value).Fingerprint;
        var c = Assert.Single(Fingerprints.Compute(dir.Sub("c")).Value);
        Assert.Equal("tensor.0000", c.Name);
        Assert.Equal(a.Sketch, b.Sketch);
        Assert.Equal(a.Sketch, c.Fingerprint.Sketch);
        Assert.True(TensorFingerprint.SameValues(a, c.Fingerprint));
    }

    [Fact]
    public void UnrelatedValuesOfTheSameShapeAreFarBelowTheMatchThreshold()
    {
        var a = TensorFingerprint.Of(Normal(256 * 256, 3));
        for (var seed = 10; seed < 40; seed++)
        {
            var b = TensorFingerprint.Of(Normal(256 * 256, seed));
            Assert.True(Math.Abs(CosineOf(a, b)) < 0.4, $"seed {seed}: cosine {CosineOf(a, b)}");
            Assert.False(TensorFingerprint.SameValues(a, b));
        }
    }

    [Fact]
    public void AConstantTensorIsUninformativeAndMatchesNothing()
    {
        var ones = new float[4096];
        Array.Fill(ones, 1f);
        var constant = TensorFingerprint.Of(ones);
        Assert.False(constant.Informative);
        Assert.Null(FingerprintMatcher.Match([constant], [constant]));
    }

    [Fact]
    public void AnOffsetCopyStillMatchesBecauseTheSketchIsCentred()
    {
        var values = Normal(128 * 128, 4);
        var shifted = values.Select(v => v + 0.5f).ToArray();
        Assert.True(CosineOf(TensorFingerprint.Of(values), TensorFingerprint.Of(shifted)) > 0.999);
    }

    [Fact]
    public void QuantisedValuesMatchAsQuantisedAndExactValuesAsReserialised()
    {
        var registered = new[] { Normal(256 * 256, 5), Normal(512 * 256, 6) }.Select(v => TensorFingerprint.Of(v)).ToList();
        var same = new[] { Normal(512 * 256, 6), Normal(256 * 256, 5) }.Select(v => TensorFingerprint.Of(v)).ToList();
        var exact = FingerprintMatcher.Match(registered, same)!;
        Assert.Equal(FingerprintMatcher.Reserialised, exact.Kind);
        Assert.Equal(1.0, exact.TensorsMatched);
        Assert.True(exact.Similarity > 0.99999);

        var quantised = new[] { Normal(256 * 256, 5), Normal(512 * 256, 6) }.Select(v =>
        {
            var q = new byte[TensorValues.BytesFor("Q4_0", v.Length)];
            TensorValues.Encode("Q4_0", v, q);
            var back = new float[v.Length];
            TensorValues.Decode("Q4_0", q, back);
            return TensorFingerprint.Of(back);
        }).ToList();
        var match = FingerprintMatcher.Match(registered, quantised)!;
        Assert.Equal(FingerprintMatcher.Quantised, match.Kind);
        Assert.Equal(1.0, match.TensorsMatched);
        Assert.InRange(match.Similarity, 0.95, 0.99999);

        var unrelated = new[] { Normal(256 * 256, 7), Normal(512 * 256, 8) }.Select(v => TensorFingerprint.Of(v)).ToList();
        Assert.Null(FingerprintMatcher.Match(registered, unrelated));
    }

    [Fact]
    public void ASketchSurvivesBase64AndAMalformedOneIsRefused()
    {
        var f = TensorFingerprint.Of(Normal(1024, 9));
        Assert.Equal(f.Sketch, TensorFingerprint.ParseSketch(f.SketchBase64));
        Assert.Null(TensorFingerprint.ParseSketch("AAAA"));
        Assert.Null(TensorFingerprint.ParseSketch(Convert.ToBase64String(BitConverter.GetBytes(float.NaN).Concat(new byte[1020]).ToArray())));
    }
    [Theory]
    [InlineData("gguf-f16", null, 1, false, "reserialised")]
    [InlineData("gguf-q8_0", null, 1, true, "quantised")]
    [InlineData("gguf-q4_0", null, 1, false, "quantised")]
    [InlineData("safetensors", null, 3, true, "reserialised")]
    [InlineData("safetensors", "BF16", 1, false, "reserialised")]
    [InlineData("safetensors", "F32", 5, true, "reserialised")]
    public void EveryConversionOfTheSampleMatchesItAndSaysHow(string target, string? dtype, int shards, bool rename, string kind)
    {
        using var dir = new TempDir();
        SampleWeights.Write(dir.Sub("sample"));
        var converted = WeightsConverter.Convert(dir.Sub("sample"), dir.Sub("copy"), new ConvertOptions { Target = target, Dtype = dtype, Shards = shards, Rename = rename });
        Assert.True(converted.IsOk, converted.Error?.ToString());
        var registered = Fingerprints.Compute(dir.Sub("sample")).Value.Select(f => f.Fingerprint).ToList();
        var seen = Fingerprints.Compute(dir.Sub("copy")).Value.Select(f => f.Fingerprint).ToList();
        var match = FingerprintMatcher.Match(registered, seen)!;
        Assert.Equal(kind, match.Kind);
        Assert.Equal(1.0, match.TensorsMatched);
        Assert.Equal(6, match.Informative);
        Assert.InRange(match.Similarity, kind == "reserialised" ? 0.99999 : 0.99, 1.0);
    }
}
