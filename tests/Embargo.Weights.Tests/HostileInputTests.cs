using System.Text;

namespace Embargo.Weights.Tests;

/// <summary>Every kind of bad input gives one typed error naming the file, never an exception.</summary>
public class HostileInputTests
{
    private static WeightsError ReadFails(string name, byte[] bytes, WeightsErrorKind kind)
    {
        using var dir = new TempDir();
        var path = dir.File(name, bytes);
        var result = name.EndsWith(".gguf", StringComparison.Ordinal) ? GgufReader.Read(path, name) : SafetensorsReader.Read(path, name);
        Assert.False(result.IsOk, "expected a failure");
        Assert.Equal(kind, result.Error.Kind);
        Assert.Equal(name, result.Error.File);
        var line = result.Error.ToString();
        Assert.StartsWith(name + ": ", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
        return result.Error;
    }

    private const string OneTensor = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    [Fact]
    public void ValidHandWrittenSafetensorsIsAccepted()
    {
        using var dir = new TempDir();
        var result = SafetensorsReader.Read(dir.File("ok.safetensors", Fixtures.Safetensors(OneTensor, 8)));
        Assert.True(result.IsOk, result.Error?.ToString());
        Assert.Equal(2, result.Value.Parameters);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void SafetensorsShorterThanTheLengthFieldIsTruncated(int size) =>
        ReadFails("short.safetensors", new byte[size], WeightsErrorKind.Truncated);

    [Fact]
    public void SafetensorsHeaderLengthPastEndOfFileIsRefused()
    {
        var bytes = Fixtures.Safetensors(OneTensor, 8);
        bytes[0] = 200; // header claims 200 bytes, file has fewer
        var e = ReadFails("past.safetensors", bytes[..60], WeightsErrorKind.HeaderPastEndOfFile);
        Assert.Contains("past the end", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedSafetensorsDataIsReportedAsOffsetsPastTheData()
    {
        var bytes = Fixtures.Safetensors(OneTensor, 8);
        ReadFails("cut.safetensors", bytes[..^3], WeightsErrorKind.OffsetOutOfRange);
    }

    [Fact]
    public void HundredMegabyteHeaderIsRefusedWithTheLimitNamedAndWithoutReadingIt()
    {
        using var dir = new TempDir();
        var path = dir.Sub("huge.safetensors");
        using (var f = new FileStream(path, FileMode.CreateNew))
        {
            f.Write(BitConverter.GetBytes(100_000_000UL));
            f.WriteByte((byte)'{');
            f.SetLength(8 + 100_000_000L); // sparse: really 100 MB long
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = SafetensorsReader.Read(path, "huge.safetensors");
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(WeightsErrorKind.HeaderTooLarge, result.Error!.Kind);
        Assert.Contains("64 MiB", result.Error.Message, StringComparison.Ordinal);
        Assert.Contains("100000000", result.Error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes");
    }

    [Fact]
    public void HeaderLengthNearULongMaxIsRefusedAsTooLarge()
    {
        var bytes = Fixtures.Safetensors(OneTensor, 8);
        BitConverter.GetBytes(ulong.MaxValue).CopyTo(bytes, 0);
        ReadFails("max.safetensors", bytes, WeightsErrorKind.HeaderTooLarge);
    }

    [Fact]
    public void NonUtf8HeaderIsRefused()
    {
        var header = Encoding.UTF8.GetBytes("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        header[4] = 0xFF;
        ReadFails("latin1.safetensors", Fixtures.Safetensors(header, 8), WeightsErrorKind.InvalidUtf8);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}")]
    public void DuplicateJsonKeysAreRefused(string header)
    {
        var e = ReadFails("dup.safetensors", Fixtures.Safetensors(header, 8), WeightsErrorKind.DuplicateKey);
        Assert.Contains("duplicate", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MalformedJsonIsRefused() =>
        ReadFails("bad.safetensors", Fixtures.Safetensors("{\"a\":{\"dtype\":", 8), WeightsErrorKind.InvalidJson);

    [Fact]
    public void OverlappingOffsetsAreRefused() => ReadFails("overlap.safetensors", Fixtures.Safetensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
        WeightsErrorKind.OffsetsOverlap);

    [Fact]
    public void OffsetsLeavingAGapAreRefused() => ReadFails("gap.safetensors", Fixtures.Safetensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20),
        WeightsErrorKind.OffsetsLeaveGap);

    [Fact]
    public void TrailingBytesNotCoveredByAnyTensorAreAGap() =>
        ReadFails("tail.safetensors", Fixtures.Safetensors(OneTensor, 12), WeightsErrorKind.OffsetsLeaveGap);

    [Fact]
    public void OffsetsPastTheDataAreRefused() => ReadFails("past-data.safetensors", Fixtures.Safetensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1000000000000,1000000000008]}}", 8),
        WeightsErrorKind.OffsetOutOfRange);

    [Fact]
    public void OffsetsThatDisagreeWithShapeAreRefused() => ReadFails("size.safetensors", Fixtures.Safetensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), WeightsErrorKind.InvalidHeader);

    [Fact]
    public void ShapeWhoseElementCountOverflowsIsRefused() => ReadFails("overflow.safetensors", Fixtures.Safetensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8), WeightsErrorKind.InvalidHeader);

    [Fact]
    public void UnknownDtypeIsRefused() => ReadFails("dtype.safetensors", Fixtures.Safetensors(
        "{\"a\":{\"dtype\":\"F13\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), WeightsErrorKind.UnsupportedDtype);

    // ---------------------------------------------------------------- GGUF

    private static GgufBuilder OneTensorGguf(uint version = 3) =>
        GgufBuilder.Header(version, 1, 1)
            .Str("general.architecture").U32(8).Str("llama")
            .Str("t").U32(1).U64(4).U32(0).U64(0)
            .Pad(32).Zeros(16);

    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    public void ValidHandWrittenGgufIsAccepted(uint version)
    {
        using var dir = new TempDir();
        var result = GgufReader.Read(dir.File("ok.gguf", OneTensorGguf(version).Bytes()));
        Assert.True(result.IsOk, result.Error?.ToString());
        Assert.Equal(4, result.Value.Parameters);
    }

    [Fact]
    public void TruncatedGgufIsRefused()
    {
        var bytes = OneTensorGguf().Bytes();
        ReadFails("cut.gguf", bytes[..20], WeightsErrorKind.Truncated);
        ReadFails("cutdata.gguf", bytes[..^1], WeightsErrorKind.OffsetOutOfRange);
        ReadFails("cutstring.gguf", bytes[..40], WeightsErrorKind.AbsurdLength);
    }

    [Fact]
    public void GgufWithBadMagicIsRefused() =>
        ReadFails("magic.gguf", new GgufBuilder().Raw("GGML"u8).U32(3).U64(0).U64(0).Bytes(), WeightsErrorKind.BadMagic);

    [Fact]
    public void UnknownGgufVersionIsRefused() =>
        ReadFails("version.gguf", GgufBuilder.Header(99, 0, 0).Bytes(), WeightsErrorKind.UnsupportedVersion);

    [Fact]
    public void BigEndianGgufIsNamedAsSuch()
    {
        var e = ReadFails("be.gguf", new GgufBuilder().Raw("GGUF"u8).U32(0x03000000).U64(0).U64(0).Bytes(), WeightsErrorKind.UnsupportedVersion);
        Assert.Contains("big-endian", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GgufStringWithAbsurdLengthIsRefusedWithoutAllocating()
    {
        var bytes = GgufBuilder.Header(3, 0, 1).U64(ulong.MaxValue / 2).Raw("key"u8).Zeros(32).Bytes();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = ReadFails("string.gguf", bytes, WeightsErrorKind.AbsurdLength);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4_000_000);
        Assert.Contains("remain", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GgufArrayWithAbsurdCountIsRefused()
    {
        var bytes = GgufBuilder.Header(3, 0, 1).Str("arr").U32(9).U32(4).U64(1UL << 60).Zeros(16).Bytes();
        ReadFails("array.gguf", bytes, WeightsErrorKind.AbsurdLength);
    }

    [Fact]
    public void GgufArrayOfStringsWithAbsurdCountIsRefused()
    {
        var bytes = GgufBuilder.Header(3, 0, 1).Str("arr").U32(9).U32(8).U64(1_000_000).Str("x").Bytes();
        ReadFails("strings.gguf", bytes, WeightsErrorKind.AbsurdLength);
    }

    [Fact]
    public void GgufArraysNestedTooDeeplyAreRefused()
    {
        var b = GgufBuilder.Header(3, 0, 1).Str("deep").U32(9);
        for (var i = 0; i < 20; i++) b.U32(9).U64(1);
        b.U32(4).U64(0);
        ReadFails("deep.gguf", b.Bytes(), WeightsErrorKind.AbsurdLength);
    }

    [Fact]
    public void GgufWithAbsurdTensorCountIsRefused() =>
        ReadFails("tensors.gguf", GgufBuilder.Header(3, ulong.MaxValue, 0).Zeros(64).Bytes(), WeightsErrorKind.AbsurdLength);

    [Fact]
    public void GgufWithAbsurdMetadataCountIsRefused() =>
        ReadFails("kvs.gguf", GgufBuilder.Header(3, 0, 1UL << 62).Zeros(64).Bytes(), WeightsErrorKind.AbsurdLength);

    [Fact]
    public void GgufDuplicateMetadataKeysAreRefused() => ReadFails("dupkey.gguf",
        GgufBuilder.Header(3, 0, 2).Str("k").U32(4).U32(1).Str("k").U32(4).U32(2).Bytes(), WeightsErrorKind.DuplicateKey);

    [Fact]
    public void GgufUnknownValueTypeIsRefused() => ReadFails("type.gguf",
        GgufBuilder.Header(3, 0, 1).Str("k").U32(13).U32(1).Bytes(), WeightsErrorKind.InvalidHeader);

    [Fact]
    public void GgufAlignmentThatIsNotAPowerOfTwoIsRefused() => ReadFails("align.gguf",
        GgufBuilder.Header(3, 0, 1).Str("general.alignment").U32(4).U32(24).Bytes(), WeightsErrorKind.InvalidHeader);

    [Fact]
    public void GgufTensorRunningPastTheDataIsRefused() => ReadFails("pastdata.gguf",
        GgufBuilder.Header(3, 1, 0).Str("t").U32(1).U64(1024).U32(0).U64(0).Pad(32).Zeros(16).Bytes(), WeightsErrorKind.OffsetOutOfRange);

    [Fact]
    public void GgufTensorWithHugeOffsetIsRefused() => ReadFails("offset.gguf",
        GgufBuilder.Header(3, 1, 0).Str("t").U32(1).U64(4).U32(0).U64(ulong.MaxValue - 31).Pad(32).Zeros(16).Bytes(), WeightsErrorKind.OffsetOutOfRange);

    [Fact]
    public void GgufOverlappingTensorsAreRefused() => ReadFails("overlap.gguf",
        GgufBuilder.Header(3, 2, 0)
            .Str("a").U32(1).U64(16).U32(0).U64(0)
            .Str("b").U32(1).U64(16).U32(0).U64(32)
            .Pad(32).Zeros(128).Bytes(), WeightsErrorKind.OffsetsOverlap);

    [Fact]
    public void GgufTensorWithTooManyDimensionsIsRefused() => ReadFails("dims.gguf",
        GgufBuilder.Header(3, 1, 0).Str("t").U32(1_000_000).Zeros(64).Bytes(), WeightsErrorKind.InvalidHeader);

    [Fact]
    public void GgufUnknownTensorTypeIsRefused() => ReadFails("ttype.gguf",
        GgufBuilder.Header(3, 1, 0).Str("t").U32(1).U64(4).U32(999).U64(0).Pad(32).Zeros(16).Bytes(), WeightsErrorKind.UnsupportedDtype);

    [Fact]
    public void GgufMisalignedTensorOffsetIsRefused() => ReadFails("misaligned.gguf",
        GgufBuilder.Header(3, 1, 0).Str("t").U32(1).U64(4).U32(0).U64(4).Pad(32).Zeros(32).Bytes(), WeightsErrorKind.InvalidHeader);

    // ---------------------------------------------------------------- through the manifest builder

    [Fact]
    public async Task ManifestOfADirectoryWithAHostileFileFailsNamingThatFile()
    {
        using var dir = new TempDir();
        dir.File("config.json", "{}"u8.ToArray());
        dir.File("sub/bad.safetensors", Fixtures.Safetensors(OneTensor, 8)[..20]);

        var result = await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None);

        Assert.False(result.IsOk);
        Assert.Equal("sub/bad.safetensors", result.Error.File);
        Assert.Equal(WeightsErrorKind.HeaderPastEndOfFile, result.Error.Kind);
    }

    [Fact]
    public async Task ShardIndexThatIsNotJsonIsRefused()
    {
        using var dir = new TempDir();
        dir.File("model.safetensors.index.json", "{\"weight_map\": "u8.ToArray());

        var result = await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None);

        Assert.Equal(WeightsErrorKind.InvalidJson, result.Error!.Kind);
        Assert.Equal("model.safetensors.index.json", result.Error.File);
    }

    [Fact]
    public async Task MissingPathIsNotFound()
    {
        var result = await ManifestBuilder.BuildAsync("/nonexistent/embargo/model", null, CancellationToken.None);
        Assert.Equal(WeightsErrorKind.NotFound, result.Error!.Kind);
    }

    [Fact]
    public async Task SymbolicLinksAreRefused()
    {
        using var dir = new TempDir();
        var target = dir.File("real.bin", [1, 2, 3]);
        File.CreateSymbolicLink(Path.Combine(dir.Path, "link.bin"), target);

        var result = await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None);

        Assert.Equal(WeightsErrorKind.UnsupportedPath, result.Error!.Kind);
        Assert.Contains("link.bin", result.Error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FileNamesWithBackslashOrNewlineAreRefused()
    {
        using var dir = new TempDir();
        dir.File("a\\b.bin", [1]);

        var result = await ManifestBuilder.BuildAsync(dir.Path, null, CancellationToken.None);

        Assert.Equal(WeightsErrorKind.UnsupportedPath, result.Error!.Kind);
    }
}
