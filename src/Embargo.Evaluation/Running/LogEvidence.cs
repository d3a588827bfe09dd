using System.Globalization;
using System.Text.Json;
using Embargo.Evaluation.Statistics;
using Embargo.Text;

namespace Embargo.Evaluation.Running;

/// <summary>
/// A run's log as evidence: read it (bounded: it comes from someone else), check that it is a whole run — every
/// sample × epoch × condition it planned is there exactly once, each either scored in [0, 1] or an error — and recompute
/// its summary from the per-sample records with the runner's own <c>Summarise</c>. Nothing the log says about its own
/// figures (its "summary" member) is believed: only the records count.
/// </summary>
public static class LogEvidence
{
    /// <summary>Deepest JSON nesting a log may have (a log is 4 levels deep).</summary>
    public const int MaxDepth = 16;
    public const int MaxEpochs = 1_000;
    public const int MaxNameLength = 200;
    /// <summary>Most records (sample × epoch × condition) a log may hold.</summary>
    public const int MaxRecords = 2_000_000;

    private static readonly JsonSerializerOptions Options = new(EvalLog.Json) { MaxDepth = MaxDepth };

    /// <summary>Parses a log's bytes; false (with the problem) when it is not a log.</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out EvalLog log, out string problem)
    {
        log = null!;
        problem = "";
        try
        {
            if (JsonSerializer.Deserialize(bytes, Options.GetTypeInfo(typeof(EvalLog))) is not EvalLog parsed)
            {
                problem = "the log is empty (null)";
                return false;
            }
            log = parsed;
        }
        catch (JsonException e)
        {
            problem = "the log is not an eval log: " + Cut(JsonErrorText.Describe(e));
            return false;
        }
        catch (NotSupportedException e)
        {
            problem = "the log is not an eval log: " + Cut(e.Message);
            return false;
        }
        return true;
    }

    /// <summary>
    /// The summary recomputed from the log's records against <paramref name="margin"/>, or false with the problem that
    /// makes the log no whole run. The error tolerance is the one the log states (its summary's maxErrors; 0 without).
    /// </summary>
    public static bool TryRecompute(EvalLog log, double margin, out EvalSummary summary, out string problem)
    {
        summary = null!;
        problem = Check(log) ?? "";
        if (problem.Length > 0)
        {
            return false;
        }
        if (!TryTolerance(log.Summary?.MaxErrors, out var tolerance))
        {
            problem = $"summary.maxErrors '{Cut(log.Summary?.MaxErrors ?? "")}' is not a count or a percentage";
            return false;
        }
        var baseline = log.Baseline.Kind == "none" ? null : log.Baseline;
        summary = EvalRunnerCore.Summarise(log.Task.Name, log.Task.Capability, log.Task.Samples, log.Epochs, log.Subject, baseline,
            log.Samples, logPath: "", tolerance, margin);
        return true;
    }

    private static string? Check(EvalLog log)
    {
        if (log.Version != 1)
        {
            return $"version: log format {log.Version} is not 1";
        }
        if (log.Task is null || log.Subject is null || log.Baseline is null || log.Samples is null)
        {
            return "the log needs task, subject, baseline and samples";
        }
        if (!Name(log.Task.Name) || !Name(log.Task.Capability))
        {
            return "task: a name and a capability of 1–200 characters";
        }
        if (log.Subject.Kind != "model" || !Name(log.Subject.Model))
        {
            return "subject: a model condition with a model name of 1–200 characters";
        }
        if (log.Baseline.Kind is not ("model" or "internet-only" or "none") || (log.Baseline.Kind != "none" && !Name(log.Baseline.Model ?? log.Baseline.Kind)))
        {
            return "baseline: kind model, internet-only or none";
        }
        if (log.Epochs is < 1 or > MaxEpochs)
        {
            return $"epochs: 1–{MaxEpochs}";
        }
        var conditions = log.Baseline.Kind == "none" ? new[] { "subject" } : ["subject", "baseline"];
        var planned = (long)log.Task.Samples * log.Epochs * conditions.Length;
        if (log.Task.Samples < 1 || planned > MaxRecords)
        {
            return $"task.samples: at least 1, and at most {MaxRecords} records in all";
        }
        if (log.Samples.Count != planned)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"samples: the run planned {planned} records ({log.Task.Samples} samples × {log.Epochs} epochs × {conditions.Length} conditions), the log holds {log.Samples.Count}");
        }
        var seen = new HashSet<(string, string, int)>();
        var ids = conditions.ToDictionary(c => c, _ => new HashSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        for (var i = 0; i < log.Samples.Count; i++)
        {
            var r = log.Samples[i];
            if (r is null || !ids.TryGetValue(r.Condition ?? "", out var set))
            {
                return $"samples[{i}].condition: one of {string.Join(", ", conditions)}";
            }
            if (!Name(r.SampleId))
            {
                return $"samples[{i}].sampleId: 1–200 characters";
            }
            if (r.Epoch < 1 || r.Epoch > log.Epochs)
            {
                return $"samples[{i}].epoch: 1–{log.Epochs}";
            }
            if (!seen.Add((r.Condition!, r.SampleId, r.Epoch)))
            {
                return $"samples[{i}]: {r.Condition} {Cut(r.SampleId)} epoch {r.Epoch} appears twice";
            }
            if (r.Error is null ? r.Score is not { } s || !double.IsFinite(s) || s < 0 || s > 1 : r.Score is not null)
            {
                return $"samples[{i}].score: a score in [0, 1], or an error and no score";
            }
            set.Add(r.SampleId);
        }
        if (ids["subject"].Count != log.Task.Samples || conditions.Any(c => !ids[c].SetEquals(ids["subject"])))
        {
            return "samples: every condition ran the same task.samples samples in every epoch";
        }
        return null;
    }

    /// <summary>"N" (a count) or "N%" (a percentage of the records), as <see cref="ErrorTolerance.ToString"/> writes it.</summary>
    private static bool TryTolerance(string? text, out ErrorTolerance tolerance)
    {
        tolerance = ErrorTolerance.None;
        if (text is null)
        {
            return true;
        }
        if (text.EndsWith('%') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent)
            && double.IsFinite(percent) && percent >= 0 && percent < 100)
        {
            tolerance = new ErrorTolerance(percent / 100, true);
            return true;
        }
        return ErrorTolerance.TryParse(text, out tolerance) && !tolerance.IsFraction;
    }

    private static bool Name(string? s) => !string.IsNullOrWhiteSpace(s) && s.Length <= MaxNameLength;

    private static string Cut(string text) => text.Length > 160 ? text[..160] + "…" : text;
}
