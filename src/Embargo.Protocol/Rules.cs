namespace Embargo.Protocol;

/// <summary>What the case-phase rules need to know about a case; the server fills it from storage.</summary>
public sealed record CaseFacts
{
    public required CaseState State { get; init; }
    public required Tier RequestedTier { get; init; }
    public required IReadOnlyList<string> ThreatModelCapabilities { get; init; }
    public required IReadOnlyList<string> EvaluatedCapabilities { get; init; }
    /// <summary>Capabilities evaluated only by the developer's side (rule 9: that evidence clears nothing).</summary>
    public IReadOnlyList<string> EvaluatedOnlyByDeveloperSide { get; init; } = [];
    public required IReadOnlyList<FindingFacts> Findings { get; init; }
    /// <summary>Tier caps from if-then commitments that fired and whose findings are not yet mitigated.</summary>
    public required IReadOnlyList<TierCap> ActiveCaps { get; init; }
    /// <summary>Rule 5: the case's reference model against the strongest registered (null: not checked).</summary>
    public ReferenceFacts? Reference { get; init; }
    /// <summary>Rule 11: denials of this model version (from any case) that stand.</summary>
    public IReadOnlyList<DenialFacts> StandingDenials { get; init; } = [];
    /// <summary>Rules 9 and 10: every case evaluation with its verdict, condition kind and provenance (null: not checked).</summary>
    public IReadOnlyList<EvidenceFacts>? Evidence { get; init; }
    /// <summary>The safety case's own facts (null: not checked). With <see cref="Evidence"/>, certification needs every claim supported.</summary>
    public SafetyCaseFacts? SafetyCase { get; init; }
}

public sealed record FindingFacts
{
    public required string Id { get; init; }
    public required string Capability { get; init; }
    public required bool Novel { get; init; }
    public required IReadOnlyList<string> RequiredRecipients { get; init; }
    public required IReadOnlyList<string> DisclosedTo { get; init; }
    public required IReadOnlyList<MitigationFacts> Mitigations { get; init; }
    /// <summary>Rule 5: its evidence was made with the case's current reference model (a not-novel finding counts only then).</summary>
    public bool CurrentEvidence { get; init; } = true;
}

public sealed record MitigationFacts
{
    public required string Id { get; init; }
    public required string Party { get; init; }
    public required bool Verified { get; init; }
    public required bool HasDeadline { get; init; }
    /// <summary>The evaluation that verified it (null: none).</summary>
    public string? VerificationEvaluationId { get; init; }
    /// <summary>Hex sha256 of the verification run's log.</summary>
    public string? VerificationLogSha256 { get; init; }
    /// <summary>Rule 5: the verification run was made with the case's current reference model.</summary>
    public bool VerificationCurrent { get; init; } = true;
    /// <summary>The ledger index the verification run was recorded at (an accepted incident discounts older verifications).</summary>
    public long? VerificationLedgerIndex { get; init; }
    /// <summary>The accepted incident whose acceptance came after this mitigation's verification (the safety case no longer counts it).</summary>
    public string? DiscountedByIncident { get; init; }
}

public sealed record TierCap(Tier MaxTier, string Commitment, string FindingId);

/// <summary>The protocol's rules as pure functions. Each refusal names the rule that stops the move.</summary>
public static class Rules
{
    private static readonly IReadOnlyDictionary<CaseState, CaseState> Next = new Dictionary<CaseState, CaseState>
    {
        [CaseState.Scoping] = CaseState.Mapping,
        [CaseState.Mapping] = CaseState.Testing,
        [CaseState.Testing] = CaseState.Reflection,
        [CaseState.Reflection] = CaseState.Disclosure,
        [CaseState.Disclosure] = CaseState.Certification,
    };

    public static bool IsTerminal(CaseState state) => state is CaseState.Released or CaseState.Denied;

    /// <summary>The one forward move out of each phase, and what it needs.</summary>
    public static Result<CaseState> Advance(CaseFacts facts, CaseState to)
    {
        if (!Next.TryGetValue(facts.State, out var next) || next != to)
        {
            return ProtocolError.Violation("case-phase",
                Next.TryGetValue(facts.State, out var allowed)
                    ? $"a case in {facts.State.Name()} can only move to {allowed.Name()}, not {to.Name()}"
                    : $"a case in {facts.State.Name()} does not move forward (releases and denials end a case)");
        }
        switch (to)
        {
            case CaseState.Mapping or CaseState.Testing when facts.ThreatModelCapabilities.Count == 0:
                return ProtocolError.Violation("case-phase", $"moving to {to.Name()} needs at least one threat model");
            case CaseState.Reflection:
                var unevaluated = facts.ThreatModelCapabilities.Except(facts.EvaluatedCapabilities, StringComparer.Ordinal).ToList();
                var dependent = unevaluated.Intersect(facts.EvaluatedOnlyByDeveloperSide, StringComparer.Ordinal).ToList();
                if (dependent.Count > 0)
                {
                    return ProtocolError.Violation("rule-9", $"moving to reflection needs an independent evaluator's evaluation of every threat model; only the developer's side evaluated: {string.Join(", ", dependent)}");
                }
                if (unevaluated.Count > 0)
                {
                    return ProtocolError.Violation("case-phase", $"moving to reflection needs an evaluation of every threat model; missing: {string.Join(", ", unevaluated)}");
                }
                break;
            case CaseState.Disclosure:
                var undecided = facts.ThreatModelCapabilities.Where(c => !facts.Findings.Any(f => f.Capability == c && (f.Novel || f.CurrentEvidence))).ToList();
                if (undecided.Count > 0)
                {
                    return ProtocolError.Violation("case-phase", $"moving to disclosure needs a finding (novel or not) for every threat model; missing: {string.Join(", ", undecided)}");
                }
                // The last phase that takes evidence: an inconclusive capability or missing coverage is settled here, not found at certification.
                if (facts.Evidence is { } evidence && EvidenceVerdicts.Refusals(facts.ThreatModelCapabilities, evidence, facts.RequestedTier) is [var open, ..])
                {
                    return open;
                }
                break;
            case CaseState.Certification:
                var blockers = CertificationBlockers(facts with { State = CaseState.Certification }, facts.RequestedTier);
                if (blockers.Count > 0)
                {
                    return blockers[0];
                }
                break;
        }
        return to;
    }

