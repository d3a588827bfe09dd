using Embargo.Protocol;
using Embargo.Server.Storage;

namespace Embargo.Server.Cases;

public sealed record CommitmentVerdict(bool Fired, Tier? MaxTier, IReadOnlyList<string> Capabilities);

/// <summary>Rule 6: if-then commitments over a case's results (the language lives in Embargo.Evaluation).</summary>
public interface ICommitmentEngine
{
    ProtocolError? Validate(string expression);

    /// <summary>Evaluates against the latest case evaluation per capability.</summary>
    /// <param name="verdictOf">Each result's verdict against its capability's threat-model margin (null: the default margin).</param>
    CommitmentVerdict Evaluate(string expression, IReadOnlyDictionary<string, EvaluationEntity> latestByCapability, Func<EvaluationEntity, EvidenceVerdict>? verdictOf = null);
}
