namespace Embargo.Weights;

/// <summary>The one way weights files are processed in parallel: largest first, bounded, with progress, stopping at the first error.</summary>
internal static class PerFile
{
    public static async Task<WeightsResult<T[]>> RunAsync<T>(IReadOnlyList<(string Path, long Bytes)> files, int degreeOfParallelism,
        IProgress<HashProgress>? progress, Func<int, Action<long>, CancellationToken, WeightsResult<T>> work, CancellationToken ct)
    {
        var results = new T[files.Count];
        var errors = new WeightsError?[files.Count];
        var total = files.Sum(f => f.Bytes);
        long done = 0;
        var filesDone = 0;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, files.Count).OrderByDescending(i => files[i].Bytes),
                new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, degreeOfParallelism), CancellationToken = failed.Token },
                (i, token) =>
                {
                    var r = work(i, bytes =>
                    {
                        var now = Interlocked.Add(ref done, bytes);
                        progress?.Report(new HashProgress(files[i].Path, now, total, Volatile.Read(ref filesDone), files.Count));
                    }, token);
                    if (r.IsOk)
                    {
                        results[i] = r.Value;
                        var fd = Interlocked.Increment(ref filesDone);
                        progress?.Report(new HashProgress(files[i].Path, Interlocked.Read(ref done), total, fd, files.Count));
                    }
                    else
                    {
                        errors[i] = r.Error;
                        failed.Cancel();
                    }
                    return ValueTask.CompletedTask;
                });
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // a file failed; reported below
        }
        ct.ThrowIfCancellationRequested();
        var firstError = errors.FirstOrDefault(e => e is not null);
        return firstError is not null ? firstError : WeightsResult<T[]>.Ok(results);
    }
}
