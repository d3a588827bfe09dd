using System.Buffers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using Embargo.Ledger;
using Prometheus;

namespace Embargo.Gateway;

/// <summary>The decisions the gateway records, as they appear in the audit file and on /metrics.</summary>
public static class Decisions
{
    public const string Allowed = "allowed";
    public const string InvalidApiKey = "invalid_api_key";
    public const string ModelNotGranted = "model_not_granted";
    public const string TierNotCertified = "tier_not_certified";
    public const string RateLimited = "rate_limit_exceeded";
    public const string ContentBlocked = "content_blocked";
    public const string ContentFilter = "content_filter";
    public const string ScreenUnavailable = "screen_unavailable";
    public const string UpstreamError = "upstream_error";
    public const string LimiterUnavailable = "rate_limit_unavailable";
    public const string InvalidRequest = "invalid_request";
    public const string AuditUnavailable = "audit_unavailable";
    public const string ClientClosed = "client_closed";
}

/// <summary>A SHA-256 digest held inline (no array, no hex string per request); written to the audit line as lower-case hex.</summary>
[System.Runtime.CompilerServices.InlineArray(32)]
public struct InlineSha256
{
    private byte _first;

    /// <summary>The SHA-256 of the text's UTF-8 bytes.</summary>
    public static InlineSha256 Of(ReadOnlySpan<char> text)
    {
        var max = System.Text.Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        var utf8 = max <= 2048 ? stackalloc byte[2048] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var digest = new InlineSha256();
            System.Security.Cryptography.SHA256.HashData(utf8[..System.Text.Encoding.UTF8.GetBytes(text, utf8)], digest);
            return digest;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public override readonly string ToString() => Convert.ToHexStringLower(this);
}

/// <summary>One audited chat request (a stream: recorded when it ends).</summary>
public sealed record AuditRecord
{
    public required DateTimeOffset Time { get; init; }
    public string? Grantee { get; init; }
    /// <summary>"evaluation" when the key was served under evaluation access (before release); absent otherwise.</summary>
    public string? Access { get; init; }
    public string? Model { get; init; }
    public required string Decision { get; init; }
    public string? Screen { get; init; }
    public bool Stream { get; init; }
    public int Status { get; init; }
    public InlineSha256? PromptSha256 { get; init; }
    public InlineSha256? CompletionSha256 { get; init; }
    /// <summary>Only when the grant says audit_text: true.</summary>
    public string? Prompt { get; init; }
    public string? Completion { get; init; }
    public long? PromptTokens { get; init; }
    public long? CompletionTokens { get; init; }
    public long? TotalTokens { get; init; }
}

/// <summary>
/// The audit trail: one JSON line per chat request appended to the audit file, and, with a server, batches of lines
/// appended to the Embargo ledger as one leaf each carrying the RFC 6962 Merkle root of the batch's lines (the UTF-8 bytes
/// of each line without its newline), so the file can be checked against the ledger.
/// </summary>
/// <remarks>
/// A request serialises its own line and appends it to a buffer in memory under a short lock; the buffer goes to the file
/// about <see cref="FlushDelay"/> after its first line (or at once past <see cref="FlushBytes"/>, or on
/// <see cref="FlushAsync"/> and when disposed), in one write. No request waits for the disk, and no thread is woken per
/// request (bench/README.md, "Gateway"); the write itself happens on a pool thread. A write that fails keeps the lines, in
/// order, for the next attempt.
/// </remarks>
public sealed class AuditLog : IAsyncDisposable
{
    private static readonly TimeSpan FlushDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private const int FlushBytes = 256 * 1024;
    /// <summary>While the file cannot be written, lines past this many pending bytes are counted, not kept (every request is
    /// refused meanwhile, so they can only be refusals: nothing went upstream).</summary>
    internal const int MaxPendingWhileFailing = 16 << 20;

