namespace Embargo.Ledger;

/// <summary>
/// What `embargo verify` and any third party do offline with the public export, a signed checkpoint
/// and the log's verifier key. Nothing here trusts the server beyond the key.
/// </summary>
public static class OfflineLedgerVerifier
{
    /// <summary>
    /// Verifies the checkpoint's signature under <paramref name="vkey"/>, recomputes the RFC 6962 root over all
    /// leaves of <paramref name="ledgerJsonl"/>, and checks that the size and the root equal the checkpoint's.
    /// </summary>
    public static LedgerResult<Checkpoint> Verify(string ledgerJsonl, string signedCheckpoint, string vkey)
    {
        var opened = OpenCheckpoint(signedCheckpoint, vkey);
        if (!opened.IsOk)
        {
            return opened;
        }

        var checkpoint = opened.Value;
        var leaves = ParseLedger(ledgerJsonl, checkpoint);
        if (!leaves.IsOk)
        {
            return leaves.Error;
        }

        var leafHashes = new byte[leaves.Value.Count][];
        for (var i = 0; i < leafHashes.Length; i++)
        {
            leafHashes[i] = MerkleHash.HashLeaf(leaves.Value[i]);
        }

        var computed = MerkleVerifier.RootFromLeafHashes(leafHashes);
        return computed.AsSpan().SequenceEqual(checkpoint.RootHash)
            ? LedgerResult<Checkpoint>.Success(checkpoint)
            : LedgerError.Mismatch($"root of the {leafHashes.Length} ledger leaves", checkpoint.RootHash, computed);
    }

    /// <summary>
    /// Proves that <paramref name="leaf"/> is the entry at <paramref name="index"/> under the signed checkpoint:
    /// rebuilds the tree from the export (its root must equal the checkpoint's), computes the inclusion proof
    /// and verifies it for the given bytes against the checkpoint root.
    /// </summary>
    public static LedgerResult<Checkpoint> VerifyInclusion(string ledgerJsonl, string signedCheckpoint, string vkey, long index, ReadOnlySpan<byte> leaf)
    {
        var opened = OpenCheckpoint(signedCheckpoint, vkey);
        if (!opened.IsOk)
        {
            return opened;
        }

        var checkpoint = opened.Value;
        if (index < 0 || index >= checkpoint.Size)
        {
            return LedgerResult<Checkpoint>.Fail(LedgerErrorKind.IndexOutOfRange,
                $"leaf index {index} is not inside the checkpoint's tree of size {checkpoint.Size}");
        }

        var leaves = ParseLedger(ledgerJsonl, checkpoint);
        if (!leaves.IsOk)
        {
            return leaves.Error;
        }

        var tree = new MerkleTree();
        foreach (var entry in leaves.Value)
        {
            tree.AppendLeaf(entry);
        }

        var root = tree.Root();
        if (!root.AsSpan().SequenceEqual(checkpoint.RootHash))
        {
            return LedgerError.Mismatch($"root of the {tree.Size} ledger leaves", checkpoint.RootHash, root);
        }

        var proof = tree.InclusionProof(index, checkpoint.Size);
        var verified = MerkleVerifier.VerifyInclusion(index, checkpoint.Size, MerkleHash.HashLeaf(leaf), proof, checkpoint.RootHash);
        return verified.IsOk ? LedgerResult<Checkpoint>.Success(checkpoint) : verified.Error;
    }

    private static LedgerResult<Checkpoint> OpenCheckpoint(string signedCheckpoint, string vkey)
    {
        ArgumentNullException.ThrowIfNull(signedCheckpoint);
        ArgumentNullException.ThrowIfNull(vkey);
        var verifier = NoteVerifier.Parse(vkey);
        if (!verifier.IsOk)
        {
            return verifier.Error;
        }

        var body = verifier.Value.Open(signedCheckpoint);
        return body.IsOk ? Checkpoint.Parse(body.Value) : body.Error;
    }

    private static LedgerResult<IReadOnlyList<byte[]>> ParseLedger(string ledgerJsonl, Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(ledgerJsonl);
        using var reader = new StringReader(ledgerJsonl);
        var leaves = LedgerJsonl.Parse(reader);
        if (leaves.IsOk && leaves.Value.Count != checkpoint.Size)
        {
            return LedgerResult<IReadOnlyList<byte[]>>.Fail(LedgerErrorKind.SizeMismatch,
                $"ledger has {leaves.Value.Count} leaves, the checkpoint commits to {checkpoint.Size}");
        }

        return leaves;
    }
}
