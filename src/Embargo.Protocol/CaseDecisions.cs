namespace Embargo.Protocol;

/// <summary>How a threat model enters a case: a draft to be judged, an accepted one added directly, or a draft accepted.</summary>
public enum ThreatModelMove
{
    Propose,
    AddAccepted,
    Accept,
}

/// <summary>What a finding is about, as the server found it: the capability, whether its evidence makes it novel, and the run it cites.</summary>
public sealed record FindingCommand(string Capability, bool CapabilityNovel, string EvidenceId, bool EvidenceFromIndependentEvaluator)
{
    /// <summary>The cited run's own verdict (null: not judged, taken as not-novel).</summary>
    public EvidenceVerdict? EvidenceVerdict { get; init; }
    /// <summary>The capability's inconclusive run when its evidence taken together is inconclusive (see <see cref="EvidenceVerdicts.OfCapability"/>).</summary>
    public EvidenceFacts? Inconclusive { get; init; }
}

/// <summary>An evaluation to record: its capability, and the mitigation it re-runs against (null: a case evaluation).</summary>
public sealed record EvaluationCommand(string Capability, string? MitigationId);

/// <summary>
/// The case's decisions as pure functions: the facts (the case's phase, threat models and parties), the actor and the
/// command in; the outcome or the refusal naming its rule out. Endpoints load the facts, call one of these, and
/// persist what it decided. Who may do what comes from <see cref="Access"/>; the phase rules from <see cref="Rules"/>.
/// </summary>
public static class CaseDecisions
{
    private static ProtocolAction ActionOf(ThreatModelMove move) => move switch
    {
        ThreatModelMove.Propose => ProtocolAction.ProposeThreatModelDraft,
        ThreatModelMove.AddAccepted => ProtocolAction.AddAcceptedThreatModel,
        _ => ProtocolAction.AcceptThreatModel,
    };

    /// <summary>Threat models are proposed, added or accepted in scoping or mapping, one per capability; acceptance is rule 9's.</summary>
    public static ProtocolError? ThreatModel(CaseFacts facts, Actor actor, Subject subject, ThreatModelMove move) =>
        Access.Decide(ActionOf(move), actor, subject)
        ?? (facts.State is CaseState.Scoping or CaseState.Mapping
            ? null
            : ProtocolError.Violation("case-phase", $"threat models are added in scoping or mapping; the case is in {facts.State.Name()}"));

    /// <summary>A capability names one new threat model of the case: 1–100 characters of letters, digits, '-', '_' or '.'.</summary>
    public static ProtocolError? NewCapability(CaseFacts facts, IReadOnlyCollection<string> acceptedCapabilities, string? capability)
    {
        if (string.IsNullOrWhiteSpace(capability) || capability.Length > 100 || capability.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            return ProtocolError.Validation("capability must be 1–100 characters of letters, digits, '-', '_' or '.'");
        }
        return acceptedCapabilities.Contains(capability)
            ? ProtocolError.Validation($"the case already has a threat model for '{capability}'")
            : null;
    }

    /// <summary>Commitments are made by the developer or the case's regulator, before certification.</summary>
    public static ProtocolError? Commit(CaseFacts facts, Actor actor, Subject subject) =>
        Access.Decide(ProtocolAction.AddCommitment, actor, subject)
        ?? (Rules.IsTerminal(facts.State) || facts.State == CaseState.Certification
            ? ProtocolError.Violation("case-phase", $"commitments are made before certification; the case is in {facts.State.Name()}")
            : null);

    /// <summary>Moving the case on: the table says who, <see cref="Rules.Advance"/> says whether.</summary>
    public static Result<CaseState> Advance(CaseFacts facts, Actor actor, Subject subject, CaseState to) =>
        Access.Decide(ProtocolAction.AdvanceCase, actor, subject) is { } refused ? refused : Rules.Advance(facts, to);

    /// <summary>
    /// Case evaluations are submitted in testing or reflection, verification runs in disclosure; anyone on the case may
    /// submit (evidence of danger counts from anyone), only an independent evaluator's run counts as evidence of safety.
    /// </summary>
    public static ProtocolError? SubmitEvaluation(CaseFacts facts, Actor actor, Subject subject, EvaluationCommand command)
    {
        if (Access.Decide(ProtocolAction.SubmitEvaluation, actor, subject) is { } refused)
        {
            return refused;
        }
        if (command.MitigationId is not null)
        {
            return facts.State == CaseState.Disclosure
                ? null
                : ProtocolError.Violation("case-phase", $"verification runs happen in disclosure/mitigation; the case is in {facts.State.Name()}");
        }
        if (facts.State is not (CaseState.Testing or CaseState.Reflection))
        {
            return ProtocolError.Violation("case-phase", $"evaluations are submitted in testing or reflection; the case is in {facts.State.Name()}");
        }
        return null;
    }

    /// <summary>Who may record a finding at all (anyone on the case's evaluation), and when (testing or reflection).</summary>
    public static ProtocolError? MayRecordFinding(CaseFacts facts, Actor actor, Subject subject) =>
        Access.Decide(ProtocolAction.RecordNovelFinding, actor, subject)
        ?? (facts.State is CaseState.Testing or CaseState.Reflection
            ? null
            : ProtocolError.Violation("case-phase", $"findings are recorded in testing or reflection; the case is in {facts.State.Name()}"));

    /// <summary>
    /// Rule 9 for findings: a finding the evidence shows novel may come from anyone on the case; a finding not novel is
    /// evidence of safety and comes only from an independent evaluator assigned to the case, citing such an evaluator's
    /// run. Novelty is the evidence's, never the caller's say-so. The outcome is whether the finding is novel.
    /// </summary>
    public static Result<bool> RecordFinding(CaseFacts facts, Actor actor, Subject subject, FindingCommand command)
    {
        if (MayRecordFinding(facts, actor, subject) is { } refused)
        {
            return refused;
        }
        if (command.CapabilityNovel)
        {
            return true;
        }
        if (Access.Decide(ProtocolAction.RecordNotNovelFinding, actor, subject) is { } notYours)
        {
            return notYours;
        }
        if (!command.EvidenceFromIndependentEvaluator)
        {
            return ProtocolError.Violation("rule-9", $"evaluation {command.EvidenceId} was not submitted by an independent evaluator assigned to the case; it cannot show '{command.Capability}' not novel");
        }
        // Not significant is not "not novel": only a run whose upper bound is below the margin clears, and only when no
        // other run of the capability leaves it open.
        if (command.EvidenceVerdict is { IsNotNovel: false } verdict)
        {
            return ProtocolError.Violation("rule-9", $"evaluation {command.EvidenceId} is {verdict.Verdict} ({verdict.Reason}); only a not-novel run shows '{command.Capability}' not novel");
        }
        if (command.Inconclusive is { } open)
        {
            return EvidenceVerdicts.InconclusiveRefusal(command.Capability, open);
        }
        return false;
    }
}
