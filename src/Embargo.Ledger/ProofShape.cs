using System.Numerics;

namespace Embargo.Ledger;

/// <summary>Shared arithmetic of RFC 6962 trees: split points and the lengths proofs must have.</summary>
internal static class ProofShape
{
    /// <summary>The largest power of two strictly less than <paramref name="n"/> (n &gt; 1): RFC 6962's k.</summary>
    public static long SplitPoint(long n) => 1L << (63 - BitOperations.LeadingZeroCount((ulong)(n - 1)));

    /// <summary>Number of hashes in PATH(index, D[size]); requires 0 &lt;= index &lt; size.</summary>
    public static int InclusionLength(long index, long size)
    {
        var count = 0;
        long lo = 0, hi = size;
        while (hi - lo > 1)
        {
            var k = SplitPoint(hi - lo);
            if (index - lo < k)
            {
                hi = lo + k;
            }
            else
            {
                lo += k;
            }

            count++;
        }

        return count;
    }

    /// <summary>Number of hashes in PROOF(oldSize, D[newSize]); requires 0 &lt; oldSize &lt;= newSize.</summary>
    public static int ConsistencyLength(long oldSize, long newSize)
    {
        var count = 0;
        long lo = 0, hi = newSize;
        var complete = true;
        while (oldSize != hi)
        {
            var k = SplitPoint(hi - lo);
            if (oldSize - lo <= k)
            {
                hi = lo + k;
            }
            else
            {
                lo += k;
                complete = false;
            }

            count++;
        }

        return complete ? count : count + 1;
    }
}
