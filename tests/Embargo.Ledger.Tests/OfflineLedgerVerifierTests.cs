using System.Text;

namespace Embargo.Ledger.Tests;

/// <summary>What a third party does with the export, a signed checkpoint and the log's verifier key.</summary>
public sealed class OfflineLedgerVerifierTests : IDisposable
{
    private const string Origin = "ledger.example/embargo";
    private readonly NoteSigner _signer = NoteSigner.Generate(Origin);
    private readonly List<byte[]> _leaves = [.. Enumerable.Range(0, 13).Select(i => Encoding.UTF8.GetBytes($"{{\"seq\":{i},\"type\":\"case.opened\"}}"))];

    public void Dispose() => _signer.Dispose();

    private string Export(IEnumerable<byte[]>? leaves = null) =>
        string.Concat((leaves ?? _leaves).Select((leaf, i) => LedgerJsonl.FormatLine(i, leaf) + "\n"));

    private string SignedCheckpoint(NoteSigner? signer = null, int? size = null)
    {
        var tree = Bytes.TreeOf(_leaves.Take(size ?? _leaves.Count));
        var checkpoint = new Checkpoint { Origin = Origin, Size = tree.Size, RootHash = tree.Root() };
        return (signer ?? _signer).Sign(checkpoint.ToNoteBody());
    }

    [Fact]
    public void HonestLedgerVerifiesAgainstItsSignedCheckpoint()
    {
        var result = OfflineLedgerVerifier.Verify(Export(), SignedCheckpoint(), _signer.VerifierKey);

        Assert.True(result.IsOk, result.ToString());
        Assert.Equal(13, result.Value.Size);
        Assert.Equal(Origin, result.Value.Origin);
    }

    [Fact]
    public void EmptyLedgerVerifiesAgainstAnEmptyCheckpoint()
    {
        var checkpoint = _signer.Sign(new Checkpoint { Origin = Origin, Size = 0, RootHash = MerkleHash.EmptyRoot() }.ToNoteBody());

        Assert.True(OfflineLedgerVerifier.Verify("", checkpoint, _signer.VerifierKey).IsOk);
    }

    [Fact]
    public void FlippedByteInALeafLineFailsWithBothRoots()
    {
        var lines = Export().Split('\n');
        var line = lines[5];
        var at = line.IndexOf("\"leaf\":\"", StringComparison.Ordinal) + 10;
        lines[5] = line[..at] + (line[at] == 'A' ? 'B' : 'A') + line[(at + 1)..];
        var checkpoint = SignedCheckpoint();

        var result = OfflineLedgerVerifier.Verify(string.Join('\n', lines), checkpoint, _signer.VerifierKey);

        Assert.False(result.IsOk);
        Assert.Equal(LedgerErrorKind.RootMismatch, result.Error.Kind);
        Assert.Equal(Bytes.Hex(Bytes.TreeOf(_leaves).Root()), result.Error.Expected);
        Assert.NotEqual(result.Error.Expected, result.Error.Computed);
    }

    [Fact]
    public void TrailingGarbageInTheLedgerIsMalformed()
    {
        var result = OfflineLedgerVerifier.Verify(Export() + "garbage\n", SignedCheckpoint(), _signer.VerifierKey);

        Assert.Equal(LedgerErrorKind.Malformed, result.Error?.Kind);
        Assert.Equal(14, result.Error?.Line);
        Assert.Equal(LedgerErrorKind.Malformed, OfflineLedgerVerifier.Verify(Export().TrimEnd('\n'), SignedCheckpoint(), _signer.VerifierKey).Error?.Kind);
    }

    [Fact]
    public void LedgerLongerOrShorterThanTheCheckpointIsASizeMismatch()
    {
        Assert.Equal(LedgerErrorKind.SizeMismatch, OfflineLedgerVerifier.Verify(Export(), SignedCheckpoint(size: 12), _signer.VerifierKey).Error?.Kind);
        Assert.Equal(LedgerErrorKind.SizeMismatch, OfflineLedgerVerifier.Verify(Export(_leaves.Take(12)), SignedCheckpoint(), _signer.VerifierKey).Error?.Kind);
    }

    [Fact]
    public void ReorderedLeavesFailWithRootMismatch()
    {
        var swapped = _leaves.ToList();
        (swapped[2], swapped[3]) = (swapped[3], swapped[2]);

        var result = OfflineLedgerVerifier.Verify(Export(swapped), SignedCheckpoint(), _signer.VerifierKey);

        Assert.Equal(LedgerErrorKind.RootMismatch, result.Error?.Kind);
    }

    [Fact]
    public void FlippedByteInTheCheckpointBodyFailsSignatureVerification()
    {
        var signed = SignedCheckpoint();
        var sizeLine = signed.IndexOf("\n13\n", StringComparison.Ordinal) + 1;
        var tampered = signed[..sizeLine] + "14" + signed[(sizeLine + 2)..];

        var result = OfflineLedgerVerifier.Verify(Export(), tampered, _signer.VerifierKey);

        Assert.Equal(LedgerErrorKind.BadSignature, result.Error?.Kind);
    }

    [Fact]
    public void CheckpointSignedByAnotherKeyIsRejected()
    {
        using var other = NoteSigner.Generate("someone.else");
        Assert.Equal(LedgerErrorKind.NoMatchingSignature, OfflineLedgerVerifier.Verify(Export(), SignedCheckpoint(other), _signer.VerifierKey).Error?.Kind);
        Assert.Equal(LedgerErrorKind.NoMatchingSignature, OfflineLedgerVerifier.Verify(Export(), SignedCheckpoint(), other.VerifierKey).Error?.Kind);
    }

    [Fact]
    public void CheckpointSignedByAnotherKeyWithTheSameNameIsRejected()
    {
        using var impostor = NoteSigner.Generate(Origin);

        var result = OfflineLedgerVerifier.Verify(Export(), SignedCheckpoint(impostor), _signer.VerifierKey);

        Assert.Equal(LedgerErrorKind.NoMatchingSignature, result.Error?.Kind);
    }

    [Fact]
    public void MalformedVerifierKeyIsABadKey()
    {
        Assert.Equal(LedgerErrorKind.BadKey, OfflineLedgerVerifier.Verify(Export(), SignedCheckpoint(), "not-a-key").Error?.Kind);
    }

    [Fact]
    public void EveryLeafIsProvablyIncludedUnderTheCheckpoint()
    {
        var export = Export();
        var checkpoint = SignedCheckpoint();
        for (var i = 0; i < _leaves.Count; i++)
        {
            var result = OfflineLedgerVerifier.VerifyInclusion(export, checkpoint, _signer.VerifierKey, i, _leaves[i]);
            Assert.True(result.IsOk, result.ToString());
        }
    }

    [Fact]
    public void OtherBytesAreNotProvablyIncludedAtAnIndex()
    {
        var export = Export();
        var checkpoint = SignedCheckpoint();

        var wrongBytes = OfflineLedgerVerifier.VerifyInclusion(export, checkpoint, _signer.VerifierKey, 4, _leaves[5]);
        var outOfRange = OfflineLedgerVerifier.VerifyInclusion(export, checkpoint, _signer.VerifierKey, 13, _leaves[0]);

        Assert.Equal(LedgerErrorKind.RootMismatch, wrongBytes.Error?.Kind);
        Assert.Equal(LedgerErrorKind.IndexOutOfRange, outOfRange.Error?.Kind);
    }
}
