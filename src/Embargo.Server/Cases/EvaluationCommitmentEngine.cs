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

    public CommitmentVerdict Evaluate(string expression, IReadOnlyDictionary<string, EvaluationEntity> latestByCapability, Func<EvaluationEntity, EvidenceVerdict>? verdictOf = null)
    {
        var parsed = Commitment.Parse(expression);
        if (!parsed.Success)
        {
            return new CommitmentVerdict(false, null, []);
        }
        var results = latestByCapability.ToDictionary(kv => kv.Key, kv => ToSummary(kv.Value, verdictOf), StringComparer.Ordinal);
        var outcome = parsed.Commitment!.Evaluate(results);
        Tier? tier = outcome.Fired && Tiers.TryParse(outcome.MaxTier, out var t) ? t : null;
        return new CommitmentVerdict(outcome.Fired, tier, parsed.Commitment.Capabilities);
    }

    private static EvalSummary ToSummary(EvaluationEntity e, Func<EvaluationEntity, EvidenceVerdict>? verdictOf) => new()
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
        Verdict = e.Uplift is null ? null : StoredVerdict(e, verdictOf?.Invoke(e)),
    };

    /// <summary>
    /// verdict(...) and upper(...) from what is stored, judged as everywhere else on the server (<see cref="EvidenceVerdicts.Of"/>):
    /// the one-sided p and upper bound against the capability's threat-model margin. A result stored without its upper
    /// bound falls back on the upper limit of its two-sided 95% interval (a one-sided 97.5% bound: only ever harder to clear).
    /// </summary>
    private static Embargo.Evaluation.Statistics.VerdictResult StoredVerdict(EvaluationEntity e, EvidenceVerdict? judged)
    {
        var verdict = judged ?? EvidenceVerdicts.Of(e.Uplift, e.P, e.UpliftUpper, EvidenceVerdicts.DefaultMargin, fallbackUpper: e.UpliftCiHigh);
        return new Embargo.Evaluation.Statistics.VerdictResult
        {
            Verdict = verdict.Verdict, Margin = verdict.Margin, Alpha = verdict.Alpha, Estimate = e.Uplift ?? 0, P = e.P ?? 1,
            Upper = verdict.Upper ?? 1, N = e.SubjectTotal, MoreSamples = verdict.MoreSamples, Reason = verdict.Reason,
        };
    }
}
