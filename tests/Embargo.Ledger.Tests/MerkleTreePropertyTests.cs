using FsCheck;
using FsCheck.Xunit;

namespace Embargo.Ledger.Tests;

/// <summary>Random trees up to 300 leaves: the stored-subtree tree agrees with the plain RFC 6962 recursion.</summary>
public class MerkleTreePropertyTests
{
    private const int MaxSize = 300;

    private static (MerkleTree Tree, List<byte[]> Hashes) Build(int size, int salt)
    {
        var tree = new MerkleTree();
        var hashes = new List<byte[]>(size);
        for (var i = 0; i < size; i++)
        {
            var leaf = System.Text.Encoding.UTF8.GetBytes($"{salt}:{i}");
            Assert.Equal(i, tree.AppendLeaf(leaf));
            hashes.Add(MerkleHash.HashLeaf(leaf));
        }

        return (tree, hashes);
    }

    [Property(MaxTest = 150)]
    public void RootAtEverySizeEqualsTheRecursiveRoot(PositiveInt sizeSeed, NonNegativeInt oldSeed, int salt)
    {
        var size = ((sizeSeed.Get - 1) % MaxSize) + 1;
        var old = oldSeed.Get % (size + 1);
        var (tree, hashes) = Build(size, salt);

        Assert.Equal(MerkleVerifier.RootFromLeafHashes(hashes), tree.Root());
        Assert.Equal(MerkleVerifier.RootFromLeafHashes(hashes.Take(old).ToList()), tree.RootAt(old));
    }

    [Property(MaxTest = 150)]
    public void ComputedInclusionProofsVerify(PositiveInt sizeSeed, NonNegativeInt indexSeed, NonNegativeInt prefixSeed)
    {
        var treeSize = ((sizeSeed.Get - 1) % MaxSize) + 1;
        var (tree, hashes) = Build(treeSize, 1);
        var size = (prefixSeed.Get % treeSize) + 1;  // any prefix of the tree, not only its full size
        var index = indexSeed.Get % size;
        var root = tree.RootAt(size);

        var proof = tree.InclusionProof(index, size);
        var result = MerkleVerifier.VerifyInclusion(index, size, hashes[index], proof, root);

        Assert.True(result.IsOk, result.ToString());
    }

    [Property(MaxTest = 150)]
    public void ComputedConsistencyProofsVerify(PositiveInt sizeSeed, NonNegativeInt oldSeed)
    {
        var size = ((sizeSeed.Get - 1) % MaxSize) + 1;
        var old = oldSeed.Get % (size + 1);
        var (tree, _) = Build(size, 2);

        var proof = tree.ConsistencyProof(old, size);
        var result = MerkleVerifier.VerifyConsistency(old, size, tree.RootAt(old), tree.Root(), proof);

        Assert.True(result.IsOk, result.ToString());
    }

    [Property(MaxTest = 150)]
    public void AnySingleBitFlipInAProofIsCaught(PositiveInt sizeSeed, NonNegativeInt indexSeed, NonNegativeInt bitSeed)
    {
        var size = ((sizeSeed.Get - 1) % MaxSize) + 2;
        var (tree, hashes) = Build(size, 3);
        var index = indexSeed.Get % size;
        var proof = tree.InclusionProof(index, size).ToArray();
        var bit = bitSeed.Get % (proof.Length * 256);
        proof[bit / 256] = Bytes.FlipBit(proof[bit / 256], bit % 256);

        var result = MerkleVerifier.VerifyInclusion(index, size, hashes[index], proof, tree.Root());

        Assert.Equal(LedgerErrorKind.RootMismatch, result.Error?.Kind);
    }

    [Property(MaxTest = 100)]
    public void ConsistencyProofDoesNotVerifyAForkedTree(PositiveInt sizeSeed, NonNegativeInt oldSeed, NonNegativeInt forkSeed)
    {
        var size = ((sizeSeed.Get - 1) % MaxSize) + 2;
        var old = (oldSeed.Get % (size - 1)) + 1; // 1..size-1
        var forkAt = forkSeed.Get % old;           // a leaf the old tree already had
        var (honest, hashes) = Build(size, 4);
        var forked = new MerkleTree();
        for (var i = 0; i < size; i++)
        {
            forked.AppendLeafHash(i == forkAt ? MerkleHash.HashLeaf([1, 2, 3]) : hashes[i]);
        }

        // The forked log proves its own history, but not against the honest old root.
        var proof = forked.ConsistencyProof(old, size);
        var result = MerkleVerifier.VerifyConsistency(old, size, honest.RootAt(old), forked.Root(), proof);

        Assert.False(result.IsOk);
    }
}

public class MerkleTreeTests
{
    [Fact]
    public void LargeTreeAcrossStorageChunksAgreesWithTheRecursiveRoot()
    {
        const int size = 70_001; // several 2048-node chunks at level 0 and level 1
        var tree = new MerkleTree();
        var hashes = new List<byte[]>(size);
        for (var i = 0; i < size; i++)
        {
            var h = MerkleHash.HashLeaf(Bytes.Leaf(i));
            tree.AppendLeafHash(h);
            hashes.Add(h);
        }

        Assert.Equal(MerkleVerifier.RootFromLeafHashes(hashes), tree.Root());
        foreach (var prefix in new[] { 2047, 2048, 2049, 4096, 65_536, 65_537 })
        {
            Assert.Equal(MerkleVerifier.RootFromLeafHashes(hashes.Take(prefix).ToList()), tree.RootAt(prefix));
        }

        foreach (var index in new long[] { 0, 2047, 2048, 65_535, 65_536, size - 1 })
        {
            var proof = tree.InclusionProof(index, size);
            Assert.True(MerkleVerifier.VerifyInclusion(index, size, hashes[(int)index], proof, tree.Root()).IsOk);
        }

        var consistency = tree.ConsistencyProof(65_537, size);
        Assert.True(MerkleVerifier.VerifyConsistency(65_537, size, tree.RootAt(65_537), tree.Root(), consistency).IsOk);
    }

    [Fact]
    public void ProofSizesGrowLogarithmically()
    {
        var tree = new MerkleTree();
        for (var i = 0; i < 100_000; i++)
        {
            tree.AppendLeaf(Bytes.Leaf(i));
        }

        Assert.Equal(17, tree.InclusionProof(12_345, 100_000).Count);
        Assert.InRange(tree.ConsistencyProof(12_345, 100_000).Count, 1, 2 * 17);
    }

    [Fact]
    public void OutOfRangeRequestsAreCallerBugs()
    {
        var tree = Bytes.TreeOf([[1], [2], [3]]);

        Assert.Throws<ArgumentOutOfRangeException>(() => tree.RootAt(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.LeafHash(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.InclusionProof(3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.InclusionProof(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => tree.ConsistencyProof(3, 2));
        Assert.Throws<ArgumentException>(() => tree.AppendLeafHash(new byte[31]));
        Assert.Equal(3, tree.Size);
    }

    [Fact]
    public void LeafHashesAreDomainSeparatedFromNodeHashes()
    {
        // A 64-byte leaf equal to two child hashes must not hash like the interior node (second preimage defence).
        var a = MerkleHash.HashLeaf([1]);
        var b = MerkleHash.HashLeaf([2]);
        Assert.NotEqual(MerkleHash.HashChildren(a, b), MerkleHash.HashLeaf([.. a, .. b]));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData([0x01, .. a, .. b]), MerkleHash.HashChildren(a, b));
    }
}
