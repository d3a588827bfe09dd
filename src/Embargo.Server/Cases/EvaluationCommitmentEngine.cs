using Embargo.Evaluation;
using Embargo.Protocol;
using Embargo.Server.Storage;

namespace Embargo.Server.Cases;

/// <summary>Adapts Embargo.Evaluation's commitment language to stored case results.</summary>
public sealed class EvaluationCommitmentEngine : ICommitmentEngine
{
    public ProtocolError? Validate(string expression)
    {
        var parsed = Commitment.Parse(expression ?? "");
        if (!parsed.Success)
        {
            return ProtocolError.Validation($"commitment does not parse at {parsed.Error}");
        }
        return Tiers.TryParse(parsed.Commitment!.Tier, out _)
            ? null
            : ProtocolError.Validation($"commitment caps at '{parsed.Commitment.Tier}', which is not a tier");
    }

    public CommitmentVerdict Evaluate(string expression, IReadOnlyDictionary<string, EvaluationEntity> latestByCapability)
    {
        var parsed = Commitment.Parse(expression);
        if (!parsed.Success)
        {
            return new CommitmentVerdict(false, null, []);
        }
        var results = latestByCapability.ToDictionary(kv => kv.Key, kv => ToSummary(kv.Value), StringComparer.Ordinal);
        var outcome = parsed.Commitment!.Evaluate(results);
        Tier? tier = outcome.Fired && Tiers.TryParse(outcome.MaxTier, out var t) ? t : null;
        return new CommitmentVerdict(outcome.Fired, tier, parsed.Commitment.Capabilities);
    }

    private static EvalSummary ToSummary(EvaluationEntity e) => new()
    {
        Task = e.Task,
        Capability = e.Capability,
        Samples = e.Samples,
        LogPath = "",
        Subject = new ConditionResult
        {
            Accuracy = e.SubjectAccuracy, Ci95Low = e.SubjectCiLow, Ci95High = e.SubjectCiHigh, Correct = e.SubjectCorrect, Total = e.SubjectTotal, Model = e.SubjectModel,
        },
        Baseline = e.BaselineModel is null ? null : new ConditionResult
        {
            Accuracy = e.BaselineAccuracy ?? 0, Ci95Low = e.BaselineCiLow ?? 0, Ci95High = e.BaselineCiHigh ?? 0,
            Correct = e.BaselineCorrect ?? 0, Total = e.BaselineTotal ?? 0, Model = e.BaselineModel,
        },
        Uplift = e.Uplift is null ? null : new UpliftResult
        {
            Estimate = e.Uplift.Value, Ci95Low = e.UpliftCiLow ?? 0, Ci95High = e.UpliftCiHigh ?? 0, P = e.P ?? 1, Test = e.Test ?? "",
        },
        Verdict = e.Uplift is null ? null : StoredVerdict(e),
    };

    /// <summary>
    /// verdict(...) and upper(...) from what is stored: the one-sided p and the two-sided 95% interval. The upper limit of
    /// that interval is a one-sided 97.5% bound, wider than the one-sided 95% bound the runner reports, so it stands in
    /// conservatively: it can only make "not-novel" harder to reach, never easier. The margin is the default δ.
    /// </summary>
    private static Embargo.Evaluation.Statistics.VerdictResult StoredVerdict(EvaluationEntity e)
    {
        const double alpha = Embargo.Evaluation.Statistics.Verdicts.DefaultAlpha;
        const double margin = Embargo.Evaluation.Statistics.Verdicts.DefaultMargin;
        var p = e.P ?? 1;
        var upper = e.UpliftCiHigh ?? 1;
        var verdict = p < alpha ? Embargo.Evaluation.Statistics.Verdicts.Novel
            : upper < margin ? Embargo.Evaluation.Statistics.Verdicts.NotNovel
            : Embargo.Evaluation.Statistics.Verdicts.Inconclusive;
        return new Embargo.Evaluation.Statistics.VerdictResult
        {
            Verdict = verdict, Margin = margin, Alpha = alpha, Estimate = e.Uplift ?? 0, P = p, Upper = upper, N = e.SubjectTotal,
            Reason = "from the stored p and 95% interval",
        };
    }
}
