using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Ledger;
using Microsoft.Extensions.DependencyInjection;

namespace Embargo.Server.Tests.Infrastructure;

/// <summary>
/// Holds the server's ledger writer inside a unit of work of its own, so that the requests sent meanwhile are
/// authenticated, queue up behind it and are then committed together, in the order they were queued, in one batch.
/// </summary>
public sealed class WriterGate : IAsyncDisposable
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task<Result<bool>> _held = Task.FromResult<Result<bool>>(true);

    private WriterGate(LedgerWriter writer) => Writer = writer;

    public LedgerWriter Writer { get; }

    public static async Task<WriterGate> CloseAsync(EmbargoHost host)
    {
        var gate = new WriterGate(host.Services.GetRequiredService<LedgerWriter>());
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate._held = gate.Writer.ExecuteAsync<bool>(Caller.System, async (_, ct) =>
        {
            entered.TrySetResult();
            await gate._open.Task.WaitAsync(ct);
            return true;
        }, CancellationToken.None);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return gate;
    }

    /// <summary>Waits until <paramref name="count"/> units are queued behind the gate.</summary>
    public async Task QueuedAsync(int count)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check()
        {
            if (Writer.Queued >= count)
            {
                reached.TrySetResult();
            }
        }
        Writer.Enqueued += Check;
        try
        {
            Check();
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            Writer.Enqueued -= Check;
        }
        Assert.Equal(count, Writer.Queued);
    }

    public async Task OpenAsync()
    {
        _open.TrySetResult();
        Assert.True((await _held).IsOk);
    }

    public async ValueTask DisposeAsync()
    {
        _open.TrySetResult();
        await _held;
    }
}
