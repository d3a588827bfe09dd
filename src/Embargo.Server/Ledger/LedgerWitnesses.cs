using System.Globalization;
using System.Net;
using System.Text;
using Embargo.Contracts;
using Embargo.Ledger;
using Embargo.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Ledger;

/// <summary>
/// The ledger's witnesses (C2SP tlog-witness clients): every new checkpoint the server signs is sent to each witness
/// with a consistency proof from the size that witness last cosigned, and served with the cosignatures that came back.
/// A witness that is down costs its cosignature, never the checkpoint; one that refuses the proof holds a history this
/// ledger does not extend (a fork) and is reported (logged critical, and at GET /api/ledger/witnesses).
/// </summary>
public sealed partial class LedgerWitnesses : IDisposable
{
    private readonly Witness[] _witnesses;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly ILogger<LedgerWitnesses> _logger;
    private readonly Lock _latestGate = new();
    private (long Size, int Count) _latest;

    public LedgerWitnesses(IOptions<EmbargoOptions> options, TimeProvider time, ILogger<LedgerWitnesses> logger)
    {
        var o = options.Value;
        _time = time;
        _logger = logger;
        _http = new HttpClient { Timeout = o.WitnessTimeout };
        _witnesses = o.Witnesses.Select((w, i) =>
        {
            if (!Uri.TryCreate(w.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                throw new InvalidOperationException($"Embargo:Witnesses:{i}:Url '{w.Url}' is not an http(s) URL");
            }
            var key = CosignatureVerifier.Parse(w.Key.Trim());
            if (!key.IsOk)
            {
                throw new InvalidOperationException($"Embargo:Witnesses:{i}:Key: {key.Error.Message}");
            }
            return new Witness(new Uri(url.AbsoluteUri.TrimEnd('/') + "/add-checkpoint"), key.Value);
        }).ToArray();
        if (_witnesses.Select(w => w.Key.Describe()).Distinct(StringComparer.Ordinal).Count() != _witnesses.Length)
        {
            throw new InvalidOperationException("Embargo:Witnesses names the same witness key twice");
        }
        if (o.WitnessQuorum > _witnesses.Length)
        {
            throw new InvalidOperationException($"Embargo:WitnessQuorum {o.WitnessQuorum} is more than the {_witnesses.Length} witnesses configured");
        }
        Quorum = o.WitnessQuorum;
    }

    public int Quorum { get; }

    public bool Any => _witnesses.Length > 0;

    /// <summary>
    /// Asks every witness (in parallel, one request at a time per witness) to cosign the checkpoint in
    /// <paramref name="signedNote"/>, and returns the note with each witness's verified cosignature line appended.
    /// </summary>
    /// <param name="proof">The consistency proof (old size, new size) from the server's tree; null if it no longer holds that size.</param>
    public async Task<string> CosignAsync(string signedNote, Checkpoint checkpoint, Func<long, long, IReadOnlyList<byte[]>?> proof, CancellationToken ct)
    {
        if (_witnesses.Length == 0)
        {
            return signedNote;
        }
        var body = checkpoint.ToNoteBody();
        var lines = await Task.WhenAll(_witnesses.Select(w => CosignOneAsync(w, signedNote, body, checkpoint, proof, ct)));
        var count = lines.Count(l => l is not null);
        lock (_latestGate)
        {
            if (checkpoint.Size >= _latest.Size)
            {
                _latest = (checkpoint.Size, count);
            }
        }
        if (count < Quorum)
        {
            LogBelowQuorum(_logger, checkpoint.Size, count, Quorum);
        }
        return signedNote + string.Concat(lines.OfType<string>());
    }

    public WitnessStatusResponse Status()
    {
        (long Size, int Count) latest;
        lock (_latestGate)
        {
            latest = _latest;
        }
        return new WitnessStatusResponse
        {
            Quorum = Quorum,
            LatestSize = latest.Size,
            LatestCosignatures = latest.Count,
            Witnesses = _witnesses.Select(w =>
            {
                lock (w.StateGate)
                {
                    return new WitnessStatusDto
                    {
                        Name = w.Key.Name, Url = w.Endpoint.AbsoluteUri, VerifierKey = w.Key.VerifierKey, Status = w.Status,
                        LastCosignedSize = w.Size, Detail = w.Detail, CheckedAt = w.CheckedAt,
                    };
                }
            }).ToList(),
        };
    }

    private async Task<string?> CosignOneAsync(Witness w, string signedNote, string body, Checkpoint checkpoint, Func<long, long, IReadOnlyList<byte[]>?> proof, CancellationToken ct)
    {
        await w.Gate.WaitAsync(ct);
        try
        {
            if (w.Cached is { } cached && cached.Size == checkpoint.Size && cached.Root.AsSpan().SequenceEqual(checkpoint.RootHash))
            {
                return cached.Line;
            }
            var old = w.Size;
            // A 409 tells the size the witness holds: one retry from there (e.g. after a restart of this server).
            for (var attempt = 0; attempt < 2; attempt++)
            {
                if (old > checkpoint.Size)
                {
                    // Another replica (or this server before a restart) had it cosign a later tree: not a fork by itself;
                    // the next checkpoint past that size is checked against it with a proof.
                    Record(w, "ahead", old, $"the witness has already cosigned size {old}, beyond this checkpoint's {checkpoint.Size}; a later checkpoint will carry its cosignature");
                    LogAhead(_logger, w.Key.Name, old, checkpoint.Size);
                    return null;
                }
                var hashes = old == 0 || old == checkpoint.Size ? [] : proof(old, checkpoint.Size);
                if (hashes is null)
                {
                    Record(w, "error", old, $"no consistency proof from {old} to {checkpoint.Size} (the tree is being rebuilt)");
                    return null;
                }
                var request = new AddCheckpointRequest(old, hashes, signedNote).Format();
                HttpResponseMessage response;
                string text;
                try
                {
                    using var content = new StringContent(request, new UTF8Encoding(false), "text/plain");
                    response = await _http.PostAsync(w.Endpoint, content, ct);
                    text = await response.Content.ReadAsStringAsync(ct);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    Record(w, "unreachable", w.Size, e.Message.ReplaceLineEndings(" "));
                    LogUnreachable(_logger, w.Key.Name, e.Message.ReplaceLineEndings(" "));
                    return null;
                }
                using (response)
                {
                    switch (response.StatusCode)
                    {
                        case HttpStatusCode.OK:
                            var line = AcceptCosignature(w, text, body);
                            if (line is null)
                            {
                                return null;
                            }
                            w.Cached = (checkpoint.Size, checkpoint.RootHash, line);
                            Record(w, "ok", checkpoint.Size, null);
                            return line;
                        case HttpStatusCode.Conflict when TryParseSize(text, out var held) && held != old:
                            old = held;
                            Record(w, "ok", held, null);
                            continue;
                        case HttpStatusCode.Conflict or HttpStatusCode.UnprocessableEntity:
                            var detail = Detail(text);
                            Record(w, "refused-inconsistent", w.Size, $"the witness refused the checkpoint of size {checkpoint.Size} ({(int)response.StatusCode}): {detail}");
                            LogFork(_logger, w.Key.Name, checkpoint.Size, old, detail);
                            return null;
                        default:
                            Record(w, "error", w.Size, $"the witness answered {(int)response.StatusCode}: {Detail(text)}");
                            LogWitnessError(_logger, w.Key.Name, (int)response.StatusCode, Detail(text));
                            return null;
                    }
                }
            }
            Record(w, "error", w.Size, "the witness kept answering 409 Conflict");
            return null;
        }
        finally
        {
            w.Gate.Release();
        }
    }

    /// <summary>The response's lines by this witness that verify over the checkpoint body (others are ignored, as the spec says).</summary>
    private string? AcceptCosignature(Witness w, string text, string body)
    {
        var lines = ParsedNote.ParseSignatureLines(text);
        if (!lines.IsOk)
        {
            Record(w, "error", w.Size, $"the witness's answer is not signature lines: {lines.Error.Message}");
            return null;
        }
        var good = new StringBuilder();
        foreach (var line in lines.Value.Where(w.Key.Owns))
        {
            var verified = w.Key.Verify(body, line);
            if (!verified.IsOk)
            {
                Record(w, "error", w.Size, verified.Error.Message);
                LogWitnessError(_logger, w.Key.Name, 200, verified.Error.Message);
                return null;
            }
            good.Append(line.ToLine());
        }
        if (good.Length == 0)
        {
            Record(w, "error", w.Size, "the witness answered 200 without a cosignature by its key");
            return null;
        }
        return good.ToString();
    }

    private void Record(Witness w, string status, long size, string? detail)
    {
        lock (w.StateGate)
        {
            w.Status = status;
            w.Size = size;
            w.Detail = detail;
            w.CheckedAt = _time.GetUtcNow();
        }
    }

    private static bool TryParseSize(string text, out long size)
    {
        size = 0;
        var trimmed = text.EndsWith('\n') ? text[..^1] : text;
        return trimmed.Length is > 0 and <= 19 && trimmed.All(char.IsAsciiDigit)
            && long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out size);
    }

