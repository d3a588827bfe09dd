using System.Buffers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;
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
    public const string ClientClosed = "client_closed";
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
    public string? PromptSha256 { get; init; }
    public string? CompletionSha256 { get; init; }
    /// <summary>Only when the grant says audit_text: true.</summary>
    public string? Prompt { get; init; }
    public string? Completion { get; init; }
    public long? PromptTokens { get; init; }
    public long? CompletionTokens { get; init; }
    public long? TotalTokens { get; init; }
}

/// <summary>
/// The audit trail: one JSON line per chat request appended to the audit file by a single writer, and, with a server,
/// batches of lines appended to the Embargo ledger as one leaf each carrying the RFC 6962 Merkle root of the batch's
/// lines (the UTF-8 bytes of each line without its newline), so the file can be checked against the ledger.
/// </summary>
public sealed class AuditLog : IAsyncDisposable
{
    /// <summary>Records to write; a null record carries a flush request, completed once every record before it is written.</summary>
    private readonly Channel<(AuditRecord? Record, TaskCompletionSource? Flushed)> _records =
        Channel.CreateUnbounded<(AuditRecord?, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly FileStream? _file;
    private readonly Func<AuditBatch, CancellationToken, Task<long?>>? _post;
    private readonly string _gateway;
    private readonly int _batchLines;
    private readonly List<byte[]> _unposted = [];
    private readonly Lock _unpostedLock = new();
    private readonly Task _writer;
    private long _nextLine;
    private long _firstUnposted;
    private long _written;

    /// <param name="post">Appends one batch to the ledger and answers its leaf index (null: refused, retried later). Default:
    /// POST {audit.server}/api/gateway/audit-batches when the settings name a server; the server's own gateway appends directly.</param>
    public AuditLog(AuditSettings settings, string gateway, HttpClient http, int batchLines, Func<AuditBatch, CancellationToken, Task<long?>>? post = null)
    {
        _post = post ?? (settings.Server is { } server ? (batch, ct) => PostOverHttpAsync(http, server, settings.Token, batch, ct) : null);
        _gateway = gateway;
        _batchLines = batchLines;
        if (settings.File is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(settings.File)!);
            _file = new FileStream(settings.File, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 64 * 1024, FileOptions.Asynchronous);
            _nextLine = CountLines(_file);
            _file.Seek(0, SeekOrigin.End);
        }
        _firstUnposted = _nextLine;
        _writer = Task.Run(WriteLoopAsync);
    }

    public bool Enabled => _file is not null || _post is not null;
    /// <summary>Lines written by this process so far.</summary>
    public long Written => Interlocked.Read(ref _written);
    /// <summary>Ledger indexes of the batches posted so far.</summary>
    public IReadOnlyList<long> PostedBatches => [.. _posted];
    private readonly System.Collections.Concurrent.ConcurrentQueue<long> _posted = new();

    public void Record(AuditRecord record)
    {
        if (Enabled)
        {
            _records.Writer.TryWrite((record, null));
        }
    }

    /// <summary>Completes when every record given before this call is in the file (and queued for the ledger).</summary>
    public Task FlushAsync()
    {
        var flushed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _records.Writer.TryWrite((null, flushed)) ? flushed.Task : Task.CompletedTask;
    }

    private static long CountLines(FileStream file)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long lines = 0;
            int read;
            while ((read = file.Read(buffer, 0, buffer.Length)) > 0)
            {
                lines += buffer.AsSpan(0, read).Count((byte)'\n');
            }
            return lines;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task WriteLoopAsync()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        var flushes = new List<TaskCompletionSource>();
        while (await _records.Reader.WaitToReadAsync())
        {
            while (_records.Reader.TryRead(out var item))
            {
                if (item.Record is not { } record)
                {
                    flushes.Add(item.Flushed!);
                    continue;
                }
                var start = buffer.WrittenCount;
                using (var w = new Utf8JsonWriter(buffer))
                {
                    Write(w, record);
                }
                if (_post is not null)
                {
                    lock (_unpostedLock)
                    {
                        _unposted.Add(buffer.WrittenSpan[start..].ToArray());
                    }
                }
                buffer.Write("\n"u8);
                _nextLine++;
            }
            if (_file is not null)
            {
                await _file.WriteAsync(buffer.WrittenMemory);
                await _file.FlushAsync();
            }
            Interlocked.Add(ref _written, buffer.WrittenSpan.Count((byte)'\n'));
            buffer.ResetWrittenCount();
            foreach (var flushed in flushes)
            {
                flushed.TrySetResult();
            }
            flushes.Clear();
        }
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
        w.WriteString("promptSha256", r.PromptSha256);
        w.WriteString("completionSha256", r.CompletionSha256);
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
    /// leaves the lines for the next try: batches stay contiguous.</summary>
    public async Task PostBatchesAsync(bool all, CancellationToken ct)
    {
        if (_post is null)
        {
            return;
        }
        while (true)
        {
            byte[][] lines;
            long first;
            lock (_unpostedLock)
            {
                if (_unposted.Count == 0 || (_unposted.Count < _batchLines && !all))
                {
                    return;
                }
                lines = _unposted.Take(_batchLines).ToArray();
                first = _firstUnposted;
            }
            var tree = new MerkleTree();
            foreach (var line in lines)
            {
                tree.AppendLeaf(line);
            }
            var index = await _post(new AuditBatch { Gateway = _gateway, FirstLine = first, Lines = lines.Length, Root = Convert.ToHexStringLower(tree.Root()) }, ct);
            if (index is null)
            {
                return;
            }
            _posted.Enqueue(index.Value);
            lock (_unpostedLock)
            {
                _unposted.RemoveRange(0, lines.Length);
                _firstUnposted += lines.Length;
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

    public async ValueTask DisposeAsync()
    {
        _records.Writer.TryComplete();
        await _writer;
        if (_file is not null)
        {
            await _file.DisposeAsync();
        }
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

    public void Count(string? grantee, string? model, string decision, string? screen, string? access = null)
    {
        _requests.WithLabels(grantee ?? "", model ?? "", decision, screen ?? "").Inc();
        if (access == "evaluation")
        {
            _evaluationAccess.WithLabels(grantee ?? "", model ?? "", decision).Inc();
        }
    }
}