    private readonly SafeFileHandle? _file;
    private readonly string? _path;
    private readonly TimeProvider _time;
    private readonly Func<AuditBatch, CancellationToken, Task<long?>>? _post;
    private readonly string _gateway;
    private readonly int _batchLines;
    private readonly System.Threading.ITimer _timer;
    /// <summary>Guards the pending lines, the line counters, the unposted lines and the timer's state.</summary>
    private readonly Lock _lock = new();
    /// <summary>One file write at a time, in line order; taken before <see cref="_lock"/>, never inside it.</summary>
    private readonly Lock _fileLock = new();
    private ArrayBufferWriter<byte> _pending = new(64 * 1024);
    private ArrayBufferWriter<byte> _spare = new(64 * 1024);
    /// <summary>Lines not yet on the ledger, kept in memory only when there is no file to read them back from.</summary>
    private readonly List<byte[]> _unposted = [];
    /// <summary>With a file: where the ledger's coverage ends (<see cref="LedgerMark"/>), and the byte offset of that line.</summary>
    private readonly string? _markPath;
    private long _firstUnpostedOffset;
    /// <summary>Lines in the file once every write so far has landed (<see cref="_fileOffset"/>'s line count).</summary>
    private long _linesInFile;
    private bool _armed;
    private bool _disposed;
    private long _fileOffset;
    private long _nextLine;
    private long _firstUnposted;
    private long _written;
    private long _dropped;
    private volatile bool _failing;

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_line;

    /// <summary>How a batch reaches the file: <see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>; a test
    /// puts a failing one in its place to drive the retry path.</summary>
    internal delegate void FileWrite(SafeFileHandle file, ReadOnlySpan<byte> bytes, long fileOffset);
    internal FileWrite WriteAt { get; set; } = RandomAccess.Write;
    /// <summary>The pause between the final tries at shutdown (<see cref="DisposeAsync"/>): a delay on the log's clock; a test
    /// records the pauses instead.</summary>
    internal Func<TimeSpan, Task> PauseBeforeFinalRetry { get; set; }
    /// <summary>Told the file's line count each time a line is kept (under the log's lock: it must only signal), so a test can
    /// wait for the line a request causes instead of polling for it.</summary>
    internal Action<long>? AfterRecord { get; set; }
    /// <summary>Where unwritten lines are saved at shutdown, in order of preference, given the audit file's directory: that
    /// directory, then the temporary one. A test names directories that cannot be written to drive the nowhere-to-save path.</summary>
    internal Func<string, IEnumerable<string>> RescueDirectories { get; set; } = auditDirectory => [auditDirectory, Path.GetTempPath()];

    /// <summary>The file's line count once every line kept so far is written (including lines there before this process).</summary>
    internal long Recorded
    {
        get
        {
            lock (_lock)
            {
                return _nextLine;
            }
        }
    }

