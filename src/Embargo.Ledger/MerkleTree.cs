using System.Numerics;

namespace Embargo.Ledger;

/// <summary>
/// An in-memory, append-only RFC 6962 Merkle tree. Not thread-safe: the caller locks.
/// </summary>
/// <remarks>
/// Level 0 holds the leaf hashes; level k holds the hash of every complete, aligned block of 2^k leaves.
/// Any subtree hash MTH(D[a:b]) that RFC 6962's recursion asks for has <c>a</c> aligned to the largest
/// power of two in <c>b - a</c>, so it is a fold of at most 64 stored nodes: roots and proofs cost O(log n).
/// Storage is about 2 × 32 bytes per leaf, in fixed-size chunks so that growth never copies.
/// </remarks>
public sealed class MerkleTree
{
    private const int ChunkShift = 11; // 2048 nodes = 64 KiB per chunk, below the large-object heap threshold
    private const int ChunkNodes = 1 << ChunkShift;
    private const int ChunkMask = ChunkNodes - 1;
    private const int HashSize = MerkleHash.Size;

    private readonly List<List<byte[]>> _levels = [];

    public MerkleTree()
    {
    }

    /// <summary>Number of leaves.</summary>
    public long Size { get; private set; }

    /// <summary>Appends a leaf by its RFC 6962 leaf hash (32 bytes). Amortised O(1) hashing.</summary>
    public void AppendLeafHash(ReadOnlySpan<byte> leafHash)
    {
        if (leafHash.Length != HashSize)
        {
            throw new ArgumentException($"A leaf hash is {HashSize} bytes, got {leafHash.Length}.", nameof(leafHash));
        }

        var index = Size;
        leafHash.CopyTo(Slot(0, index));

        // Each time the new node completes a pair, store the parent one level up.
        var level = 0;
        while ((index & 1) == 1)
        {
            var left = Node(level, index - 1);
            var right = Node(level, index);
            index >>= 1;
            level++;
            MerkleHash.HashChildren(left, right, Slot(level, index));
        }

        Size++;
    }

    /// <summary>Hashes and appends a leaf; returns its index.</summary>
    public long AppendLeaf(ReadOnlySpan<byte> leafData)
    {
        Span<byte> hash = stackalloc byte[HashSize];
        MerkleHash.HashLeaf(leafData, hash);
        var index = Size;
        AppendLeafHash(hash);
        return index;
    }

    /// <summary>The leaf hash at <paramref name="index"/> (a copy).</summary>
    public byte[] LeafHash(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Size);
        return Node(0, index).ToArray();
    }

    /// <summary>MTH of all leaves.</summary>
    public byte[] Root() => RootAt(Size);

    /// <summary>MTH(D[0:size]) for any size up to <see cref="Size"/>. O(log n).</summary>
    public byte[] RootAt(long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, Size);
        return size == 0 ? MerkleHash.EmptyRoot() : SubtreeHash(0, size);
    }

    /// <summary>RFC 9162 §2.1.3.1 inclusion proof of leaf <paramref name="index"/> in the tree of <paramref name="size"/> leaves, leaf to root.</summary>
    public IReadOnlyList<byte[]> InclusionProof(long index, long size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(size, Size);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, size);

        // PATH(m, D[lo:hi]) = PATH(m, D[lo:lo+k]) : MTH(D[lo+k:hi]) or PATH(m, D[lo+k:hi]) : MTH(D[lo:lo+k]).
        // Walking top-down yields the siblings root first; the proof lists them leaf first.
        var proof = new List<byte[]>(64);
        long lo = 0, hi = size;
        while (hi - lo > 1)
        {
            var k = ProofShape.SplitPoint(hi - lo);
            if (index - lo < k)
            {
                proof.Add(SubtreeHash(lo + k, hi));
                hi = lo + k;
            }
            else
            {
                proof.Add(SubtreeHash(lo, lo + k));
                lo += k;
            }
        }

        proof.Reverse();
        return proof;
    }

    /// <summary>RFC 9162 §2.1.4.1 consistency proof between tree sizes; empty when oldSize is 0 or equals newSize.</summary>
    public IReadOnlyList<byte[]> ConsistencyProof(long oldSize, long newSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(oldSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(oldSize, newSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(newSize, Size);
        if (oldSize == 0 || oldSize == newSize)
        {
            return [];
        }

        // SUBPROOF(m, D[lo:hi], b): while m is inside the left half recurse left (keeping b), else recurse right
        // with b = false; at m == hi emit MTH(D[lo:hi]) unless b is still true.
        var proof = new List<byte[]>(64);
        long lo = 0, hi = newSize;
        var complete = true;
        while (oldSize != hi)
        {
            var k = ProofShape.SplitPoint(hi - lo);
            if (oldSize - lo <= k)
            {
                proof.Add(SubtreeHash(lo + k, hi));
                hi = lo + k;
            }
            else
            {
                proof.Add(SubtreeHash(lo, lo + k));
                lo += k;
                complete = false;
            }
        }

        if (!complete)
        {
            proof.Add(SubtreeHash(lo, hi));
        }

        proof.Reverse();
        return proof;
    }

    /// <summary>MTH(D[lo:hi]) where lo is aligned to the largest power of two in hi - lo.</summary>
    private byte[] SubtreeHash(long lo, long hi)
    {
        var length = hi - lo;
        var top = 63 - BitOperations.LeadingZeroCount((ulong)length);
        if (length <= 0 || (lo & ((1L << top) - 1)) != 0)
        {
            throw new InvalidOperationException($"Range [{lo}, {hi}) is not an RFC 6962 subtree.");
        }

        // Split the range into complete blocks, largest first, then fold right to left:
        // MTH = H(block0, H(block1, ... H(block_{n-2}, block_{n-1}))).
        Span<int> levels = stackalloc int[64];
        Span<long> indices = stackalloc long[64];
        var blocks = 0;
        var position = lo;
        for (var level = top; level >= 0; level--)
        {
            if ((length & (1L << level)) != 0)
            {
                levels[blocks] = level;
                indices[blocks] = position >> level;
                blocks++;
                position += 1L << level;
            }
        }

        var accumulator = Node(levels[blocks - 1], indices[blocks - 1]).ToArray();
        for (var i = blocks - 2; i >= 0; i--)
        {
            MerkleHash.HashChildren(Node(levels[i], indices[i]), accumulator, accumulator);
        }

        return accumulator;
    }

    private ReadOnlySpan<byte> Node(int level, long index) =>
        _levels[level][(int)(index >> ChunkShift)].AsSpan((int)(index & ChunkMask) * HashSize, HashSize);

    private Span<byte> Slot(int level, long index)
    {
        if (_levels.Count == level)
        {
            _levels.Add([]);
        }

        var chunks = _levels[level];
        var chunk = (int)(index >> ChunkShift);
        if (chunks.Count == chunk)
        {
            chunks.Add(new byte[ChunkNodes * HashSize]);
        }

        return chunks[chunk].AsSpan((int)(index & ChunkMask) * HashSize, HashSize);
    }
}
