namespace Embargo.Ledger.Tests;

public class CheckpointTests
{
    private static readonly byte[] Root = MerkleHash.HashLeaf([42]);

    [Fact]
    public void CheckpointRoundTripsThroughItsNoteBody()
    {
        var checkpoint = new Checkpoint { Origin = "log.example/embargo", Size = 1234, RootHash = Root };

        var body = checkpoint.ToNoteBody();

        Assert.Equal($"log.example/embargo\n1234\n{Convert.ToBase64String(Root)}\n", body);
        Assert.Equal(checkpoint, Checkpoint.Parse(body).Value);
    }

    [Fact]
    public void CheckpointWithExtensionLinesRoundTrips()
    {
        var checkpoint = new Checkpoint { Origin = "o", Size = 0, RootHash = MerkleHash.EmptyRoot(), Extensions = ["ext one", "— two"] };

        var parsed = Checkpoint.Parse(checkpoint.ToNoteBody()).Value;

        Assert.Equal(["ext one", "— two"], parsed.Extensions);
        Assert.Equal(checkpoint, parsed);
        Assert.NotEqual(checkpoint, parsed with { RootHash = Root });
    }

    [Fact]
    public void SpecExampleCheckpointParses()
    {
        var parsed = Checkpoint.Parse("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");

        Assert.True(parsed.IsOk, parsed.ToString());
        Assert.Equal("example.com/behind-the-sofa", parsed.Value.Origin);
        Assert.Equal(20852163, parsed.Value.Size);
        Assert.Equal("0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62", Convert.ToHexStringLower(parsed.Value.RootHash));
    }

    [Theory]
    [InlineData("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", "newline")]          // no final newline
    [InlineData("o\n1\n", "3 lines")]                                                      // no root
    [InlineData("\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "empty")]         // empty origin
    [InlineData("o\n01\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "leading")]      // leading zero
    [InlineData("o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "size")]         // negative
    [InlineData("o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "size")]         // sign
    [InlineData("o\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "size")]         // space
    [InlineData("o\n99999999999999999999\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n", "size")] // overflow
    [InlineData("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2=\n", "root")]          // 31 bytes
    [InlineData("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", "root")]          // non-canonical trailing bits
    [InlineData("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n", "root")]           // unpadded
    [InlineData("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\next\n", "empty")]  // empty extension line
    [InlineData("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\r\n", "control")]     // CRLF
    public void MalformedCheckpointBodiesAreRejected(string body, string reason)
    {
        var result = Checkpoint.Parse(body);

        Assert.Equal(LedgerErrorKind.Malformed, result.Error?.Kind);
        Assert.Contains(reason, result.Error?.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void UnformattableCheckpointIsACallerBug()
    {
        Assert.Throws<InvalidOperationException>(() => new Checkpoint { Origin = "a\nb", Size = 1, RootHash = Root }.ToNoteBody());
        Assert.Throws<InvalidOperationException>(() => new Checkpoint { Origin = "o", Size = 1, RootHash = new byte[31] }.ToNoteBody());
        Assert.Throws<InvalidOperationException>(() => new Checkpoint { Origin = "o", Size = -1, RootHash = Root }.ToNoteBody());
        Assert.Throws<InvalidOperationException>(() => new Checkpoint { Origin = "o", Size = 1, RootHash = Root, Extensions = [""] }.ToNoteBody());
    }

    [Fact]
    public void SignedCheckpointRoundTripsThroughSignAndOpen()
    {
        using var signer = NoteSigner.Generate("log.example/embargo");
        var checkpoint = new Checkpoint { Origin = "log.example/embargo", Size = 7, RootHash = Root };

        var body = NoteVerifier.Parse(signer.VerifierKey).Value.Open(signer.Sign(checkpoint.ToNoteBody())).Value;

        Assert.Equal(checkpoint, Checkpoint.Parse(body).Value);
    }
}
