namespace Embargo.Evaluation;

/// <summary>An OpenAI-compatible chat-completions endpoint and model name. Url is the API base, e.g. http://host:port/v1.</summary>
public sealed record ModelEndpoint
{
    public required Uri Url { get; init; }
    public required string Name { get; init; }
    public string? ApiKey { get; init; }
    public override string ToString() => $"{Name} @ {Url}";
}

/// <summary>One evaluation run: a task against a subject and (optionally) a baseline condition.</summary>
public sealed record EvalRunRequest
{
    public required string TaskPath { get; init; }
    public required ModelEndpoint Subject { get; init; }
    /// <summary>A baseline model (e.g. the strongest already-open model). When null the task's own baseline
    /// (an internet-only proxy) is used, unless <see cref="BaselineNone"/>.</summary>
    public ModelEndpoint? Baseline { get; init; }
    public bool BaselineNone { get; init; }
    /// <summary>The reference model: plans for "assisted" solvers; default grader.</summary>
    public ModelEndpoint? Reference { get; init; }
    /// <summary>The grader for model-graded scorers (default: Reference, else Subject).</summary>
    public ModelEndpoint? Grader { get; init; }
    public int Epochs { get; init; } = 1;
    public int Concurrency { get; init; } = 8;
    public int? Limit { get; init; }
    /// <summary>Where the run's JSON log is written (default ./logs).</summary>
    public string? LogDir { get; init; }
    /// <summary>Resume an interrupted run from its log (the .json or its .journal.jsonl): samples answered are not
    /// re-asked; samples not yet run and samples that ended in an error are (so this also retries errors).</summary>
    public string? ResumeFrom { get; init; }
    /// <summary>How many sample errors the run tolerates before it ends with status "error" (default 0).</summary>
    public ErrorTolerance MaxErrors { get; init; } = ErrorTolerance.None;
    /// <summary>δ, the smallest uplift that matters, for the verdict (default 0.05).</summary>
    public double Margin { get; init; } = Statistics.Verdicts.DefaultMargin;
    public EvalRunnerOptions Options { get; init; } = new();
}

