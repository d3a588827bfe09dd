namespace Embargo.Ledger;

/// <summary>
/// Proof verification, kept apart from proof computation: every check recomputes a root from the
/// proof and compares it to the trusted one, failing with both roots on a mismatch.
/// </summary>
public static class MerkleVerifier
{
    private const int HashSize = MerkleHash.Size;

    /// <summary>RFC 9162 §2.1.3.2: does <paramref name="proof"/> place <paramref name="leafHash"/> at <paramref name="index"/> under <paramref name="expectedRoot"/>?</summary>
    public static LedgerResult VerifyInclusion(long index, long size, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> proof, ReadOnlySpan<byte> expectedRoot)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (index < 0 || size <= 0 || index >= size)
        {
            return LedgerResult.Fail(LedgerErrorKind.IndexOutOfRange, $"leaf index {index} is not inside a tree of size {size}");
        }

        if (CheckHashes(leafHash, expectedRoot, "leaf hash, root", proof) is { } malformed)
        {
            return malformed;
        }

        var expectedLength = ProofShape.InclusionLength(index, size);
        if (proof.Count != expectedLength)
        {
            return LedgerResult.Fail(LedgerErrorKind.BadProofLength,
                $"inclusion proof for leaf {index} in a tree of size {size} has {proof.Count} hashes, expected {expectedLength}");
        }

        Span<byte> computed = stackalloc byte[HashSize];
        leafHash.CopyTo(computed);
        long fn = index, sn = size - 1;
        foreach (var sibling in proof)
        {
            if (sn == 0)
            {
                return LedgerResult.Fail(LedgerErrorKind.BadProofLength, "inclusion proof is longer than the path to the root");
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                MerkleHash.HashChildren(sibling, computed, computed);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                MerkleHash.HashChildren(computed, sibling, computed);
            }

            fn >>= 1;
            sn >>= 1;
        }

        if (sn != 0)
        {
            return LedgerResult.Fail(LedgerErrorKind.BadProofLength, "inclusion proof is shorter than the path to the root");
        }

        return computed.SequenceEqual(expectedRoot)
            ? LedgerResult.Ok
            : LedgerError.Mismatch($"inclusion of leaf {index} in tree of size {size}", expectedRoot, computed);
    }

    /// <summary>RFC 9162 §2.1.4.2: is the tree (<paramref name="newSize"/>, <paramref name="newRoot"/>) an append-only extension of (<paramref name="oldSize"/>, <paramref name="oldRoot"/>)?</summary>
    public static LedgerResult VerifyConsistency(long oldSize, long newSize, ReadOnlySpan<byte> oldRoot, ReadOnlySpan<byte> newRoot, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (oldSize < 0 || oldSize > newSize)
        {
            return LedgerResult.Fail(LedgerErrorKind.IndexOutOfRange, $"old size {oldSize} must be between 0 and new size {newSize}");
        }

        if (CheckHashes(oldRoot, newRoot, "old root, new root", proof) is { } malformed)
        {
            return malformed;
        }

        if (oldSize == 0 || oldSize == newSize)
        {
            if (proof.Count != 0)
            {
                return LedgerResult.Fail(LedgerErrorKind.BadProofLength, $"consistency proof from {oldSize} to {newSize} must be empty, has {proof.Count} hashes");
            }

            if (oldSize == 0)
            {
                // Every tree extends the empty tree; only the old root can be checked.
                var empty = MerkleHash.EmptyRoot();
                return oldRoot.SequenceEqual(empty) ? LedgerResult.Ok : LedgerError.Mismatch("old root of the empty tree", oldRoot, empty);
            }

            return newRoot.SequenceEqual(oldRoot) ? LedgerResult.Ok : LedgerError.Mismatch($"roots of equal size {newSize}", newRoot, oldRoot);
        }

        var expectedLength = ProofShape.ConsistencyLength(oldSize, newSize);
        if (proof.Count != expectedLength)
        {
            return LedgerResult.Fail(LedgerErrorKind.BadProofLength,
                $"consistency proof from {oldSize} to {newSize} has {proof.Count} hashes, expected {expectedLength}");
        }

        // When oldSize is a power of two the old root is itself the first node of the path.
        var oldIsPowerOfTwo = (oldSize & (oldSize - 1)) == 0;
        Span<byte> fr = stackalloc byte[HashSize];
        Span<byte> sr = stackalloc byte[HashSize];
        var start = 0;
        if (oldIsPowerOfTwo)
        {
            oldRoot.CopyTo(fr);
        }
        else
        {
            proof[0].CopyTo(fr);
            start = 1;
        }

        fr.CopyTo(sr);
        long fn = oldSize - 1, sn = newSize - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        for (var i = start; i < proof.Count; i++)
        {
            var c = proof[i];
            if (sn == 0)
            {
                return LedgerResult.Fail(LedgerErrorKind.BadProofLength, "consistency proof is longer than the path to the root");
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                MerkleHash.HashChildren(c, fr, fr);
                MerkleHash.HashChildren(c, sr, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                MerkleHash.HashChildren(sr, c, sr);
            }

            fn >>= 1;
            sn >>= 1;
        }

        if (sn != 0)
        {
            return LedgerResult.Fail(LedgerErrorKind.BadProofLength, "consistency proof is shorter than the path to the root");
        }

        if (!fr.SequenceEqual(oldRoot))
        {
            return LedgerError.Mismatch($"old root (size {oldSize})", oldRoot, fr);
        }

        return sr.SequenceEqual(newRoot) ? LedgerResult.Ok : LedgerError.Mismatch($"new root (size {newSize})", newRoot, sr);
    }

    /// <summary>MTH over the given leaf hashes by the plain RFC 6962 recursion. O(n); independent of <see cref="MerkleTree"/>.</summary>
    public static byte[] RootFromLeafHashes(IReadOnlyList<byte[]> leafHashes)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        foreach (var h in leafHashes)
        {
            if (h is null || h.Length != HashSize)
            {
                throw new ArgumentException("Every leaf hash must be 32 bytes.", nameof(leafHashes));
            }
        }

        return leafHashes.Count == 0 ? MerkleHash.EmptyRoot() : Mth(leafHashes, 0, leafHashes.Count);
    }

    private static byte[] Mth(IReadOnlyList<byte[]> leaves, int lo, int hi)
    {
        if (hi - lo == 1)
        {
            return (byte[])leaves[lo].Clone();
        }

        var k = (int)ProofShape.SplitPoint(hi - lo);
        return MerkleHash.HashChildren(Mth(leaves, lo, lo + k), Mth(leaves, lo + k, hi));
    }

    private static LedgerResult? CheckHashes(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, string secondName, IReadOnlyList<byte[]> proof)
    {
        if (first.Length != HashSize || second.Length != HashSize)
        {
            return LedgerResult.Fail(LedgerErrorKind.Malformed, $"hashes must be {HashSize} bytes, got {first.Length} and {second.Length} ({secondName})");
        }

        for (var i = 0; i < proof.Count; i++)
        {
            if (proof[i] is null || proof[i].Length != HashSize)
            {
                return LedgerResult.Fail(LedgerErrorKind.Malformed, $"proof hash {i} is not {HashSize} bytes");
            }
        }

        return null;
    }
}
