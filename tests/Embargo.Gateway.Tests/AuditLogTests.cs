using System.Text.Json;
using Embargo.Ledger;
using Microsoft.Extensions.Time.Testing;

namespace Embargo.Gateway.Tests;

public sealed class AuditLogTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("embargo-audit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static AuditRecord Line(int thread, int i) => new()
    {
        Time = DateTimeOffset.UnixEpoch.AddSeconds(i),
        Grantee = $"grantee-{thread}",
        Model = "camelid-7b",
        Decision = Decisions.Allowed,
        Status = 200,
        PromptSha256 = InlineSha256.Of($"prompt {thread} {i}"),
        TotalTokens = i,
    };

    [Fact]
    public async Task LinesRecordedFromManyThreadsAllReachTheFileWholeAndOnceAndARestartNumbersOnFromTheFilesLastLine()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        const int threads = 8, perThread = 2_000;
        var first = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256);
        await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < perThread; i++)
            {
                first.Record(Line(t, i));
            }
        })));
        await first.DisposeAsync(); // no FlushAsync: disposing writes what is pending

        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(threads * perThread, lines.Length);
        Assert.Equal(threads * perThread, first.Written);
        var seen = lines.Select(l => JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("grantee").GetString(), e.GetProperty("usage").GetProperty("total_tokens").GetInt64()))
            .ToHashSet();
        Assert.Equal(threads * perThread, seen.Count);
        // Each thread's lines are in the order it recorded them.
        for (var t = 0; t < threads; t++)
        {
            var own = lines.Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("grantee").GetString() == $"grantee-{t}")
                .Select(e => e.GetProperty("usage").GetProperty("total_tokens").GetInt64()).ToList();
            Assert.Equal(Enumerable.Range(0, perThread).Select(i => (long)i), own);
        }

        // A restarted gateway appends after the existing lines and numbers its ledger batches from there.
        var batches = new List<AuditLog.AuditBatch>();
        await using var second = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, (batch, _) =>
        {
            batches.Add(batch);
            return Task.FromResult<long?>(batches.Count);
        });
        second.Record(Line(99, 0));
        second.Record(Line(99, 1));
        await second.FlushAsync();
        await second.PostBatchesAsync(all: true, CancellationToken.None);

        var after = await File.ReadAllLinesAsync(path);
        Assert.Equal(threads * perThread + 2, after.Length);
        Assert.Equal(lines, after[..lines.Length]);
        var batch = Assert.Single(batches);
        Assert.Equal(threads * perThread, batch.FirstLine);
        Assert.Equal(2, batch.Lines);
        var tree = new MerkleTree();
        foreach (var line in after[^2..])
        {
            tree.AppendLeaf(System.Text.Encoding.UTF8.GetBytes(line));
        }
        Assert.Equal(Convert.ToHexStringLower(tree.Root()), batch.Root);
    }

    [Fact]
    public async Task AFailedFileWriteKeepsItsLinesAndTheTimerRetriesThemEverySecondAheadOfLinesRecordedMeanwhile()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var log = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, time: time);
        var failuresLeft = 2;
        var attempts = 0;
        log.WriteAt = (file, bytes, offset) =>
        {
            attempts++;
            if (failuresLeft > 0)
            {
                failuresLeft--;
                throw new IOException("No space left on device");
            }
            RandomAccess.Write(file, bytes, offset);
        };

        for (var i = 0; i < 3; i++)
        {
            log.Record(Line(1, i));
        }
        time.Advance(TimeSpan.FromMilliseconds(5)); // the first write: refused
        Assert.Equal(1, attempts);
        Assert.Equal(0, new FileInfo(path).Length);
        Assert.Equal(0, log.Written);
        Assert.True(log.Failing);

        log.Record(Line(1, 3)); // recorded while the first three wait
        log.Record(Line(1, 4));
        time.Advance(TimeSpan.FromMilliseconds(999)); // no attempt before the retry delay
        Assert.Equal(1, attempts);
        time.Advance(TimeSpan.FromMilliseconds(1)); // the first retry: refused again
        Assert.Equal(2, attempts);
        Assert.Equal(0, new FileInfo(path).Length);

        Assert.True(log.Failing);
        time.Advance(TimeSpan.FromSeconds(1)); // the second retry goes through
        Assert.Equal(3, attempts);
        Assert.Equal(5, log.Written);
        Assert.False(log.Failing);
        Assert.Equal(0, log.Dropped);
        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal([0L, 1, 2, 3, 4], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64()));

        // Once writes work again, a new line goes out on the ordinary short delay, after the others.
        log.Record(Line(1, 5));
        time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.Equal(4, attempts);
        Assert.Equal(6, (await File.ReadAllLinesAsync(path)).Length);
    }

    [Fact]
    public async Task WhileTheFileFailsLinesPastTheCapAreCountedNotKeptAndTheRestAreWrittenOnceItWorks()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var log = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, time: time);
        var broken = true;
        log.WriteAt = (file, bytes, offset) =>
        {
            if (broken)
            {
                throw new IOException("No space left on device");
            }
            RandomAccess.Write(file, bytes, offset);
        };
        log.Record(Line(1, 0));
        await Assert.ThrowsAsync<IOException>(log.FlushAsync);
        Assert.True(log.Failing);

        var kept = 1;
        while (new FileInfo(path).Length == 0 && log.Dropped == 0)
        {
            log.Record(Line(1, kept++));
            Assert.True(kept < 200_000, "the cap never applied");
        }
        var keptLines = kept - 1; // the last one recorded was the first dropped
        log.Record(Line(1, kept));
        Assert.Equal(2, log.Dropped);

        broken = false;
        await log.FlushAsync();
        Assert.False(log.Failing);
        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(keptLines, lines.Length);
        Assert.True(lines.Sum(l => l.Length + 1) >= AuditLog.MaxPendingWhileFailing);
        Assert.Equal(Enumerable.Range(0, keptLines).Select(i => (long)i),
            lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64()));

        log.Record(Line(1, 999_999)); // kept again
        await log.FlushAsync();
        Assert.Equal(keptLines + 1, (await File.ReadAllLinesAsync(path)).Length);
        Assert.Equal(2, log.Dropped);
    }

    private static long[] Totals(IEnumerable<string> lines) =>
        [.. lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt64())];

    [Fact]
    public async Task AtShutdownAFileThatStillFailsAfterThreeTriesHasItsLastLinesSavedBesideItAndTheErrorSaysWhere()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var log = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, time: time);
        var broken = false;
        var attempts = 0;
        log.WriteAt = (file, bytes, offset) =>
        {
            attempts++;
            if (broken)
            {
                throw new IOException("No space left on device");
            }
            RandomAccess.Write(file, bytes, offset);
        };
        log.Record(Line(1, 0));
        log.Record(Line(1, 1));
        await log.FlushAsync();
        Assert.Equal(1, attempts);

        broken = true;
        for (var i = 2; i < 5; i++)
        {
            log.Record(Line(1, i));
        }
        var pauses = new List<(int AttemptsBefore, TimeSpan Pause)>();
        log.PauseBeforeFinalRetry = pause =>
        {
            pauses.Add((attempts, pause));
            return Task.CompletedTask;
        };
        var disposing = log.DisposeAsync().AsTask();
        Assert.Equal(1 + AuditLog.FinalAttempts, attempts);
        Assert.Equal([(2, TimeSpan.FromSeconds(1)), (3, TimeSpan.FromSeconds(1))], pauses); // a second between tries, none after the last

        var e = await Assert.ThrowsAsync<AuditNotWrittenException>(() => disposing);
        Assert.Equal(3, e.LineCount);
        Assert.Equal(Path.GetFullPath(path), e.AuditFile);
        Assert.NotNull(e.SavedTo);
        Assert.Equal(Path.GetFullPath(_dir), Path.GetDirectoryName(e.SavedTo));
        Assert.Contains(e.SavedTo, e.Message);
        Assert.Contains("No space left on device", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(new long[] { 0, 1 }, Totals(await File.ReadAllLinesAsync(path)));
        Assert.Equal(new long[] { 2, 3, 4 }, Totals(await File.ReadAllLinesAsync(e.SavedTo)));
        Assert.Equal(await File.ReadAllBytesAsync(e.SavedTo), e.Lines.ToArray());

        // What the message tells the operator to do restores the whole log, in order.
        await File.AppendAllTextAsync(path, await File.ReadAllTextAsync(e.SavedTo));
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, Totals(await File.ReadAllLinesAsync(path)));
    }

    [Fact]
    public async Task AtShutdownAWriteThatFailsOnceIsTriedAgainASecondLaterAndNothingIsSavedElsewhere()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var log = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, time: time);
        var attempts = 0;
        log.WriteAt = (file, bytes, offset) =>
        {
            if (++attempts == 1)
            {
                throw new IOException("No space left on device");
            }
            RandomAccess.Write(file, bytes, offset);
        };
        for (var i = 0; i < 3; i++)
        {
            log.Record(Line(1, i));
        }
        var pauses = new List<TimeSpan>();
        log.PauseBeforeFinalRetry = pause =>
        {
            pauses.Add(pause);
            return Task.CompletedTask;
        };
        await log.DisposeAsync();
        Assert.Equal([TimeSpan.FromSeconds(1)], pauses);
        Assert.Equal(2, attempts); // one refused, one written
        Assert.Equal(new long[] { 0, 1, 2 }, Totals(await File.ReadAllLinesAsync(path)));
        Assert.Equal(["audit.jsonl"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public async Task AWriteCutShortByAFullDiskLeavesNoPartOfALineInTheFileAndTheRetryWritesThemWhole()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var log = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, time: time);
        var full = false;
        log.WriteAt = (file, bytes, offset) =>
        {
            if (full)
            {
                RandomAccess.Write(file, bytes[..(bytes.Length / 2)], offset); // what fitted
                throw new IOException("No space left on device");
            }
            RandomAccess.Write(file, bytes, offset);
        };
        log.Record(Line(1, 0));
        await log.FlushAsync();
        var whole = new FileInfo(path).Length;

        full = true;
        log.Record(Line(1, 1));
        log.Record(Line(1, 2));
        await Assert.ThrowsAsync<IOException>(log.FlushAsync);
        Assert.True(log.Failing);
        Assert.Equal(whole, new FileInfo(path).Length);

        full = false;
        await log.FlushAsync();
        Assert.Equal(new long[] { 0, 1, 2 }, Totals(await File.ReadAllLinesAsync(path)));
    }

    private static string RootOf(IEnumerable<string> lines)
    {
        var tree = new MerkleTree();
        foreach (var line in lines)
        {
            tree.AppendLeaf(System.Text.Encoding.UTF8.GetBytes(line));
        }
        return Convert.ToHexStringLower(tree.Root());
    }

    [Fact]
    public async Task LinesAGatewayStoppedWithBeforeTheLedgerTookThemArePostedFromTheFileWhenItStartsAgainSoTheBatchesStayContiguous()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var batches = new List<AuditLog.AuditBatch>();
        var ledgerUp = true;
        Task<long?> Post(AuditLog.AuditBatch batch, CancellationToken _)
        {
            if (!ledgerUp)
            {
                return Task.FromResult<long?>(null); // the server refused it
            }
            batches.Add(batch);
            return Task.FromResult<long?>(100 + batches.Count);
        }

        var first = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 2, Post);
        for (var i = 0; i < 5; i++)
        {
            first.Record(Line(1, i));
        }
        await first.FlushAsync();
        ledgerUp = false;
        await first.PostBatchesAsync(all: true, CancellationToken.None); // nothing posted: lines 0..4 wait
        ledgerUp = true;
        await first.PostBatchesAsync(all: false, CancellationToken.None); // the two whole batches; line 4 waits for a third
        ledgerUp = false;
        first.Record(Line(1, 5));
        await first.DisposeAsync(); // stopped while the ledger refuses: lines 4 and 5 are only in the file
        Assert.Equal([(0L, 2), (2L, 2)], batches.Select(b => (b.FirstLine, b.Lines)));
        var mark = LedgerMark.Read(path + ".ledger");
        Assert.Equal(new LedgerMark("edge-1", 4, 102), mark);

        ledgerUp = true;
        await using var second = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 2, Post);
        second.Record(Line(1, 6));
        await second.FlushAsync();
        await second.PostBatchesAsync(all: true, CancellationToken.None);

        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6 }, Totals(lines));
        Assert.Equal([(0L, 2), (2L, 2), (4L, 2), (6L, 1)], batches.Select(b => (b.FirstLine, b.Lines)));
        foreach (var batch in batches)
        {
            Assert.Equal(RootOf(lines.Skip((int)batch.FirstLine).Take(batch.Lines)), batch.Root);
        }
        Assert.Equal(new LedgerMark("edge-1", 7, 104), LedgerMark.Read(path + ".ledger"));
    }

    [Fact]
    public async Task OnlyLinesTheFileHoldsArePostedToTheLedgerWhileItsWritesFailTheyWait()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var batches = new List<AuditLog.AuditBatch>();
        await using var log = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, (batch, _) =>
        {
            batches.Add(batch);
            return Task.FromResult<long?>(batches.Count);
        }, time);
        var full = false;
        log.WriteAt = (file, bytes, offset) =>
        {
            if (full)
            {
                throw new IOException("No space left on device");
            }
            RandomAccess.Write(file, bytes, offset);
        };
        log.Record(Line(1, 0));
        await log.FlushAsync();
        full = true;
        log.Record(Line(1, 1));
        await Assert.ThrowsAsync<IOException>(log.FlushAsync);

        await log.PostBatchesAsync(all: true, CancellationToken.None);
        var only = Assert.Single(batches);
        Assert.Equal((0L, 1), (only.FirstLine, only.Lines)); // line 1 is not in the file, so not on the ledger either

        full = false;
        await log.FlushAsync();
        await log.PostBatchesAsync(all: true, CancellationToken.None);
        Assert.Equal([(0L, 1), (1L, 1)], batches.Select(b => (b.FirstLine, b.Lines)));
        Assert.Equal(RootOf((await File.ReadAllLinesAsync(path))[1..]), batches[1].Root);
    }

    [Fact]
    public async Task AnAuditFileShorterThanTheLedgersCoverageOrPostedUnderAnotherNameDoesNotOpen()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var posted = 0;
        Task<long?> Post(AuditLog.AuditBatch batch, CancellationToken _) => Task.FromResult<long?>(++posted);
        var log = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, Post);
        for (var i = 0; i < 3; i++)
        {
            log.Record(Line(1, i));
        }
        await log.FlushAsync();
        await log.PostBatchesAsync(all: true, CancellationToken.None);
        await log.DisposeAsync();
        Assert.Equal(new LedgerMark("edge-1", 3, 1), LedgerMark.Read(path + ".ledger"));

        var renamed = Assert.Throws<AuditLedgerMarkException>(() => new AuditLog(new AuditSettings { File = path }, "edge-2", new HttpClient(), 256, Post));
        Assert.Contains("'edge-1'", renamed.Message);

        // The file loses its last line (truncated, or swapped for an older copy): the ledger holds a batch it cannot back.
        var lines = await File.ReadAllLinesAsync(path);
        await File.WriteAllLinesAsync(path, lines[..2]);
        var shorter = Assert.Throws<AuditLedgerMarkException>(() => new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, Post));
        Assert.Contains("has 2 line(s) but the ledger holds batches of its first 3", shorter.Message);
        Assert.DoesNotContain('\n', shorter.Message);
        File.Delete(path); // the refused log let go of the file
        Assert.Equal(1, posted);

        // Without a server nothing is posted, so the mark is not consulted.
        await File.WriteAllLinesAsync(path, lines[..2]);
        await using var local = new AuditLog(new AuditSettings { File = path }, "edge-2", new HttpClient(), 256);
        Assert.True(local.Enabled);
    }

    [Fact]
    public async Task AFirstRunThatNeverReachedTheLedgerHasItsLinesPostedByTheNextRunButLinesFromBeforePostingBeganAreNot()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var local = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256); // no server yet
        local.Record(Line(1, 0));
        await local.DisposeAsync();

        var batches = new List<AuditLog.AuditBatch>();
        var ledgerUp = false;
        Task<long?> Post(AuditLog.AuditBatch batch, CancellationToken _)
        {
            if (!ledgerUp)
            {
                return Task.FromResult<long?>(null);
            }
            batches.Add(batch);
            return Task.FromResult<long?>(batches.Count);
        }
        var unreachable = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, Post);
        Assert.Equal(new LedgerMark("edge-1", 1, null), LedgerMark.Read(path + ".ledger")); // posting begins after line 0
        unreachable.Record(Line(1, 1));
        unreachable.Record(Line(1, 2));
        await unreachable.FlushAsync();
        await unreachable.PostBatchesAsync(all: true, CancellationToken.None);
        await unreachable.DisposeAsync();
        Assert.Empty(batches);

        ledgerUp = true;
        await using var reached = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, Post);
        await reached.PostBatchesAsync(all: true, CancellationToken.None);
        var batch = Assert.Single(batches);
        Assert.Equal((1L, 2), (batch.FirstLine, batch.Lines));
        Assert.Equal(RootOf((await File.ReadAllLinesAsync(path))[1..]), batch.Root);
        Assert.Equal(new LedgerMark("edge-1", 3, 1), LedgerMark.Read(path + ".ledger"));
    }

    [Fact]
    public async Task AtShutdownLinesThatCanBeNeitherWrittenNorSavedElsewhereAreCarriedWholeByTheErrorAndNoPartCopyIsLeft()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var log = new AuditLog(new AuditSettings { File = path }, "test", new HttpClient(), 256, time: new FakeTimeProvider(DateTimeOffset.UnixEpoch));
        log.WriteAt = (_, _, _) => throw new IOException("No space left on device");
        log.PauseBeforeFinalRetry = _ => Task.CompletedTask;
        var nowhere = Path.Combine(_dir, "missing");
        log.RescueDirectories = _ => [Path.Combine(nowhere, "a"), Path.Combine(nowhere, "b")]; // directories that do not exist
        log.Record(Line(1, 0));
        log.Record(Line(1, 1));

        var e = await Assert.ThrowsAsync<AuditNotWrittenException>(() => log.DisposeAsync().AsTask());
        Assert.Null(e.SavedTo);
        Assert.Equal(2, e.LineCount);
        Assert.Contains("nor saved beside it or in the temporary directory", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        var carried = System.Text.Encoding.UTF8.GetString(e.Lines.Span).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(new long[] { 0, 1 }, Totals(carried));
        Assert.Equal(["audit.jsonl"], Directory.GetFiles(_dir).Select(Path.GetFileName));
        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public async Task ARestartFindsTheFirstUnpostedLineDeepInALargeFile()
    {
        var path = Path.Combine(_dir, "audit.jsonl");
        var batches = new List<AuditLog.AuditBatch>();
        Task<long?> Post(AuditLog.AuditBatch batch, CancellationToken _)
        {
            batches.Add(batch);
            return Task.FromResult<long?>(batches.Count);
        }
        var first = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, Post);
        for (var i = 0; i < 1_500; i++)
        {
            first.Record(Line(1, i));
        }
        await first.FlushAsync();
        await first.PostBatchesAsync(all: true, CancellationToken.None);
        await first.DisposeAsync();
        Assert.True(new FileInfo(path).Length > 4 * 64 * 1024, "the file spans several read buffers");

        await using var second = new AuditLog(new AuditSettings { File = path }, "edge-1", new HttpClient(), 256, Post);
        second.Record(Line(2, 1_500));
        await second.FlushAsync();
        await second.PostBatchesAsync(all: true, CancellationToken.None);

        var last = batches[^1];
        Assert.Equal((1_500L, 1), (last.FirstLine, last.Lines));
        Assert.Equal(RootOf((await File.ReadAllLinesAsync(path))[1_500..]), last.Root);
        Assert.Equal(Enumerable.Range(0, batches.Count).Select(i => Math.Min(1_500L, i * 256L)), batches.Select(b => b.FirstLine));
    }
}