    /// <param name="post">Appends one batch to the ledger and answers its leaf index (null: refused, retried later). Default:
    /// POST {audit.server}/api/gateway/audit-batches when the settings name a server; the server's own gateway appends directly.</param>
    /// <param name="time">The clock behind the write timer (default: the system's).</param>
    public AuditLog(AuditSettings settings, string gateway, HttpClient http, int batchLines, Func<AuditBatch, CancellationToken, Task<long?>>? post = null,
        TimeProvider? time = null)
    {
        _post = post ?? (settings.Server is { } server ? (batch, ct) => PostOverHttpAsync(http, server, settings.Token, batch, ct) : null);
        _gateway = gateway;
        _batchLines = batchLines;
        if (settings.File is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(settings.File)!);
            _path = Path.GetFullPath(settings.File);
            _file = File.OpenHandle(settings.File, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
            try
            {
                try
                {
                    _fileOffset = RandomAccess.GetLength(_file);
                }
                catch (NotSupportedException)
                {
                    throw new IOException("it " + NotRegular);
                }
                LedgerMark? mark = null;
                if (_post is not null)
                {
                    // Lines a stopped or crashed gateway had not posted yet go onto the ledger first, read back from the file.
                    _markPath = _path + ".ledger";
                    mark = LedgerMark.Read(_markPath);
                }
                // One pass over the file: its line count, and where the mark's first unposted line starts.
                _nextLine = CountLines(_file, _fileOffset, mark?.Lines ?? 0, out var markOffset);
                _linesInFile = _nextLine;
                if (mark is not null)
                {
                    CheckMark(mark, _path, gateway, _nextLine);
                }
                else if (_markPath is not null)
                {
                    // The first start that posts: lines from here on go to the ledger, even if this run never reaches it.
                    WriteMark(new LedgerMark(gateway, _nextLine, null));
                }
                _firstUnposted = mark?.Lines ?? _nextLine;
                _firstUnpostedOffset = mark is null ? _fileOffset : markOffset;
            }
            catch
            {
                _file.Dispose();
                throw;
            }
        }
        _time = time ?? TimeProvider.System;
        PauseBeforeFinalRetry = delay => Task.Delay(delay, _time);
        _timer = _time.CreateTimer(static state => ((AuditLog)state!).FlushFromTimer(), this,
            Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private void WriteMark(LedgerMark mark)
    {
        try
        {
            LedgerMark.Write(_markPath!, mark);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AuditLedgerMarkException($"cannot write {_markPath} ({e.Message.ReplaceLineEndings(" ")}): the gateway records there how far its audit file is on the ledger");
        }
    }

    /// <summary>Checks the audit file's <c>.ledger</c> mark against the file's <paramref name="lines"/>.</summary>
    /// <exception cref="AuditLedgerMarkException">The mark names another gateway, or more lines than the file has.</exception>
    private static void CheckMark(LedgerMark mark, string path, string gateway, long lines)
    {
        var markPath = path + ".ledger";
        if (mark.Gateway != gateway)
        {
            throw new AuditLedgerMarkException($"{markPath} says lines of {path} went onto the ledger as gateway '{mark.Gateway}', not '{gateway}': keep that name, or move the file and its mark aside to start a new one under the new name");
        }
        if (mark.Lines > lines)
        {
            throw new AuditLedgerMarkException($"{path} has {lines} line(s) but the ledger holds batches of its first {mark.Lines} ({markPath}): the file was truncated or replaced; restore it, or move it and its mark aside and start a new file under a new gateway name");
        }
    }

    /// <summary>Why <paramref name="auditFile"/> cannot be an audit file, or null (a regular file, or none yet): a directory, a
    /// device or kernel file, a named pipe or a socket would keep none of the lines written to it. For a command to refuse
    /// before it starts anything; call it before <see cref="LedgerMarkProblem"/>, which reads the file.</summary>
    public static string? FileProblem(string auditFile)
    {
        var path = Path.GetFullPath(auditFile);
        if (GatewayConfigLoader.AuditFileProblem(path) is { } problem)
        {
            return $"{path} {problem}";
        }
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            // Read and write, as the log opens it: opening a named pipe so never waits for the other end.
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            RandomAccess.GetLength(file);
            return null;
        }
        catch (NotSupportedException)
        {
            return $"{path} {NotRegular}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{path}: {e.Message.ReplaceLineEndings(" ")}";
        }
    }

    private const string NotRegular = "is not a regular file (a pipe, a socket or a device): lines written to it would not be kept";

    /// <summary>Why an audit file that posts to the ledger as <paramref name="gateway"/> cannot be opened (its <c>.ledger</c> mark
    /// disagrees with it), or null; for a command to refuse before it starts anything.</summary>
    public static string? LedgerMarkProblem(string auditFile, string gateway)
    {
        var path = Path.GetFullPath(auditFile);
        try
        {
            if (LedgerMark.Read(path + ".ledger") is not { } mark)
            {
                return null;
            }
            long lines = 0;
            if (File.Exists(path))
            {
                using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                lines = CountLines(file, RandomAccess.GetLength(file), 0, out _);
            }
            CheckMark(mark, path, gateway, lines);
            return null;
        }
        catch (AuditLedgerMarkException e)
        {
            return e.Message;
        }
    }

    public bool Enabled => _file is not null || _post is not null;
    /// <summary>The last write to the audit file failed (its lines are kept and retried every second): the gateway refuses
    /// every request until a write succeeds (503 audit_unavailable), so nothing is served that the file does not record.</summary>
    public bool Failing => _failing;
    /// <summary>Lines not kept because the file had been failing for <see cref="MaxPendingWhileFailing"/> bytes of lines.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Lines written by this process so far (to the file, or recorded for the ledger when there is no file).</summary>
    public long Written => Interlocked.Read(ref _written);
    /// <summary>Ledger indexes of the batches posted so far.</summary>
    public IReadOnlyList<long> PostedBatches => [.. _posted];
    private readonly System.Collections.Concurrent.ConcurrentQueue<long> _posted = new();

    public void Record(AuditRecord record)
    {
        if (!Enabled)
        {
            return;
        }
        var line = t_line ??= new ArrayBufferWriter<byte>(512);
        line.ResetWrittenCount();
        var w = ThreadJsonWriter.Over(line);
        Write(w, record);
        w.Flush();
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            if (_file is not null && _failing && _pending.WrittenCount >= MaxPendingWhileFailing)
            {
                Interlocked.Increment(ref _dropped);
                return;
            }
            if (_post is not null && _file is null)
            {
                _unposted.Add(line.WrittenSpan.ToArray());
            }
            _nextLine++;
            AfterRecord?.Invoke(_nextLine);
            if (_file is null)
            {
                Interlocked.Increment(ref _written);
                return;
            }
            _pending.Write(line.WrittenSpan);
            _pending.Write("\n"u8);
            // While the file fails, the retry timer alone tries again (once a second), however many lines come.
            if (_failing)
            {
                if (!_armed)
                {
                    _armed = true;
                    _timer.Change(RetryDelay, Timeout.InfiniteTimeSpan);
                }
            }
            // Past FlushBytes the timer fires at once: the write happens on a pool thread, never on the request's.
            else if (_pending.WrittenCount >= FlushBytes)
            {
                _armed = true;
                _timer.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan);
            }
            else if (!_armed)
            {
                _armed = true;
                _timer.Change(FlushDelay, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Completes when every record given before this call is in the file (and queued for the ledger).</summary>
    public Task FlushAsync()
    {
        Flush();
        return Task.CompletedTask;
    }

    private void FlushFromTimer()
    {
        lock (_lock)
        {
            _armed = false;
        }
        TryFlush();
    }

    private void TryFlush()
    {
        try
        {
            Flush();
        }
        catch (IOException)
        {
            // The lines went back to the front of the pending buffer; try again later.
            lock (_lock)
            {
                if (!_armed && !_disposed)
                {
                    _armed = true;
                    _timer.Change(RetryDelay, Timeout.InfiniteTimeSpan);
                }
            }
        }
    }

    /// <summary>Writes every pending line, in order, in one write. On failure the lines stay pending and the error is thrown.</summary>
    private void Flush()
    {
        if (_file is null)
        {
            return;
        }
        lock (_fileLock)
        {
            ArrayBufferWriter<byte> batch;
            lock (_lock)
            {
                batch = _pending;
                _pending = _spare;
                _spare = batch;
            }
            if (batch.WrittenCount == 0 || _file.IsClosed)
            {
                return;
            }
            try
            {
                WriteAt(_file, batch.WrittenSpan, _fileOffset);
            }
            catch (IOException)
            {
                // A write cut short (a disk that filled mid-batch) leaves part of a line past the last whole one: cut it off, so
                // the file ends on a whole line whatever happens next (shrinking a file needs no space).
                try
                {
                    if (RandomAccess.GetLength(_file) > _fileOffset)
                    {
                        RandomAccess.SetLength(_file, _fileOffset);
                    }
                }
                catch (IOException)
                {
                    // The next successful write starts at the same offset and covers it.
                }
                lock (_lock)
                {
                    // Lines recorded meanwhile go after the ones that could not be written.
                    batch.Write(_pending.WrittenSpan);
                    _pending.ResetWrittenCount();
                    (_pending, _spare) = (batch, _pending);
                    _failing = true;
                }
                throw;
            }
            _failing = false;
            _fileOffset += batch.WrittenCount;
            var lines = batch.WrittenSpan.Count((byte)'\n');
            Interlocked.Add(ref _linesInFile, lines);
            Interlocked.Add(ref _written, lines);
            batch.ResetWrittenCount();
        }
    }

    /// <summary>Newlines in the file's first <paramref name="length"/> bytes (its length when opened: never past it, so a file
    /// that reads without end cannot hold the start up), and in the same pass the byte offset where line
    /// <paramref name="line"/> (0-based) starts: 0 for line 0, <paramref name="length"/> when the file has fewer lines.</summary>
    private static long CountLines(SafeFileHandle file, long length, long line, out long lineOffset)
    {
        lineOffset = line == 0 ? 0 : length;
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long lines = 0, offset = 0;
            int read;
            while (offset < length && (read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - offset)), offset)) > 0)
            {
                var block = buffer.AsSpan(0, read);
                var count = block.Count((byte)'\n');
                if (lines < line && lines + count >= line)
                {
                    // The wanted line starts just past this block's (line - lines)-th newline.
                    var at = 0;
                    for (var seen = lines; seen < line; seen++)
                    {
                        at += block[at..].IndexOf((byte)'\n') + 1;
                    }
                    lineOffset = offset + at;
                }
                lines += count;
                offset += read;
            }
            return lines;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Up to <paramref name="max"/> whole lines (without their newlines) from <paramref name="offset"/>, reading no
    /// further than <paramref name="end"/>; the offset just past the last one is returned too.</summary>
    private static (List<byte[]> Lines, long Next) ReadLines(SafeFileHandle file, long offset, long end, int max)
    {
        var lines = new List<byte[]>();
        var partial = new ArrayBufferWriter<byte>();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var next = offset;
            while (lines.Count < max && offset < end)
            {
                var read = RandomAccess.Read(file, buffer.AsSpan(0, (int)Math.Min(buffer.Length, end - offset)), offset);
                if (read == 0)
                {
                    break;
                }
                var span = buffer.AsSpan(0, read);
                offset += read;
                int at;
                while (lines.Count < max && (at = span.IndexOf((byte)'\n')) >= 0)
                {
                    partial.Write(span[..at]);
                    lines.Add(partial.WrittenSpan.ToArray());
                    partial.ResetWrittenCount();
                    span = span[(at + 1)..];
                }
                if (lines.Count < max)
                {
                    partial.Write(span);
                }
            }
            // Where the next unposted line starts: the bytes of the lines taken plus their newlines.
            foreach (var line in lines)
            {
                next += line.Length + 1;
            }
            return (lines, next);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void WriteDigest(Utf8JsonWriter w, ReadOnlySpan<byte> name, InlineSha256? digest)
    {
        if (digest is not { } d)
        {
            w.WriteNull(name);
            return;
        }
        Span<byte> hex = stackalloc byte[64];
        Convert.TryToHexStringLower(d, hex, out _);
        w.WriteString(name, hex);
    }

    private static void Write(Utf8JsonWriter w, AuditRecord r)
    {
        w.WriteStartObject();
        w.WriteString("time", r.Time);
        w.WriteString("grantee", r.Grantee);
        if (r.Access is not null)
        {
            w.WriteString("access", r.Access);
        }
        w.WriteString("model", r.Model);
        w.WriteString("decision", r.Decision);
        w.WriteString("screen", r.Screen);
        w.WriteBoolean("stream", r.Stream);
        w.WriteNumber("status", r.Status);
        WriteDigest(w, "promptSha256"u8, r.PromptSha256);
        WriteDigest(w, "completionSha256"u8, r.CompletionSha256);
        if (r.Prompt is not null)
        {
            w.WriteString("prompt", r.Prompt);
        }
        if (r.Completion is not null)
        {
            w.WriteString("completion", r.Completion);
        }
        if (r.TotalTokens is not null)
        {
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", r.PromptTokens ?? 0);
            w.WriteNumber("completion_tokens", r.CompletionTokens ?? 0);
            w.WriteNumber("total_tokens", r.TotalTokens.Value);
            w.WriteEndObject();
        }
        else
        {
            w.WriteNull("usage");
        }
        w.WriteEndObject();
    }

    /// <summary>Posts every complete batch (and, when <paramref name="all"/>, the partial last one) to the ledger. A failure
    /// leaves the lines for the next try: batches stay contiguous. With a file, the lines are read back from it, so only lines the
    /// file holds are posted and nothing waiting for the ledger is held in memory; after each batch the file's
    /// <c>.ledger</c> mark moves on, so a restarted gateway posts from where the ledger's coverage ends.</summary>
    public async Task PostBatchesAsync(bool all, CancellationToken ct)
    {
        if (_post is null)
        {
            return;
        }
        await _postGate.WaitAsync(ct);
        try
        {
            await PostBatchesOneAtATimeAsync(all, ct);
        }
        finally
        {
            _postGate.Release();
        }
    }

    /// <summary>One poster at a time: two would post the same lines twice.</summary>
    private readonly SemaphoreSlim _postGate = new(1, 1);

    private async Task PostBatchesOneAtATimeAsync(bool all, CancellationToken ct)
    {
        while (true)
        {
            List<byte[]> lines;
            long first, next = 0;
            if (_file is null)
            {
                lock (_lock)
                {
                    if (_unposted.Count == 0 || (_unposted.Count < _batchLines && !all))
                    {
                        return;
                    }
                    lines = _unposted.GetRange(0, Math.Min(_batchLines, _unposted.Count));
                    first = _firstUnposted;
                }
            }
            else
            {
                long end, available;
                lock (_fileLock)
                {
                    if (_file.IsClosed)
                    {
                        return;
                    }
                    end = _fileOffset;
                    available = Interlocked.Read(ref _linesInFile) - _firstUnposted;
                    first = _firstUnposted;
                    if (available == 0 || (available < _batchLines && !all))
                    {
                        return;
                    }
                    // Read under the file lock: a write that fails cuts the file back, and disposing closes it.
                    try
                    {
                        (lines, next) = ReadLines(_file, _firstUnpostedOffset, end, (int)Math.Min(_batchLines, available));
                    }
                    catch (IOException)
                    {
                        return; // the lines stay in the file; the next try reads them again
                    }
                }
                if (lines.Count == 0)
                {
                    return;
                }
            }
            var tree = new MerkleTree();
            foreach (var line in lines)
            {
                tree.AppendLeaf(line);
            }
            var index = await _post!(new AuditBatch { Gateway = _gateway, FirstLine = first, Lines = lines.Count, Root = Convert.ToHexStringLower(tree.Root()) }, ct);
            if (index is null)
            {
                return;
            }
            _posted.Enqueue(index.Value);
            lock (_lock)
            {
                if (_file is null)
                {
                    _unposted.RemoveRange(0, lines.Count);
                }
                _firstUnposted += lines.Count;
                _firstUnpostedOffset = next;
            }
            if (_markPath is not null)
            {
                try
                {
                    LedgerMark.Write(_markPath, new LedgerMark(_gateway, first + lines.Count, index.Value));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The next batch writes the mark again; only a restart before then would post these lines a second time.
                }
            }
        }
    }

    private static async Task<long?> PostOverHttpAsync(HttpClient http, Uri server, string? token, AuditBatch batch, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server, "/api/gateway/audit-batches")) { Content = JsonContent.Create(batch) };
        request.Headers.Authorization = new("Bearer", token);
        using var response = await http.SendAsync(request, ct);
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }
        var posted = await response.Content.ReadFromJsonAsync<AuditBatchPosted>(ct);
        return posted?.LedgerIndex;
    }