    /// <summary>At most one line of 300 characters of what a witness said, without control characters.</summary>
    private static string Detail(string text)
    {
        var line = text.Split('\n', 2)[0];
        var clean = new string(line.Select(c => char.IsControl(c) ? ' ' : c).ToArray());
        return clean.Length > 300 ? clean[..300] + "…" : clean;
    }

    public void Dispose()
    {
        _http.Dispose();
        foreach (var w in _witnesses)
        {
            w.Gate.Dispose();
        }
    }

    private sealed class Witness(Uri endpoint, CosignatureVerifier key)
    {
        public Uri Endpoint { get; } = endpoint;
        public CosignatureVerifier Key { get; } = key;
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public Lock StateGate { get; } = new();
        public long Size { get; set; }
        public string Status { get; set; } = "not-asked";
        public string? Detail { get; set; }
        public DateTimeOffset? CheckedAt { get; set; }
        public (long Size, byte[] Root, string Line)? Cached { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The checkpoint of size {Size} carries {Count} witness cosignatures; the quorum is {Quorum}")]
    private static partial void LogBelowQuorum(ILogger logger, long size, int count, int quorum);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Witness {Witness} refused the checkpoint of size {Size} (asked from size {Old}): it holds a history this ledger does not extend, a fork. {Detail}")]
    private static partial void LogFork(ILogger logger, string witness, long size, long old, string detail);

    [LoggerMessage(Level = LogLevel.Information, Message = "Witness {Witness} has already cosigned size {Held}, beyond the checkpoint of size {Size}")]
    private static partial void LogAhead(ILogger logger, string witness, long held, long size);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Witness {Witness} is unreachable: {Detail}")]
    private static partial void LogUnreachable(ILogger logger, string witness, string detail);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Witness {Witness} answered {Status}: {Detail}")]
    private static partial void LogWitnessError(ILogger logger, string witness, int status, string detail);
}
