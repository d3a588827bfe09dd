using System.Threading.Channels;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Infrastructure;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Ledger;

/// <summary>
/// The single writer. Every state change runs here as a unit of work; waiting units are committed together
/// in one transaction (group commit). A refused unit writes nothing; a unit that throws is failed alone and the
/// transaction is rolled back and the other units run again in a fresh one, so nothing is ever half-written.
/// Callers are answered after the commit.
/// </summary>
public sealed partial class LedgerWriter(
    EmbargoDbFactory dbFactory,
    LedgerState state,
    TimeProvider time,
    IOptions<EmbargoOptions> options,
    ILogger<LedgerWriter> logger) : BackgroundService
{
    private readonly Channel<IWork> _queue = Channel.CreateUnbounded<IWork>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Units queued and not yet picked up by the writer.</summary>
    public int Queued => Volatile.Read(ref _queued);

    private int _queued;

    /// <summary>Raised after a unit is queued, on the caller's thread: what a watcher waits on instead of polling <see cref="Queued"/>.</summary>
    public event Action? Enqueued;

    public Task<Result<T>> ExecuteAsync<T>(Caller caller, Func<UnitOfWork, CancellationToken, Task<Result<T>>> work, CancellationToken ct)
    {
        var item = new Work<T>(caller, work, ct);
        Interlocked.Increment(ref _queued);
        if (!_queue.Writer.TryWrite(item))
        {
            Interlocked.Decrement(ref _queued);
            throw new InvalidOperationException("the ledger writer has stopped");
        }
        Enqueued?.Invoke();
        return item.Completion.Task;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<IWork>();
        var max = options.Value.LedgerBatchSize;
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                batch.Clear();
                while (batch.Count < max && _queue.Reader.TryRead(out var item))
                {
                    Interlocked.Decrement(ref _queued);
                    batch.Add(item);
                }
                await CommitBatchAsync(batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        _queue.Writer.TryComplete();
        while (_queue.Reader.TryRead(out var left))
        {
            left.Fail(new OperationCanceledException("the server is stopping"));
        }
    }

    private async Task CommitBatchAsync(List<IWork> batch, CancellationToken stoppingToken)
    {
        var pending = batch;
        while (pending.Count > 0)
        {
            pending = await TryCommitAsync(pending, stoppingToken);
        }
    }

    /// <summary>
    /// Runs and commits the units; returns the units to run again in a fresh transaction when one of them threw
    /// (PostgreSQL aborts a transaction on any error, so the whole transaction is abandoned, not patched up).
    /// </summary>
    private async Task<List<IWork>> TryCommitAsync(List<IWork> batch, CancellationToken stoppingToken)
    {
        var accepted = new List<(IWork Work, UnitOfWork Unit)>();
        if (state.Failure is { } failed)
        {
            // The stored ledger no longer matches the history this server signed: nothing more is written to it.
            RefuseAll(batch, failed);
            return [];
        }
        try
        {
            await using var db = dbFactory.CreateDbContext();
            // No savepoint per unit: a unit that throws abandons the whole transaction and the others run again
            // (below), which PostgreSQL needs anyway and which saves two round trips per unit.
            db.Database.AutoSavepointsEnabled = false;
            await using var tx = await db.Database.BeginTransactionAsync(stoppingToken);
            if (dbFactory.Provider == StorageProvider.Postgres)
            {
                // One writer at a time across replicas sharing the database.
                await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock(7245001)", stoppingToken);
            }
            var next = (await db.LedgerLeaves.MaxAsync(l => (long?)l.Index, stoppingToken) ?? -1) + 1;
            await state.CatchUpAsync(db, stoppingToken);
            if (state.Failure is null && next < state.Size)
            {
                state.MarkFailed(new LedgerIntegrityFailure(next, $"leaf {next} is missing from the store: this server appended {state.Size} leaves"));
            }
            if (state.Failure is { } gap)
            {
                LogIntegrityRefusal(logger, gap.Index, gap.Detail);
                RefuseAll(batch, gap);
                return [];
            }
            var now = time.GetUtcNow();
            var standing = new Dictionary<string, PrincipalStanding?>(StringComparer.Ordinal);
            foreach (var work in batch)
            {
                if (work.Cancellation.IsCancellationRequested)
                {
                    work.Fail(new OperationCanceledException(work.Cancellation));
                    continue;
                }
                var unit = new UnitOfWork(db, work.Caller, now, next);
                try
                {
                    // Authority is checked at commit, inside the transaction: a token revoked or replaced (or a principal
                    // moved) after the request was authenticated writes nothing.
                    if (await StandingAsync(db, work.Caller, standing, stoppingToken) is { } lapsed)
                    {
                        work.Refuse(lapsed);
                        continue;
                    }
                    if (await work.RunAsync(unit, stoppingToken))
                    {
                        if (db.ChangeTracker.Entries<PrincipalEntity>().Any(e => e.State is EntityState.Added or EntityState.Modified or EntityState.Deleted))
                        {
                            standing.Clear();
                        }
                        await db.SaveChangesAsync(stoppingToken);
                        next = unit.NextIndex;
                        accepted.Add((work, unit));
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    LogUnitFailed(logger, e);
                    work.Fail(e);
                    try
                    {
                        await tx.RollbackAsync(CancellationToken.None);
                    }
                    catch (Exception rollback) when (rollback is InvalidOperationException or ObjectDisposedException or System.Data.Common.DbException)
                    {
                        // Already rolled back by the provider; disposing the transaction finishes the job.
                    }
                    // Units already answered (refused, or this failed one) are not run again.
                    return batch.Where(w => !w.IsCompleted).ToList();
                }
                finally
                {
                    db.ChangeTracker.Clear();
                }
            }
            if (accepted.Count == 0)
            {
                return [];
            }
            await tx.CommitAsync(stoppingToken);
        }
        catch (Exception e)
        {
            LogBatchFailed(logger, e, batch.Count);
            state.Reset();
            foreach (var work in batch.Where(w => !w.IsCompleted))
            {
                work.Fail(e);
            }
            return [];
        }
        state.Apply(accepted.SelectMany(a => a.Unit.Appended));
        foreach (var (work, _) in accepted)
        {
            work.Complete();
        }
        return [];
    }

    private sealed record PrincipalStanding(string OrganisationId, string Role, string TokenHash);

    /// <summary>Null when the caller may still act as it authenticated; otherwise the refusal.</summary>
    private static async Task<ProtocolError?> StandingAsync(EmbargoDb db, Caller caller, Dictionary<string, PrincipalStanding?> cache, CancellationToken ct)
    {
        if (caller == Caller.System || (caller.Role == Role.Admin && caller.TokenHash is null && caller.PrincipalId == "admin"))
        {
            return null; // the system itself, and the configured admin token (not a stored principal)
        }
        if (!cache.TryGetValue(caller.PrincipalId, out var current))
        {
            current = await db.Principals.AsNoTracking().Where(p => p.Id == caller.PrincipalId)
                .Select(p => new PrincipalStanding(p.OrganisationId, p.Role, p.TokenHash)).FirstOrDefaultAsync(ct);
            cache[caller.PrincipalId] = current;
        }
        if (current is null || (caller.TokenHash is not null && !string.Equals(current.TokenHash, caller.TokenHash, StringComparison.Ordinal)))
        {
            return new ProtocolError
            {
                Kind = ErrorKind.Forbidden, Code = "credential-revoked",
                Message = $"the token of principal {caller.PrincipalId} was revoked or replaced before this write committed; nothing was written",
            };
        }
        if (current.OrganisationId != caller.OrganisationId || current.Role != caller.Role.Name())
        {
            return new ProtocolError
            {
                Kind = ErrorKind.Forbidden, Code = "credential-changed",
                Message = $"principal {caller.PrincipalId} is no longer a {caller.Role.Name()} of {caller.OrganisationId}; nothing was written",
            };
        }
        return null;
    }

    private static void RefuseAll(List<IWork> batch, LedgerIntegrityFailure failure)
    {
        var error = failure.ToError();
        foreach (var work in batch.Where(w => !w.IsCompleted))
        {
            work.Refuse(error);
        }
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "Writes refused: the ledger failed its integrity check at leaf {Index}: {Detail}")]
    private static partial void LogIntegrityRefusal(ILogger logger, long index, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "A unit of work failed and was rolled back")]
    private static partial void LogUnitFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Error, Message = "A ledger batch of {Count} units failed to commit")]
    private static partial void LogBatchFailed(ILogger logger, Exception e, int count);

    private interface IWork
    {
        Caller Caller { get; }
        CancellationToken Cancellation { get; }
        bool IsCompleted { get; }
        /// <summary>Runs the unit; true when it wants its changes committed, false when it was refused (answered already).</summary>
        Task<bool> RunAsync(UnitOfWork unit, CancellationToken ct);
        void Complete();
        void Fail(Exception e);
        /// <summary>Answers with a refusal without running the unit.</summary>
        void Refuse(ProtocolError error);
    }

    private sealed class Work<T>(Caller caller, Func<UnitOfWork, CancellationToken, Task<Result<T>>> run, CancellationToken ct) : IWork
    {
        private Result<T> _result;

        public TaskCompletionSource<Result<T>> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Caller Caller => caller;
        public CancellationToken Cancellation => ct;
        public bool IsCompleted => Completion.Task.IsCompleted;

        public async Task<bool> RunAsync(UnitOfWork unit, CancellationToken stoppingToken)
        {
            _result = await run(unit, stoppingToken);
            if (!_result.IsOk)
            {
                Completion.TrySetResult(_result);
                return false;
            }
            return true;
        }

        public void Complete() => Completion.TrySetResult(_result);
        public void Fail(Exception e) => Completion.TrySetException(e);
        public void Refuse(ProtocolError error) => Completion.TrySetResult(error);
    }
}