    /// <summary>How many times the last lines are tried at shutdown, <see cref="RetryDelay"/> apart, before they are saved elsewhere.</summary>
    internal const int FinalAttempts = 3;

    /// <summary>Writes every pending line and closes the file. When the file still cannot be written after
    /// <see cref="FinalAttempts"/> tries, the lines are not dropped: they are saved to a new file beside the audit file (or, failing
    /// that, in the temporary directory) and <see cref="AuditNotWrittenException"/> says where, so they can be appended by hand.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
        }
        await _timer.DisposeAsync();
        if (_file is null)
        {
            return;
        }
        IOException? failure = null;
        for (var attempt = 1; attempt <= FinalAttempts; attempt++)
        {
            try
            {
                Flush();
                failure = null;
                break;
            }
            catch (IOException e)
            {
                failure = e;
            }
            if (attempt < FinalAttempts)
            {
                await PauseBeforeFinalRetry(RetryDelay);
            }
        }
        byte[] unwritten;
        lock (_fileLock)
        {
            lock (_lock)
            {
                unwritten = _pending.WrittenSpan.ToArray();
            }
            _file.Dispose();
        }
        if (failure is not null && unwritten.Length > 0)
        {
            throw new AuditNotWrittenException(_path!, unwritten, SaveElsewhere(unwritten), failure);
        }
    }

    /// <summary>A new file holding <paramref name="lines"/>: beside the audit file, else in the temporary directory; null when
    /// neither can be written.</summary>
    private string? SaveElsewhere(byte[] lines)
    {
        var name = $"{Path.GetFileName(_path)}.unwritten-{_time.GetUtcNow():yyyyMMdd'T'HHmmss'Z'}-{Environment.ProcessId}";
        foreach (var directory in RescueDirectories(Path.GetDirectoryName(_path)!))
        {
            var rescue = Path.Combine(directory, name);
            try
            {
                using (var file = new FileStream(rescue, FileMode.CreateNew, FileAccess.Write))
                {
                    file.Write(lines);
                    file.Flush(flushToDisk: true);
                }
                return rescue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                try
                {
                    File.Delete(rescue);
                }
                catch (Exception removal) when (removal is IOException or UnauthorizedAccessException)
                {
                    // A part-written copy that cannot be removed is still no loss: the exception names no file for it.
                }
            }
        }
        return null;
    }

    public sealed record AuditBatch
    {
        [System.Text.Json.Serialization.JsonPropertyName("gateway")] public required string Gateway { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("firstLine")] public required long FirstLine { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("lines")] public required int Lines { get; init; }
        [System.Text.Json.Serialization.JsonPropertyName("root")] public required string Root { get; init; }
    }

    public sealed record AuditBatchPosted
    {
        [System.Text.Json.Serialization.JsonPropertyName("ledgerIndex")] public required long LedgerIndex { get; init; }
    }
}