    /// <summary>Rules 2, 6, 9 (inconclusive evidence) and 10 (elicitation coverage), then the safety case: everything that stops a certificate for <paramref name="tier"/> now.</summary>
    public static IReadOnlyList<ProtocolError> CertificationBlockers(CaseFacts facts, Tier tier)
    {
        var blockers = new List<ProtocolError>();
        if (facts.State != CaseState.Certification)
        {
            blockers.Add(ProtocolError.Violation("case-phase", $"a certificate is issued only in the certification phase; the case is in {facts.State.Name()}"));
        }
        if (tier > facts.RequestedTier)
        {
            blockers.Add(ProtocolError.Violation("rule-1", $"the case requested {facts.RequestedTier.Name()}; it cannot be certified for the higher tier {tier.Name()}"));
        }
        foreach (var finding in facts.Findings)
        {
            var missing = finding.RequiredRecipients.Except(finding.DisclosedTo, StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
            {
                blockers.Add(ProtocolError.Violation("rule-2", $"finding {finding.Id} ({finding.Capability}) is not disclosed to {string.Join(", ", missing)}"));
            }
            if (!finding.Novel)
            {
                continue;
            }
            if (finding.Mitigations.Count == 0)
            {
                blockers.Add(ProtocolError.Violation("rule-2", $"finding {finding.Id} ({finding.Capability}) gives novel uplift and has no mitigation"));
            }
            foreach (var mitigation in finding.Mitigations.Where(m => !m.Verified))
            {
                blockers.Add(ProtocolError.Violation("rule-2", $"mitigation {mitigation.Id} by {mitigation.Party} for finding {finding.Id} ({finding.Capability}) is not verified"));
            }
        }
        foreach (var cap in facts.ActiveCaps.Where(c => tier > c.MaxTier))
        {
            blockers.Add(ProtocolError.Violation("rule-6", $"commitment '{cap.Commitment}' caps the case at {cap.MaxTier.Name()} until finding {cap.FindingId} is mitigated"));
        }
        if (facts.Evidence is { } evidence)
        {
            blockers.AddRange(EvidenceVerdicts.Refusals(facts.ThreatModelCapabilities, evidence, tier));
        }
        if (ReferenceModels.CertificationRefusal(facts.Reference) is { } weakerReference)
        {
            blockers.Add(weakerReference);
        }
        if (Denials.CertificationRefusal(tier, facts.StandingDenials) is { } denied)
        {
            blockers.Add(denied);
        }
        // The safety case: every claim supported, one refusal per open claim naming it and what would close it. Listed
        // after the rules above (a refusal answers with the first blocker: the rule that failed keeps being the answer),
        // and the only refusal when they all hold (an accepted incident, a control claim whose screens changed, …).
        if (facts.Evidence is not null && facts.SafetyCase is { } safetyCase)
        {
            blockers.AddRange(SafetyCases.Refusals(SafetyCases.Build(facts, safetyCase, tier)));
        }
        return blockers;
    }

    /// <summary>Rule 1: a release needs a valid certificate for those weights at a tier at least as high.</summary>
    public static ProtocolError? ReleaseAllowed(Tier tier, IReadOnlyList<(Tier Tier, bool Valid)> certificates)
    {
        if (tier <= Tier.Internal)
        {
            return null;
        }
        if (certificates.Any(c => c.Valid && c.Tier >= tier))
        {
            return null;
        }
        var best = certificates.Where(c => c.Valid).Select(c => (Tier?)c.Tier).Max();
        return ProtocolError.Violation("rule-1", best is null
            ? $"no valid certificate covers these weights; release at {tier.Name()} is refused"
            : $"the highest valid certificate for these weights allows {best.Value.Name()}; release at {tier.Name()} is refused");
    }

    /// <summary>Rule 4: weights seen released at a tier above what any valid certificate allows.</summary>
    public static bool IsViolation(Tier observed, Tier? certified) => observed > Tier.Internal && (certified is null || observed > certified);

    /// <summary>Rule 1 for evaluations: a finding is novel when its evidence shows significant uplift.</summary>
    public static bool IsNovel(double? uplift, double? p, double alpha = 0.05) => uplift is > 0 && p is < 0.05 && p < alpha;
}