/// <summary>The engine's knobs, in one place.</summary>
public sealed record EvalRunnerOptions
{
    public int MaxRetries { get; init; } = 4;
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(500);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(20);
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Check each endpoint with GET /models before the run; unreachable endpoints fail fast.</summary>
    public bool Preflight { get; init; } = true;
    public int MaxToolRounds { get; init; } = 6;
    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// The one summary of a run: what the log holds, what `--json` prints and what is recorded on a case. Errors are
/// counted, never scored: accuracies and their intervals are over the samples a condition answered, the uplift over
/// the samples both answered.
/// </summary>
public sealed record EvalSummary
{
    public required string Task { get; init; }
    public required string Capability { get; init; }
    public required int Samples { get; init; }
    /// <summary>"complete" (errors within tolerance) or "error" (more errors than tolerated: not evidence).</summary>
    public string Status { get; init; } = EvalStatus.Complete;
    /// <summary>One line saying why the status is "error".</summary>
    public string? StatusReason { get; init; }
    public required ConditionResult Subject { get; init; }
    public ConditionResult? Baseline { get; init; }
    public UpliftResult? Uplift { get; init; }
    /// <summary>novel / not-novel / inconclusive, with the one-sided upper bound (null without a baseline).</summary>
    public Statistics.VerdictResult? Verdict { get; init; }
    public required string LogPath { get; init; }
    public int Epochs { get; init; } = 1;
    /// <summary>Sample × epoch × condition records that ended in an error (kept in the log, excluded from the statistics).</summary>
    public int Errors { get; init; }
    /// <summary>Sample × epoch × condition records the run asked for.</summary>
    public int Records { get; init; }
    /// <summary>The tolerance the status was judged against, e.g. "0", "5" or "5%".</summary>
    public string MaxErrors { get; init; } = "0";
}

public static class EvalStatus
{
    public const string Running = "running";
    public const string Complete = "complete";
    public const string Error = "error";
    public const string Cancelled = "cancelled";
}

/// <summary>How many errored records a run tolerates: a count (5) or a fraction of its records (0.05).</summary>
public readonly record struct ErrorTolerance(double Value, bool IsFraction)
{
    public static readonly ErrorTolerance None = new(0, false);

    /// <summary>"N" (a whole count) or a fraction in [0, 1) written with a decimal point ("0.05").</summary>
    public static bool TryParse(string? text, out ErrorTolerance tolerance)
    {
        tolerance = None;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var s = text.Trim();
        if (s.Contains('.', StringComparison.Ordinal))
        {
            if (double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var f) && f >= 0 && f < 1)
            {
                tolerance = new ErrorTolerance(f, true);
                return true;
            }
            return false;
        }
        if (int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
        {
            tolerance = new ErrorTolerance(n, false);
            return true;
        }
        return false;
    }

    public bool Allows(int errors, int records) => IsFraction ? errors <= Value * records : errors <= Value;

    public override string ToString() => IsFraction
        ? (Value * 100).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + "%"
        : Value.ToString("0", System.Globalization.CultureInfo.InvariantCulture);
}

public sealed record ConditionResult
{
    public required double Accuracy { get; init; }
    public required double Ci95Low { get; init; }
    public required double Ci95High { get; init; }
    /// <summary>Samples counted correct (epoch mean ≥ 0.5); equals Accuracy × Total when Epochs = 1.</summary>
    public required int Correct { get; init; }
    /// <summary>Samples this condition answered (every epoch without an error): what the accuracy is over.</summary>
    public required int Total { get; init; }
    /// <summary>Records (sample × epoch) of this condition that ended in an error.</summary>
    public int Errors { get; init; }
    /// <summary>Model name, or "internet-only" / "none" for non-model baselines.</summary>
    public required string Model { get; init; }
}

public sealed record UpliftResult
{
    public required double Estimate { get; init; }
    public required double Ci95Low { get; init; }
    public required double Ci95High { get; init; }
    /// <summary>One-sided p-value for "subject better than baseline".</summary>
    public required double P { get; init; }
    /// <summary>"mcnemar-exact" (paired: both ran the same samples) or "fisher-exact".</summary>
    public required string Test { get; init; }
    /// <summary>"newcombe-paired-10" or "newcombe-unpaired-10".</summary>
    public string Interval { get; init; } = "";
    /// <summary>Samples the uplift is over: those both conditions answered (paired).</summary>
    public int Pairs { get; init; }
}

/// <summary>Live progress of a run.</summary>
public sealed record EvalProgress
{
    public required int Completed { get; init; }
    public required int Total { get; init; }
    public required double SamplesPerSecond { get; init; }
    /// <summary>Running accuracy of the subject condition over its completed samples.</summary>
    public required double SubjectAccuracy { get; init; }
    public double? BaselineAccuracy { get; init; }
    /// <summary>Records that ended in an error so far (not scored).</summary>
    public int Errors { get; init; }
    public required TimeSpan Elapsed { get; init; }
    /// <summary>The run's log (pass it as ResumeFrom to resume an interrupted run).</summary>
    public string? LogPath { get; init; }
}

/// <summary>Bad input (task file, dataset, options): the message names what is wrong and where.</summary>
public sealed class EvalInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A model endpoint failed outside a sample (before the run, or the reference model); the message is one
/// line naming the URL and the model.</summary>
public class ModelEndpointException(Uri url, string model, string message, Exception? inner = null)
    : Exception($"model {model} at {url}: {message}", inner)
{
    public Uri Url { get; } = url;
    public string Model { get; } = model;
}

/// <summary>A model endpoint could not be reached; the message names the URL and model.</summary>
public sealed class EndpointUnreachableException(Uri url, string model, string message, Exception? inner = null)
    : ModelEndpointException(url, model, "unreachable: " + message, inner);

/// <summary>The endpoint answers but does not serve the model (a misspelt name) or refuses the key: bad input.</summary>
public sealed class ModelNotAvailableException(Uri url, string model, string message, Exception? inner = null)
    : ModelEndpointException(url, model, message, inner);