/// <summary>The audit file could not be written at shutdown: <see cref="Lines"/> (whole JSON lines, in order) belong at its end.
/// <see cref="SavedTo"/> names the file they were saved to instead, or is null when none could be written.</summary>
public sealed class AuditNotWrittenException(string auditFile, byte[] lines, string? savedTo, IOException cause)
    : IOException(Describe(auditFile, lines, savedTo, cause), cause)
{
    public string AuditFile { get; } = auditFile;
    public ReadOnlyMemory<byte> Lines { get; } = lines;
    public string? SavedTo { get; } = savedTo;
    public int LineCount => Lines.Span.Count((byte)'\n');

    private static string Describe(string auditFile, byte[] lines, string? savedTo, IOException cause)
    {
        var count = lines.AsSpan().Count((byte)'\n');
        var reason = cause.Message.ReplaceLineEndings(" ");
        return savedTo is not null
            ? $"the last {count} audit line(s) could not be written to {auditFile} ({reason}); they were saved to {savedTo}: append that file to the audit file before the gateway starts again"
            : $"the last {count} audit line(s) could not be written to {auditFile} ({reason}), nor saved beside it or in the temporary directory";
    }
}

/// <summary>How far a gateway's audit file is on the ledger: its first <see cref="Lines"/> lines are posted (or, before the
/// first batch, were there before posting began), as gateway <see cref="Gateway"/>, the last batch at <see cref="LedgerIndex"/>
/// (null before the first). Kept beside the audit file as <c>&lt;file&gt;.ledger</c> (JSON), written when a gateway that posts
/// first opens the file and replaced whole after every batch.</summary>
public sealed record LedgerMark(
    [property: System.Text.Json.Serialization.JsonPropertyName("gateway")] string Gateway,
    [property: System.Text.Json.Serialization.JsonPropertyName("lines")] long Lines,
    [property: System.Text.Json.Serialization.JsonPropertyName("ledgerIndex")] long? LedgerIndex)
{
    public static LedgerMark? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize<LedgerMark>(File.ReadAllBytes(path)) is { Gateway: not null, Lines: >= 0 } mark
                ? mark
                : throw new AuditLedgerMarkException($"{path} is not a ledger mark (gateway, lines, ledgerIndex)");
        }
        catch (JsonException)
        {
            throw new AuditLedgerMarkException($"{path} is not a ledger mark (gateway, lines, ledgerIndex)");
        }
    }

    /// <summary>Written to a temporary file and renamed over the old mark, so a crash leaves the old mark or the new one.</summary>
    public static void Write(string path, LedgerMark mark)
    {
        var temporary = $"{path}.{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(mark));
        File.Move(temporary, path, overwrite: true);
    }
}

