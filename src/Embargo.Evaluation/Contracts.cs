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
    /// <summary>Resume an interrupted run from its log (the .json or its .journal.jsonl): completed samples are not re-asked.</summary>
    public string? ResumeFrom { get; init; }
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

public sealed record EvalSummary
{
    public required string Task { get; init; }
    public required string Capability { get; init; }
    public required int Samples { get; init; }
    public required ConditionResult Subject { get; init; }
    public ConditionResult? Baseline { get; init; }
    public UpliftResult? Uplift { get; init; }
    public required string LogPath { get; init; }
    public int Epochs { get; init; } = 1;
    public int Errors { get; init; }
}

public sealed record ConditionResult
{
    public required double Accuracy { get; init; }
    public required double Ci95Low { get; init; }
    public required double Ci95High { get; init; }
    /// <summary>Samples counted correct (epoch mean ≥ 0.5); equals Accuracy × Total when Epochs = 1.</summary>
    public required int Correct { get; init; }
    public required int Total { get; init; }
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
    public required TimeSpan Elapsed { get; init; }
    /// <summary>The run's log (pass it as ResumeFrom to resume an interrupted run).</summary>
    public string? LogPath { get; init; }
}

/// <summary>Bad input (task file, dataset, options): the message names what is wrong and where.</summary>
public sealed class EvalInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A model endpoint could not be reached; the message names the URL.</summary>
public sealed class EndpointUnreachableException(Uri url, string message, Exception? inner = null)
    : Exception($"model endpoint {url} is unreachable: {message}", inner)
{
    public Uri Url { get; } = url;
}
