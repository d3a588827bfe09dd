using System.Text.Json;
using System.Text.Json.Serialization;
using Embargo.Text;

namespace Embargo.Evaluation.Running;

/// <summary>One message of a sample's transcript.</summary>
public sealed record LogMessage(string Role, string Content);

/// <summary>One sample × epoch × condition: transcript, raw output, score, explanation, timing.</summary>
public sealed record SampleRecord
{
    public required string Condition { get; init; }
    public required string SampleId { get; init; }
    public required int Epoch { get; init; }
    public required string Model { get; init; }
    public required IReadOnlyList<LogMessage> Messages { get; init; }
    /// <summary>The raw model output, kept even when it is garbage.</summary>
    public required string Output { get; init; }
    public string? Answer { get; init; }
    /// <summary>The score; null when the sample ended in an error (an error is not an answer and is never scored).</summary>
    public double? Score { get; init; }
    public required string Explanation { get; init; }
    public string? Error { get; init; }
    public required double ElapsedMs { get; init; }
    public int ModelCalls { get; init; }
}

public sealed record LogCondition
{
    /// <summary>"model", "internet-only" or "none".</summary>
    public required string Kind { get; init; }
    public string? Model { get; init; }
    public string? Url { get; init; }
    public string? Description { get; init; }
}

public sealed record LogTask
{
    public required string Name { get; init; }
    public required string Capability { get; init; }
    public required string Path { get; init; }
    public required int Samples { get; init; }
}

/// <summary>The run's log: one JSON file. While running, completed samples are appended to
/// PATH.journal.jsonl (one <see cref="SampleRecord"/> a line), which resumption reads.</summary>
public sealed record EvalLog
{
    public int Version { get; init; } = 1;
    public required string RunId { get; init; }
    /// <summary>"running", "complete", "error" (more sample errors than tolerated; see Summary.StatusReason) or "cancelled".</summary>
    public required string Status { get; init; }
    public required LogTask Task { get; init; }
    public required LogCondition Subject { get; init; }
    public required LogCondition Baseline { get; init; }
    public required int Epochs { get; init; }
    public int? Limit { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public IReadOnlyList<SampleRecord> Samples { get; init; } = [];
    public EvalSummary? Summary { get; init; }

    /// <summary>Options for reading and writing logs (source-generated metadata).</summary>
    public static JsonSerializerOptions Json => EvalLogJsonContext.Default.Options;

    internal static JsonSerializerOptions JournalJson => JournalJsonContext.Default.Options;

    internal static string Serialize(EvalLog log) => JsonSerializer.Serialize(log, EvalLogJsonContext.Default.EvalLog);

    /// <summary>A record's journal line (without the line end), as UTF-8 bytes.</summary>
    internal static byte[] SerializeRecordUtf8(SampleRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, JournalJsonContext.Default.SampleRecord);

    /// <summary>Writes <see cref="Serialize"/>'s text as UTF-8 (no BOM) to a file, streamed instead of built as one string.</summary>
    internal static async Task WriteAsync(string path, EvalLog log)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 16, useAsync: true);
        await JsonSerializer.SerializeAsync(file, log, EvalLogJsonContext.Default.EvalLog, CancellationToken.None);
    }

    /// <summary>The summary as `eval run --json` prints it: the very shape of the log's "summary" member, indented.</summary>
    public static string SummaryJson(EvalSummary summary) => JsonSerializer.Serialize(summary, SummaryJsonContext.Default.EvalSummary);

    /// <summary>The summaries of an eval set, as a JSON array of the same shape.</summary>
    public static string SummaryJson(IReadOnlyList<EvalSummary> summaries) => JsonSerializer.Serialize(summaries, SummaryJsonContext.Default.IReadOnlyListEvalSummary);

    public static string JournalPath(string logPath) => logPath + ".journal.jsonl";

    public static EvalLog Read(string path)
    {
        if (path.EndsWith(".journal.jsonl", StringComparison.Ordinal))
        {
            path = path[..^".journal.jsonl".Length];
        }
        if (!File.Exists(path))
        {
            throw new EvalInputException($"eval log {path} not found");
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), EvalLogJsonContext.Default.EvalLog)
                ?? throw new EvalInputException($"eval log {path} is empty");
        }
        catch (JsonException e)
        {
            throw new EvalInputException($"eval log {path} is not a valid log: {JsonErrorText.Describe(e)}", e);
        }
    }

    /// <summary>Completed records of a log: those in the final file plus those journalled (a torn last line is ignored).</summary>
    public static List<SampleRecord> ReadCompleted(string path, EvalLog log)
    {
        var records = new Dictionary<(string, string, int), SampleRecord>();
        foreach (var r in log.Samples)
        {
            records[(r.Condition, r.SampleId, r.Epoch)] = r;
        }
        var journal = JournalPath(path);
        if (File.Exists(journal))
        {
            foreach (var line in File.ReadLines(journal))
            {
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }
                try
                {
                    var r = JsonSerializer.Deserialize(line, JournalJsonContext.Default.SampleRecord);
                    if (r is not null)
                    {
                        records[(r.Condition, r.SampleId, r.Epoch)] = r;
                    }
                }
                catch (JsonException)
                {
                    // a line torn by the interruption: that sample is simply run again
                }
            }
        }
        return [.. records.Values];
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EvalLog))]
internal sealed partial class EvalLogJsonContext : JsonSerializerContext;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SampleRecord))]
internal sealed partial class JournalJsonContext : JsonSerializerContext;

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EvalSummary))]
[JsonSerializable(typeof(IReadOnlyList<EvalSummary>))]
internal sealed partial class SummaryJsonContext : JsonSerializerContext;
