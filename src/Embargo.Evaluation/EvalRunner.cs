using Embargo.Evaluation.Running;

namespace Embargo.Evaluation;

/// <summary>Runs a task (YAML + dataset) against a subject and a baseline condition and writes one JSON log.</summary>
public static class EvalRunner
{
    public static Task<EvalSummary> RunAsync(EvalRunRequest request, IProgress<EvalProgress>? progress, CancellationToken ct) =>
        EvalRunnerCore.RunAsync(request, progress, ct);
}
