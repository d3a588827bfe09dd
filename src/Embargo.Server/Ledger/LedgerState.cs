using Embargo.Ledger;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Ledger;

/// <summary>
/// The in-memory Merkle tree over the stored leaves (32 bytes a leaf plus interior nodes), kept in step
/// with the database: it only ever catches up from committed rows, so replicas sharing one database agree.
/// </summary>
public sealed class LedgerState
{
    private readonly Lock _gate = new();
    private MerkleTree _tree = new();

    public long Size
    {
        get { lock (_gate) { return _tree.Size; } }
    }

    public async Task CatchUpAsync(EmbargoDb db, CancellationToken ct)
    {
        long from;
        lock (_gate)
        {
            from = _tree.Size;
        }
        const int page = 50_000;
        while (true)
        {
            var hashes = await db.LedgerLeaves.AsNoTracking()
                .Where(l => l.Index >= from).OrderBy(l => l.Index).Take(page)
                .Select(l => new { l.Index, l.Hash }).ToListAsync(ct);
            if (hashes.Count == 0)
            {
                return;
            }
            lock (_gate)
            {
                foreach (var leaf in hashes)
                {
                    if (leaf.Index == _tree.Size)
                    {
                        _tree.AppendLeafHash(leaf.Hash);
                    }
                    else if (leaf.Index > _tree.Size)
                    {
                        throw new InvalidOperationException($"ledger gap: leaf {leaf.Index} follows size {_tree.Size}");
                    }
                }
                from = _tree.Size;
            }
            if (hashes.Count < page)
            {
                return;
            }
        }
    }

    /// <summary>Adds leaves committed by this process, in index order.</summary>
    public void Apply(IEnumerable<(long Index, byte[] Hash)> committed)
    {
        lock (_gate)
        {
            foreach (var (index, hash) in committed.OrderBy(c => c.Index))
            {
                if (index == _tree.Size)
                {
                    _tree.AppendLeafHash(hash);
                }
            }
        }
    }

    public void Reset()
    {
        lock (_gate)
        {
            _tree = new MerkleTree();
        }
    }

    public T Read<T>(Func<MerkleTree, T> read)
    {
        lock (_gate)
        {
            return read(_tree);
        }
    }
}
