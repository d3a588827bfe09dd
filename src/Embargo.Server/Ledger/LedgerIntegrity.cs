using Embargo.Ledger;
using Embargo.Protocol;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Ledger;

/// <summary>
/// The server never signs a history it did not write. Every checkpoint it signs is stored (signed_checkpoints);
/// at start, and before each signing, it recomputes leaf hashes from the stored leaf bytes (never trusting the
/// stored hash column) and checks the tree against the last checkpoint it signed: no leaf missing below that
/// size, the same root at that size, and the tree consistent beyond it. The full recompute runs at start; before
/// a signing only the leaves past the verified watermark are recomputed. On a mismatch the failure is kept in
/// <see cref="LedgerState.Failure"/>: no signing, no writes, /healthz unhealthy, until an operator acts.
/// </summary>
public sealed partial class LedgerIntegrity(LedgerState state, LedgerSigner signer, TimeProvider time, ILogger<LedgerIntegrity> logger)
{
    private const int Page = 10_000;
    private long _stored = -1;

    /// <summary>Checks the stored ledger against the signed history; returns the failure (also kept in the state) or null.</summary>
    public async Task<LedgerIntegrityFailure?> VerifyAsync(EmbargoDb db, CancellationToken ct) => (await CheckAsync(db, ct)).Failure;

    /// <summary>The failure, or the size verified (null when the tree was reset meanwhile by a failed batch: check again).</summary>
    private async Task<(LedgerIntegrityFailure? Failure, long? Size)> CheckAsync(EmbargoDb db, CancellationToken ct)
    {
        if (state.Failure is { } known)
        {
            return (known, null);
        }
        // The anchor is read before catching up: whatever it covers was committed before it was signed.
        var anchor = await LatestSignedAsync(db, ct);
        await state.CatchUpAsync(db, ct);
        if (state.Failure is { } gap)
        {
            return (Failed(gap), null);
        }
        var size = state.Size;
        var stored = (await db.LedgerLeaves.MaxAsync(l => (long?)l.Index, ct) ?? -1) + 1;
        if (stored < size)
        {
            return (Failed(new LedgerIntegrityFailure(stored, $"leaf {stored} is missing from the store: this server's tree holds {size} leaves")), null);
        }
        var from = state.VerifiedSize;
        while (from < size)
        {
            var leaves = await db.LedgerLeaves.AsNoTracking()
                .Where(l => l.Index >= from && l.Index < size).OrderBy(l => l.Index).Take(Page)
                .Select(l => new { l.Index, l.Data }).ToListAsync(ct);
            if (leaves.Count == 0 || leaves[0].Index != from)
            {
                return (Failed(new LedgerIntegrityFailure(from, $"leaf {from} is missing from the store although the tree holds {size} leaves")), null);
            }
            foreach (var leaf in leaves)
            {
                if (leaf.Index != from)
                {
                    return (Failed(new LedgerIntegrityFailure(from, $"leaf {from} is missing from the store: the next stored leaf is {leaf.Index}")), null);
                }
                var recomputed = MerkleHash.HashLeaf(leaf.Data);
                var appended = state.Read(t => leaf.Index < t.Size ? t.LeafHash(leaf.Index) : null);
                if (appended is null)
                {
                    return (null, null);
                }
                if (!appended.AsSpan().SequenceEqual(recomputed))
                {
                    return (Failed(new LedgerIntegrityFailure(leaf.Index, $"the stored bytes of leaf {leaf.Index} no longer hash to the leaf hash this server appended")), null);
                }
                from++;
            }
        }
        if (anchor is not null && CheckAgainst(anchor, size) is { } differs)
        {
            return (Failed(await LocateAsync(db, differs, size, ct)), null);
        }
        state.MarkVerified(size);
        return (null, size);
    }

