namespace Embargo.Weights.Tests;

public class GgufReaderTests
{
    [Fact]
    public void LongStringArraysArePreviewedAndTheReaderStaysInStep()
    {
        var b = GgufBuilder.Header(3, 1, 2).Str("tokenizer.ggml.tokens").U32(9).U32(8).U64(20);
        for (var i = 0; i < 20; i++) b.Str($"tok{i}");
        b.Str("after").U32(4).U32(7);
        b.Str("t").U32(2).U64(2).U64(3).U32(1).U64(0).Pad(32).Zeros(12);
        using var dir = new TempDir();

        var header = GgufReader.Read(dir.File("vocab.gguf", b.Bytes()));

        Assert.True(header.IsOk, header.Error?.ToString());
        Assert.Equal("[STRING x 20: \"tok0\", \"tok1\", \"tok2\", \"tok3\", \"tok4\", \"tok5\", \"tok6\", \"tok7\", ...]", header.Value.Metadata["tokenizer.ggml.tokens"]);
        Assert.Equal("7", header.Value.Metadata["after"]);
        Assert.Equal(6, header.Value.Parameters);
        Assert.Equal([2L, 3L], header.Value.Tensors.Single().Shape);
    }

    [Fact]
    public void GgufV1With32BitLengthsIsRead()
    {
        var b = new GgufBuilder().Raw("GGUF"u8).U32(1).U32(1).U32(1)
            .U32(4).Raw("name"u8).U32(8).U32(2).Raw("v1"u8)
            .U32(1).Raw("t"u8).U32(1).U32(8).U32(0).U64(0).Pad(32).Zeros(32);
        using var dir = new TempDir();

        var header = GgufReader.Read(dir.File("v1.gguf", b.Bytes()));

        Assert.True(header.IsOk, header.Error?.ToString());
        Assert.Equal(1, header.Value.Version);
        Assert.Equal("v1", header.Value.Metadata["name"]);
        Assert.Equal(8, header.Value.Parameters);
    }

    [Fact]
    public void FileWithGgufMagicIsRecognisedWhateverItsExtension()
    {
        using var dir = new TempDir();
        File.Copy(Fixtures.PathOf("v2.gguf"), dir.Sub("model.bin"));

        Assert.Equal("gguf", ManifestBuilder.DetectFormat(dir.Sub("model.bin")));
        Assert.Equal("other", ManifestBuilder.DetectFormat(Fixtures.PathOf("sharded/config.json")));
    }
}
