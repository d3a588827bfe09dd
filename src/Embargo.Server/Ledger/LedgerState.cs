using Embargo.Ledger;
using Embargo.Protocol;
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
    private long _verified;
    private LedgerIntegrityFailure? _failure;

    public long Size
    {
        get { lock (_gate) { return _tree.Size; } }
    }

    /// <summary>Leaves [0, VerifiedSize) were recomputed from their stored bytes and matched the signed history.</summary>
    public long VerifiedSize
    {
        get { lock (_gate) { return _verified; } }
    }

    /// <summary>
    /// Set when the stored ledger no longer matches the history this server signed. It stays set for the life of
    /// the process: the server then neither signs nor writes until an operator restores the store and restarts it.
    /// </summary>
    public LedgerIntegrityFailure? Failure
    {
        get { lock (_gate) { return _failure; } }
    }

    /// <summary>Records the first failure (later ones are consequences of it).</summary>
    public LedgerIntegrityFailure MarkFailed(LedgerIntegrityFailure failure)
    {
        lock (_gate)
        {
            return _failure ??= failure;
        }
    }

    public void MarkVerified(long size)
    {
        lock (_gate)
        {
            _verified = Math.Min(Math.Max(_verified, size), _tree.Size);
        }
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
                        _failure ??= new LedgerIntegrityFailure(_tree.Size, $"leaf {_tree.Size} is missing from the store: the next stored leaf is {leaf.Index}");
                        return;
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
            _verified = 0;
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

/// <summary>What differs between the stored ledger and the history this server signed, from which leaf on.</summary>
public sealed record LedgerIntegrityFailure(long Index, string Detail)
{
    public ProtocolError ToError() => new()
    {
        Kind = ErrorKind.Unavailable,
        Code = "ledger-integrity",
        Message = $"the ledger failed its integrity check at leaf {Index}: {Detail}. The server signs nothing and accepts no writes until an operator restores the store and restarts it",
        LedgerIndex = Index,
    };
}