    /// <summary>Verifies, then signs the current tree and stores the signed checkpoint.</summary>
    public async Task<Result<string>> SignAsync(EmbargoDb db, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var (failure, verified) = await CheckAsync(db, ct);
            if (failure is not null)
            {
                return failure.ToError();
            }
            // Exactly the size just verified, never whatever the tree holds a moment later (or after a reset, less).
            if (verified is not { } size || state.Read(t => t.Size >= size ? t.RootAt(size) : null) is not { } root)
            {
                continue;
            }
            var note = signer.SignCheckpoint(size, root);
            if (size > Interlocked.Read(ref _stored))
            {
                // Replicas sharing the store may sign the same size at once: the same key signs the same bytes, one row stays.
                var at = time.GetUtcNow();
                await db.Database.ExecuteSqlInterpolatedAsync(
                    $"INSERT INTO signed_checkpoints (size, root, note, signed_at) VALUES ({size}, {root}, {note}, {at}) ON CONFLICT (size) DO NOTHING", ct);
                InterlockedMax(ref _stored, size);
            }
            return note;
        }
        return new ProtocolError { Kind = ErrorKind.Unavailable, Code = "ledger-catching-up", Message = "the ledger tree is being rebuilt after a failed write; ask again" };
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Interlocked.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    /// <summary>The largest stored checkpoint whose note verifies under this server's key (rows whose note does not are not trusted).</summary>
    private async Task<Checkpoint?> LatestSignedAsync(EmbargoDb db, CancellationToken ct)
    {
        long? below = null;
        while (true)
        {
            var query = db.SignedCheckpoints.AsNoTracking();
            if (below is { } b)
            {
                query = query.Where(c => c.Size < b);
            }
            var rows = await query.OrderByDescending(c => c.Size).Take(16).Select(c => new { c.Size, c.Note }).ToListAsync(ct);
            if (rows.Count == 0)
            {
                return null;
            }
            foreach (var row in rows)
            {
                if (signer.Open(row.Note) is { } checkpoint && checkpoint.Size == row.Size)
                {
                    return checkpoint;
                }
                LogUntrustedCheckpoint(logger, row.Size);
            }
            below = rows[^1].Size;
        }
    }

    private string? CheckAgainst(Checkpoint anchor, long size)
    {
        if (size < anchor.Size)
        {
            return "missing";
        }
        return state.Read(tree =>
        {
            if (!tree.RootAt(anchor.Size).AsSpan().SequenceEqual(anchor.RootHash))
            {
                return "root";
            }
            if (anchor.Size == 0 || anchor.Size == size)
            {
                return null;
            }
            var proof = tree.ConsistencyProof(anchor.Size, size);
            return MerkleVerifier.VerifyConsistency(anchor.Size, size, anchor.RootHash, tree.RootAt(size), proof).IsOk ? null : "consistency";
        });
    }

    /// <summary>
    /// Names the first leaf that differs. Every signed checkpoint is a root at one size: the first stored checkpoint
    /// whose root no longer matches, after the last one that still does, brackets the first rewritten leaf.
    /// </summary>
    private async Task<LedgerIntegrityFailure> LocateAsync(EmbargoDb db, string what, long size, CancellationToken ct)
    {
        var rows = await db.SignedCheckpoints.AsNoTracking().OrderBy(c => c.Size).Select(c => new { c.Size, c.Note }).ToListAsync(ct);
        var signed = rows.Select(r => signer.Open(r.Note)).OfType<Checkpoint>().ToList();
        if (what == "missing")
        {
            var covered = signed.Select(c => c.Size).DefaultIfEmpty(size).Max();
            return new LedgerIntegrityFailure(size, $"leaf {size} is missing: the store holds {size} leaves but this server signed a checkpoint of {covered}");
        }
        long good = 0;
        foreach (var checkpoint in signed.Where(c => c.Size <= size))
        {
            var matches = state.Read(t => t.RootAt(checkpoint.Size)).AsSpan().SequenceEqual(checkpoint.RootHash);
            if (matches)
            {
                good = checkpoint.Size;
                continue;
            }
            return checkpoint.Size - good == 1
                ? new LedgerIntegrityFailure(good, $"leaf {good} differs from the one this server signed: the root at size {checkpoint.Size} no longer matches its signed checkpoint, the root at size {good} still does")
                : new LedgerIntegrityFailure(good, $"the first leaf that differs is between {good} and {checkpoint.Size - 1}: the root at size {checkpoint.Size} no longer matches its signed checkpoint, the root at size {good} still does");
        }
        return new LedgerIntegrityFailure(good, $"the tree is not consistent with the checkpoint this server signed ({what})");
    }

    private LedgerIntegrityFailure Failed(LedgerIntegrityFailure failure)
    {
        var first = state.MarkFailed(failure);
        LogIntegrityFailure(logger, first.Index, first.Detail);
        return first;
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Ledger integrity failure at leaf {Index}: {Detail}. Signing and writes are refused until an operator restores the store and restarts the server")]
    private static partial void LogIntegrityFailure(ILogger logger, long index, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The stored checkpoint of size {Size} does not verify under this server's ledger key; it is not trusted")]
    private static partial void LogUntrustedCheckpoint(ILogger logger, long size);
}