/// <summary>The audit file and its <c>.ledger</c> mark disagree (the file is shorter than the ledger's coverage, or was posted
/// under another gateway name), or the mark cannot be read or written: the gateway does not start, rather than post batches
/// the file cannot back or lose track of what is posted.</summary>
public sealed class AuditLedgerMarkException(string message) : IOException(message);

/// <summary>Prometheus counters of this gateway (its own registry: several gateways may share a process).</summary>
public sealed class GatewayMetrics
{
    private readonly Counter _requests;
    private readonly Counter _evaluationAccess;

    public GatewayMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        _requests = Metrics.WithCustomRegistry(Registry).CreateCounter("embargo_gateway_requests_total",
            "Chat requests by grantee, model, decision and screen.", "grantee", "model", "decision", "screen");
        _evaluationAccess = Metrics.WithCustomRegistry(Registry).CreateCounter("embargo_gateway_evaluation_access_requests_total",
            "Chat requests under evaluation access (a version served before release to the evaluators of its open cases), by grantee, model and decision.",
            "grantee", "model", "decision");
    }

    public CollectorRegistry Registry { get; }

    /// <summary>The audit file's state on /metrics: embargo_gateway_audit_failing (1 while its last write failed) and
    /// embargo_gateway_audit_lines_dropped_total.</summary>
    public void Watch(AuditLog audit)
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        var failing = factory.CreateGauge("embargo_gateway_audit_failing",
            "1 while the last write to the audit file failed: every chat request is refused (503 audit_unavailable) until a write succeeds.");
        var dropped = factory.CreateGauge("embargo_gateway_audit_lines_dropped_total",
            "Audit lines not kept because the file had been failing for 16 MiB of lines (only refusals are recorded meanwhile).");
        Registry.AddBeforeCollectCallback(() =>
        {
            failing.Set(audit.Failing ? 1 : 0);
            dropped.Set(audit.Dropped);
        });
    }

    public void Count(string? grantee, string? model, string decision, string? screen, string? access = null)
    {
        _requests.WithLabels(grantee ?? "", model ?? "", decision, screen ?? "").Inc();
        if (access == "evaluation")
        {
            _evaluationAccess.WithLabels(grantee ?? "", model ?? "", decision).Inc();
        }
    }
}
