namespace Embargo.Ledger.Tests;

/// <summary>Walks vectors/rfc6962.json (RFC 6962 reference vectors; provenance in vectors/README.md): roots, inclusion and consistency proofs, and mutations of each.</summary>
public class Rfc6962VectorTests
{
    private static Rfc6962Vectors V => TestVectors.Rfc6962;

    public static TheoryData<long> Sizes()
    {
        var data = new TheoryData<long>();
        foreach (var size in TestVectors.Rfc6962.Roots.Keys.Order())
        {
            data.Add(size);
        }

        return data;
    }

    public static TheoryData<int, long, long> InclusionCases()
    {
        var data = new TheoryData<int, long, long>();
        for (var i = 0; i < TestVectors.Rfc6962.Inclusion.Count; i++)
        {
            data.Add(i, TestVectors.Rfc6962.Inclusion[i].Index, TestVectors.Rfc6962.Inclusion[i].Size);
        }

        return data;
    }

    public static TheoryData<int, long, long> ConsistencyCases()
    {
        var data = new TheoryData<int, long, long>();
        for (var i = 0; i < TestVectors.Rfc6962.Consistency.Count; i++)
        {
            data.Add(i, TestVectors.Rfc6962.Consistency[i].Size1, TestVectors.Rfc6962.Consistency[i].Size2);
        }

        return data;
    }

    [Fact]
    public void VectorFileHasEveryKindOfCase()
    {
        Assert.Equal(8, V.Leaves.Length);
        Assert.NotEmpty(V.Roots);
        Assert.NotEmpty(V.Inclusion);
        Assert.NotEmpty(V.Consistency);
    }

