namespace Embargo.Protocol;

/// <summary>A case's reference model against the strongest one registered (rule 5).</summary>
public sealed record ReferenceFacts(string Name, double Strength, string StrongestName, double StrongestStrength)
{
    public bool Weaker => Strength < StrongestStrength;
}

/// <summary>
/// Rule 5, closed: a case is tested with the strongest reference model there is. It cannot open with a weaker one,
/// it is not certified while a stronger one exists, and a case overtaken by a stronger one re-enters testing with it,
/// where only evidence made with its current reference model counts.
/// </summary>
public static class ReferenceModels
{
    /// <summary>A case opens only with a reference model at least as strong as every registered one.</summary>
    public static ProtocolError? OpenRefusal(ReferenceFacts reference) =>
        reference.Weaker
            ? ProtocolError.Violation("rule-5", $"reference model {reference.Name} (strength {reference.Strength}) is weaker than {reference.StrongestName} (strength {reference.StrongestStrength}); a case is opened with the strongest registered reference model")
            : null;

    /// <summary>No certificate while the case's reference model is weaker than the strongest registered.</summary>
    public static ProtocolError? CertificationRefusal(ReferenceFacts? reference) =>
        reference is { Weaker: true }
            ? ProtocolError.Violation("rule-5", $"the case used reference model {reference.Name} (strength {reference.Strength}) but {reference.StrongestName} (strength {reference.StrongestStrength}) is registered; re-evaluate the case with it (POST /api/cases/{{id}}/reference) before it can be certified")
            : null;

    /// <summary>
    /// Switching a case to a stronger reference model: it must be the strongest registered and stronger than the
    /// case's; a case that had reached testing or beyond goes back to testing, one before testing keeps its phase.
    /// Returns the phase the case is in afterwards.
    /// </summary>
    public static Result<CaseState> Reevaluate(CaseState state, ReferenceFacts current, string targetName, double targetStrength)
    {
        if (state == CaseState.Denied)
        {
            return ProtocolError.Violation("case-phase", "the case is denied; a denied case is not re-evaluated (open a new case once the denial is lifted)");
        }
        if (targetStrength <= current.Strength)
        {
            return ProtocolError.Validation($"referenceModelId: {targetName} (strength {targetStrength}) is not stronger than the case's reference model {current.Name} (strength {current.Strength})");
        }
        if (targetStrength < current.StrongestStrength)
        {
            return ProtocolError.Violation("rule-5", $"{targetName} (strength {targetStrength}) is weaker than {current.StrongestName} (strength {current.StrongestStrength}); re-evaluate with the strongest registered reference model");
        }
        return state is CaseState.Scoping or CaseState.Mapping ? state : CaseState.Testing;
    }
}
