using System.Text;

namespace Embargo.Ledger.Tests;

/// <summary>The tlog-witness add-checkpoint checks (WitnessRules.Decide) and the quorum count, without HTTP.</summary>
public sealed class WitnessRulesTests : IDisposable
{
    private const string Origin = "log.example/ledger";
    private readonly NoteSigner _log = NoteSigner.Generate(Origin);
    private readonly Dictionary<string, WitnessedTree> _held = new(StringComparer.Ordinal);

    public void Dispose() => _log.Dispose();

    private static MerkleTree Tree(int size, string prefix = "leaf")
    {
        var tree = new MerkleTree();
        for (var i = 0; i < size; i++)
        {
            tree.AppendLeaf(Encoding.UTF8.GetBytes($"{prefix}-{i}"));
        }
        return tree;
    }

    private string Signed(MerkleTree tree, long size, NoteSigner? signer = null) =>
        (signer ?? _log).Sign(new Checkpoint { Origin = (signer ?? _log).Name, Size = size, RootHash = tree.RootAt(size) }.ToNoteBody());

    private WitnessDecision Decide(long old, IReadOnlyList<byte[]> proof, string note) =>
        WitnessRules.Decide(new AddCheckpointRequest(old, proof, note),
            new Dictionary<string, NoteVerifier> { [Origin] = NoteVerifier.Parse(_log.VerifierKey).Value }, o => _held.GetValueOrDefault(o));

    [Fact]
    public void AFirstCheckpointFromOldSizeZeroIsCosigned()
    {
        Assert.Equal(WitnessVerdict.Cosign, Decide(0, [], Signed(Tree(5), 5)).Verdict);
    }

    [Fact]
    public void AConsistentExtensionIsCosigned()
    {
        var tree = Tree(9);
        _held[Origin] = new WitnessedTree(5, tree.RootAt(5));
        Assert.Equal(WitnessVerdict.Cosign, Decide(5, tree.ConsistencyProof(5, 9), Signed(tree, 9)).Verdict);
    }

    [Fact]
    public void AnOldSizeOtherThanTheOneCosignedIsAConflictNamingTheHeldSize()
    {
        var tree = Tree(9);
        _held[Origin] = new WitnessedTree(5, tree.RootAt(5));
        var decision = Decide(0, [], Signed(tree, 9));
        Assert.Equal((WitnessVerdict.Conflict, 5L, false), (decision.Verdict, decision.KnownSize, decision.IsForkEvidence));
    }

    [Fact]
    public void AForkedHistoryFailsItsConsistencyProofWith422()
    {
        var honest = Tree(5);
        var forked = Tree(9, "other");
        _held[Origin] = new WitnessedTree(5, honest.RootAt(5));
        var decision = Decide(5, forked.ConsistencyProof(5, 9), Signed(forked, 9));
        Assert.Equal((WitnessVerdict.Inconsistent, true), (decision.Verdict, decision.IsForkEvidence));
    }

    [Fact]
    public void AnotherRootAtTheSameSizeIsAConflictAndEvidenceOfAFork()
    {
        _held[Origin] = new WitnessedTree(5, Tree(5).RootAt(5));
        var decision = Decide(5, [], Signed(Tree(5, "other"), 5));
        Assert.Equal((WitnessVerdict.Conflict, true), (decision.Verdict, decision.IsForkEvidence));
    }

    [Fact]
    public void AnUnknownOriginIs404AndAForeignSignatureIs403()
    {
        using var stranger = NoteSigner.Generate("stranger.example/log");
        Assert.Equal(WitnessVerdict.UnknownLog, Decide(0, [], Signed(Tree(2), 2, stranger)).Verdict);
        using var impostor = NoteSigner.Generate(Origin);
        Assert.Equal(WitnessVerdict.Forbidden, Decide(0, [], Signed(Tree(2), 2, impostor)).Verdict);
    }

    [Fact]
    public void AnOldSizeAboveTheCheckpointIs400()
    {
        Assert.Equal(WitnessVerdict.BadRequest, Decide(7, [], Signed(Tree(5), 5)).Verdict);
    }

    [Theory]
    [InlineData("old 01\n\nx")]
    [InlineData("old 3\nnot-base64\n\nx")]
    [InlineData("old 3\n")]
    [InlineData("new 3\n\nx")]
    [InlineData("old 0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nx")]
    [InlineData("old 3\n\n")]
    public void AMalformedRequestBodyIsRefusedByTheParser(string body)
    {
        Assert.Equal(LedgerErrorKind.Malformed, AddCheckpointRequest.Parse(body).Error?.Kind);
    }

    [Fact]
    public void MoreThan63ProofLinesAreRefused()
    {
        var line = Convert.ToBase64String(new byte[32]) + "\n";
        Assert.False(AddCheckpointRequest.Parse("old 3\n" + string.Concat(Enumerable.Repeat(line, 64)) + "\n" + Signed(Tree(5), 5)).IsOk);
        Assert.True(AddCheckpointRequest.Parse("old 3\n" + string.Concat(Enumerable.Repeat(line, 63)) + "\n" + Signed(Tree(5), 5)).IsOk);
    }

    [Fact]
    public void ARequestRoundTripsThroughItsFormat()
    {
        var tree = Tree(9);
        var request = new AddCheckpointRequest(5, tree.ConsistencyProof(5, 9), Signed(tree, 9));
        var parsed = AddCheckpointRequest.Parse(request.Format()).Value;
        Assert.Equal((5L, request.SignedCheckpoint), (parsed.OldSize, parsed.SignedCheckpoint));
        Assert.Equal(request.Proof.Select(Convert.ToBase64String), parsed.Proof.Select(Convert.ToBase64String));
    }

    [Fact]
    public void AQuorumOfTwoFailsWithOneCosignatureAndHoldsWithTwo()
    {
        using var a = CosignatureSigner.Generate("a.example/w");
        using var b = CosignatureSigner.Generate("b.example/w");
        var note = Signed(Tree(4), 4);
        var body = note[..(note.IndexOf("\n\n", StringComparison.Ordinal) + 1)];
        var keys = new[] { CosignatureVerifier.Parse(a.VerifierKey).Value, CosignatureVerifier.Parse(b.VerifierKey).Value };
        var one = note + a.Cosign(body, 100) + a.Cosign(body, 101);
        var failed = Cosignatures.RequireQuorum(one, keys, 2);
        Assert.Equal(LedgerErrorKind.NoMatchingSignature, failed.Error?.Kind);
        Assert.Contains("1 of the 2", failed.Error!.Message, StringComparison.Ordinal);
        var two = one + b.Cosign(body, 102);
        Assert.Equal(["a.example/w", "b.example/w"], Cosignatures.RequireQuorum(two, keys, 2).Value.Select(c => c.Witness));
    }

    [Fact]
    public void TheSameWitnessKeyGivenTwiceIsRefusedRatherThanCountedTwice()
    {
        using var a = CosignatureSigner.Generate("a.example/w");
        var note = Signed(Tree(4), 4);
        var key = CosignatureVerifier.Parse(a.VerifierKey).Value;
        Assert.Equal(LedgerErrorKind.BadKey, Cosignatures.RequireQuorum(note, [key, key], 2).Error?.Kind);
    }
}