    [Fact]
    public void EmptyTreeRootIsSha256OfTheEmptyString()
    {
        Assert.Equal(V.EmptyRoot, MerkleHash.EmptyRoot());
        Assert.Equal(V.EmptyRoot, new MerkleTree().Root());
        Assert.Equal(V.EmptyRoot, MerkleVerifier.RootFromLeafHashes([]));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void TreeRootAtEachSizeEqualsTheVector(long size)
    {
        var full = Bytes.TreeOf(V.Leaves);
        var exact = Bytes.TreeOf(V.Leaves.Take((int)size));
        var hashes = V.Leaves.Take((int)size).Select(l => MerkleHash.HashLeaf(l)).ToList();

        Assert.Equal(Bytes.Hex(V.Roots[size]), Bytes.Hex(full.RootAt(size)));
        Assert.Equal(Bytes.Hex(V.Roots[size]), Bytes.Hex(exact.Root()));
        Assert.Equal(Bytes.Hex(V.Roots[size]), Bytes.Hex(MerkleVerifier.RootFromLeafHashes(hashes)));
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionProofEqualsTheVectorAndVerifies(int n, long index, long size)
    {
        var c = V.Inclusion[n];
        var tree = Bytes.TreeOf(V.Leaves);

        Assert.Equal(Bytes.Hex(c.LeafHash), Bytes.Hex(MerkleHash.HashLeaf(V.Leaves[index])));
        Assert.Equal(c.LeafHash, tree.LeafHash(index));
        Assert.Equal(c.Proof.Select(Bytes.Hex), tree.InclusionProof(index, size).Select(Bytes.Hex));
        Assert.Equal(c.Root, V.Roots[size]);
        var result = MerkleVerifier.VerifyInclusion(index, size, c.LeafHash, c.Proof, c.Root);
        Assert.True(result.IsOk, result.ToString());
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyProofEqualsTheVectorAndVerifies(int n, long size1, long size2)
    {
        var c = V.Consistency[n];
        var tree = Bytes.TreeOf(V.Leaves);

        Assert.Equal(c.Proof.Select(Bytes.Hex), tree.ConsistencyProof(size1, size2).Select(Bytes.Hex));
        var result = MerkleVerifier.VerifyConsistency(size1, size2, c.Root1, c.Root2, c.Proof);
        Assert.True(result.IsOk, result.ToString());
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionOfTheWrongLeafFailsWithBothRoots(int n, long index, long size)
    {
        var c = V.Inclusion[n];
        var wrongLeaf = MerkleHash.HashLeaf([.. V.Leaves[index], 0xff]);

        var result = MerkleVerifier.VerifyInclusion(index, size, wrongLeaf, c.Proof, c.Root);

        Assert.False(result.IsOk);
        Assert.Equal(LedgerErrorKind.RootMismatch, result.Error.Kind);
        Assert.Equal(Bytes.Hex(c.Root), result.Error.Expected);
        Assert.NotNull(result.Error.Computed);
        Assert.NotEqual(result.Error.Expected, result.Error.Computed);
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionWithAnyFlippedProofBitFails(int n, long index, long size)
    {
        var c = V.Inclusion[n];
        for (var i = 0; i < c.Proof.Length; i++)
        {
            foreach (var bit in new[] { 0, 7, 100, 255 })
            {
                var proof = Bytes.Replace(c.Proof, i, Bytes.FlipBit(c.Proof[i], bit));
                var result = MerkleVerifier.VerifyInclusion(index, size, c.LeafHash, proof, c.Root);
                Assert.Equal(LedgerErrorKind.RootMismatch, result.Error?.Kind);
            }
        }

        var flippedRoot = MerkleVerifier.VerifyInclusion(index, size, c.LeafHash, c.Proof, Bytes.FlipBit(c.Root, 3));
        Assert.Equal(LedgerErrorKind.RootMismatch, flippedRoot.Error?.Kind);
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionAgainstAnotherTreeSizeFails(int n, long index, long size)
    {
        var c = V.Inclusion[n];
        foreach (var other in new[] { size - 1, size + 1 })
        {
            if (other > index && V.Roots.TryGetValue(other, out var otherRoot))
            {
                Assert.False(MerkleVerifier.VerifyInclusion(index, other, c.LeafHash, c.Proof, otherRoot).IsOk);
            }
        }

        Assert.Equal(LedgerErrorKind.IndexOutOfRange, MerkleVerifier.VerifyInclusion(index, index, c.LeafHash, c.Proof, c.Root).Error?.Kind);
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionWithAProofTooLongOrTooShortFailsOnLength(int n, long index, long size)
    {
        var c = V.Inclusion[n];
        byte[][] longer = [.. c.Proof, c.Root];
        Assert.Equal(LedgerErrorKind.BadProofLength, MerkleVerifier.VerifyInclusion(index, size, c.LeafHash, longer, c.Root).Error?.Kind);
        if (c.Proof.Length > 0)
        {
            Assert.Equal(LedgerErrorKind.BadProofLength, MerkleVerifier.VerifyInclusion(index, size, c.LeafHash, c.Proof[..^1], c.Root).Error?.Kind);
            Assert.Equal(LedgerErrorKind.BadProofLength, MerkleVerifier.VerifyInclusion(index, size, c.LeafHash, c.Proof[1..], c.Root).Error?.Kind);
        }
    }

    [Theory]
    [MemberData(nameof(InclusionCases))]
    public void InclusionAtAnotherIndexFails(int n, long index, long size)
    {
        var c = V.Inclusion[n];
        foreach (var other in new[] { index - 1, index + 1 })
        {
            if (other >= 0 && other < size)
            {
                Assert.False(MerkleVerifier.VerifyInclusion(other, size, c.LeafHash, c.Proof, c.Root).IsOk);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyWithAnyFlippedProofBitFails(int n, long size1, long size2)
    {
        var c = V.Consistency[n];
        for (var i = 0; i < c.Proof.Length; i++)
        {
            var proof = Bytes.Replace(c.Proof, i, Bytes.FlipBit(c.Proof[i], 9 * i));
            var result = MerkleVerifier.VerifyConsistency(size1, size2, c.Root1, c.Root2, proof);
            Assert.Equal(LedgerErrorKind.RootMismatch, result.Error?.Kind);
        }
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyWithATamperedRootFailsWithBothRoots(int n, long size1, long size2)
    {
        var c = V.Consistency[n];
        var badOld = MerkleVerifier.VerifyConsistency(size1, size2, Bytes.FlipBit(c.Root1, 1), c.Root2, c.Proof);
        var badNew = MerkleVerifier.VerifyConsistency(size1, size2, c.Root1, Bytes.FlipBit(c.Root2, 1), c.Proof);

        Assert.Equal(LedgerErrorKind.RootMismatch, badOld.Error?.Kind);
        Assert.Equal(LedgerErrorKind.RootMismatch, badNew.Error?.Kind);
        Assert.Equal(Bytes.Hex(Bytes.FlipBit(c.Root2, 1)), badNew.Error?.Expected);
        Assert.Equal(Bytes.Hex(c.Root2), badNew.Error?.Computed);
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyWithAProofTooLongOrTooShortFailsOnLength(int n, long size1, long size2)
    {
        var c = V.Consistency[n];
        byte[][] longer = [.. c.Proof, c.Root1];
        Assert.Equal(LedgerErrorKind.BadProofLength, MerkleVerifier.VerifyConsistency(size1, size2, c.Root1, c.Root2, longer).Error?.Kind);
        if (c.Proof.Length > 0)
        {
            Assert.Equal(LedgerErrorKind.BadProofLength, MerkleVerifier.VerifyConsistency(size1, size2, c.Root1, c.Root2, c.Proof[..^1]).Error?.Kind);
        }
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyFromAnotherOldSizeFails(int n, long size1, long size2)
    {
        var c = V.Consistency[n];
        foreach (var other in new[] { size1 - 1, size1 + 1 })
        {
            if (other >= 1 && other <= size2 && other != size1)
            {
                Assert.False(MerkleVerifier.VerifyConsistency(other, size2, V.Roots[other], c.Root2, c.Proof).IsOk);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ConsistencyCases))]
    public void ConsistencyToAnotherNewSizeFails(int n, long size1, long size2)
    {
        var c = V.Consistency[n];
        foreach (var other in new[] { size2 - 1, size2 + 1 })
        {
            if (other >= size1 && other != size2 && V.Roots.TryGetValue(other, out var otherRoot))
            {
                Assert.False(MerkleVerifier.VerifyConsistency(size1, other, c.Root1, otherRoot, c.Proof).IsOk);
            }
        }
    }

    [Fact]
    public void ConsistencyFromTheEmptyTreeNeedsAnEmptyProofAndTheEmptyRoot()
    {
        var root8 = V.Roots[8];
        Assert.True(MerkleVerifier.VerifyConsistency(0, 8, V.EmptyRoot, root8, []).IsOk);
        Assert.Empty(Bytes.TreeOf(V.Leaves).ConsistencyProof(0, 8));
        Assert.Equal(LedgerErrorKind.BadProofLength, MerkleVerifier.VerifyConsistency(0, 8, V.EmptyRoot, root8, [root8]).Error?.Kind);
        Assert.Equal(LedgerErrorKind.RootMismatch, MerkleVerifier.VerifyConsistency(0, 8, root8, root8, []).Error?.Kind);
        Assert.Equal(LedgerErrorKind.IndexOutOfRange, MerkleVerifier.VerifyConsistency(9, 8, root8, root8, []).Error?.Kind);
    }

    [Fact]
    public void ProofHashesOfTheWrongLengthAreMalformed()
    {
        var c = V.Inclusion.First(x => x.Proof.Length > 0);
        var proof = Bytes.Replace(c.Proof, 0, c.Proof[0][..31]);
        Assert.Equal(LedgerErrorKind.Malformed, MerkleVerifier.VerifyInclusion(c.Index, c.Size, c.LeafHash, proof, c.Root).Error?.Kind);
        Assert.Equal(LedgerErrorKind.Malformed, MerkleVerifier.VerifyInclusion(c.Index, c.Size, c.LeafHash.AsSpan(0, 16), c.Proof, c.Root).Error?.Kind);
    }
}
