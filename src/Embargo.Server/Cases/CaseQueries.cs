using System.Text.Json;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

/// <summary>Reads a case and everything under it, and turns it into the facts the rules judge.</summary>
public sealed class CaseSnapshot
{
    public required CaseEntity Case { get; init; }
    public required ModelVersionEntity Version { get; init; }
    public required ReferenceModelEntity Reference { get; init; }
    /// <summary>Accepted threat models: the only ones the rules count.</summary>
    public required IReadOnlyList<ThreatModelEntity> ThreatModels { get; init; }
    /// <summary>Drafts generated with the reference model, waiting for an evaluator.</summary>
    public required IReadOnlyList<ThreatModelEntity> ThreatModelDrafts { get; init; }
    public required IReadOnlyList<CommitmentEntity> Commitments { get; init; }
    public required IReadOnlyList<EvaluationEntity> Evaluations { get; init; }
    public required IReadOnlyList<FindingEntity> Findings { get; init; }
    public required IReadOnlyList<DisclosureEntity> Disclosures { get; init; }
    public required IReadOnlyList<DisclosureRecipientEntity> Recipients { get; init; }
    public required IReadOnlyList<MitigationEntity> Mitigations { get; init; }
    /// <summary>Rule 5: the strongest registered reference model.</summary>
    public ReferenceModelEntity? Strongest { get; init; }
    /// <summary>Rule 11: standing denials of this case's model version, from any case.</summary>
    public IReadOnlyList<DenialFacts> StandingDenials { get; init; } = [];

    public CaseState State => CaseStates.Parse(Case.State).Value;
    public IReadOnlyList<string> EvaluatorOrganisations => JsonSerializer.Deserialize<List<string>>(Case.EvaluatorOrganisationsJson) ?? [];

    /// <summary>Who submitted each evaluation, as an actor (principal id → organisation and role); rule 9 reads it.</summary>
    public required IReadOnlyDictionary<string, Actor> Submitters { get; init; }

    /// <summary>The case's parties for the access table; <paramref name="affectedParties"/> narrows the affected parties to the subject's own.</summary>
    public Subject Subject(IReadOnlyCollection<string>? affectedParties = null) =>
        affectedParties is null
            ? _subject ??= CaseSubjects.For(Case, ThreatModels.SelectMany(AffectedParties))
            : CaseSubjects.For(Case, affectedParties);

    /// <summary>The case's whole subject, built once per snapshot: rule 9 asks it for every evaluation.</summary>
    private Subject? _subject;

    /// <summary>The access table's decision for <paramref name="caller"/> on this case (see <see cref="Access"/>).</summary>
    public ProtocolError? Decide(ProtocolAction action, Caller caller, IReadOnlyCollection<string>? affectedParties = null) =>
        Access.Decide(action, caller.Actor, Subject(affectedParties));

    /// <summary>Rule 9: an evaluation is evidence of safety only when an independent evaluator assigned to the case submitted it.</summary>
    public bool CountsAsSafetyEvidence(EvaluationEntity evaluation) =>
        Submitters.TryGetValue(evaluation.SubmittedBy, out var actor) && Access.CountsAsSafetyEvidence(actor, Subject());

    /// <summary>
    /// Novelty is a property of the capability's evidence, not of the run a caller chooses to cite: a capability
    /// is novel when any case evaluation of it shows significant uplift.
    /// </summary>
    public bool CapabilityNovel(string capability, EvaluationEntity? newest = null) =>
        Evaluations.Append(newest).OfType<EvaluationEntity>()
            .Any(e => e.Purpose == EvaluationPurpose.Case && e.Capability == capability && Verdict(e).IsNovel);

    /// <summary>The registered conditions of the case's model version (an evaluation's condition kind comes from them).</summary>
    public IReadOnlyList<ConditionEntity> Conditions { get; init; } = [];

    private readonly Dictionary<string, EvidenceVerdict> _verdicts = new(StringComparer.Ordinal);

    /// <summary>δ for a capability: its accepted threat model's margin (the default when it has none).</summary>
    public double Margin(string capability) =>
        ThreatModels.FirstOrDefault(t => t.Capability == capability)?.Margin is > 0 and < 1 and var m ? m : EvidenceVerdicts.DefaultMargin;

    /// <summary>A run's verdict against its capability's threat-model margin, from the figures it recorded (see <see cref="EvidenceVerdicts.Of"/>).</summary>
    public EvidenceVerdict Verdict(EvaluationEntity e)
    {
        if (!_verdicts.TryGetValue(e.Id, out var verdict))
        {
            verdict = EvidenceVerdicts.Of(e.Uplift, e.P, e.UpliftUpper, Margin(e.Capability), fallbackUpper: e.UpliftCiHigh,
                counts: e.BaselineTotal is { } bt ? new RunCounts(e.SubjectCorrect, e.SubjectTotal, e.BaselineCorrect ?? 0, bt) : null);
            _verdicts[e.Id] = verdict;
        }
        return verdict;
    }

    /// <summary>Rules 9 and 10: every case evaluation with its verdict, its condition's kind and whether it counts as independent and current.</summary>
    public IReadOnlyList<EvidenceFacts> Evidence(EvaluationEntity? newest = null)
    {
        var kinds = Conditions.ToDictionary(c => c.Name, c => c.Kind, StringComparer.Ordinal);
        return Evaluations.Append(newest).OfType<EvaluationEntity>().Where(e => e.Purpose == EvaluationPurpose.Case).Select(e => new EvidenceFacts
        {
            EvaluationId = e.Id, Capability = e.Capability, Condition = e.SubjectCondition, Kind = ConditionKinds.Of(e.SubjectCondition, kinds),
            Independent = CountsAsSafetyEvidence(e), Current = CurrentReference(e), Verdict = Verdict(e),
        }).ToList();
    }
    public Tier RequestedTier => Tiers.Parse(Case.RequestedTier).Value;

    public static async Task<CaseSnapshot?> LoadAsync(EmbargoDb db, string caseId, CancellationToken ct)
    {
        var c = await db.Cases.FirstOrDefaultAsync(x => x.Id == caseId, ct);
        if (c is null)
        {
            return null;
        }
        var findings = await Ordered(db.Findings.Where(f => f.CaseId == caseId), f => f.CreatedAt, f => f.Id, ct);
        var findingIds = findings.Select(f => f.Id).ToList();
        var disclosures = await db.Disclosures.Where(d => findingIds.Contains(d.FindingId)).ToListAsync(ct);
        var disclosureIds = disclosures.Select(d => d.Id).ToList();
        var threats = await Ordered(db.ThreatModels.Where(t => t.CaseId == caseId), t => t.CreatedAt, t => t.Id, ct);
        return new CaseSnapshot
        {
            Case = c,
            Version = await db.ModelVersions.FirstAsync(v => v.Id == c.ModelVersionId, ct),
            Reference = await db.ReferenceModels.FirstAsync(r => r.Id == c.ReferenceModelId, ct),
            ThreatModels = threats.Where(t => t.Status == ThreatModelStatus.Accepted).ToList(),
            ThreatModelDrafts = threats.Where(t => t.Status == ThreatModelStatus.Draft).ToList(),
            Commitments = await Ordered(db.Commitments.Where(x => x.CaseId == caseId), x => x.CreatedAt, x => x.Id, ct),
            Evaluations = (await db.Evaluations.Where(e => e.CaseId == caseId).ToListAsync(ct)).OrderBy(e => e.LedgerIndex).ToList(),
            Findings = findings,
            Disclosures = disclosures,
            Recipients = await db.DisclosureRecipients.Where(r => disclosureIds.Contains(r.DisclosureId)).ToListAsync(ct),
            Mitigations = await Ordered(db.Mitigations.Where(m => findingIds.Contains(m.FindingId)), m => m.CreatedAt, m => m.Id, ct),
            Strongest = await ReevaluationEndpoints.StrongestAsync(db, ct),
            StandingDenials = await DenialEndpoints.StandingAsync(db, c.ModelVersionId, ct),
            Submitters = await SubmittersAsync(db, caseId, ct),
            Conditions = await db.Conditions.Where(x => x.ModelVersionId == c.ModelVersionId).ToListAsync(ct),
        };
    }

    private static async Task<IReadOnlyDictionary<string, Actor>> SubmittersAsync(EmbargoDb db, string caseId, CancellationToken ct)
    {
        var principals = await (from e in db.Evaluations where e.CaseId == caseId
                                join p in db.Principals on e.SubmittedBy equals p.Id
                                select new { p.Id, p.OrganisationId, p.Role }).Distinct().ToListAsync(ct);
        return principals.ToDictionary(p => p.Id, p => new Actor(p.Id, p.OrganisationId, Roles.Parse(p.Role).Value), StringComparer.Ordinal);
    }

    /// <summary>Creation order, sorted in memory: SQLite cannot order by DateTimeOffset, and this keeps both providers alike.</summary>
    private static async Task<List<T>> Ordered<T>(IQueryable<T> query, Func<T, DateTimeOffset> at, Func<T, string> id, CancellationToken ct) =>
        (await query.ToListAsync(ct)).OrderBy(at).ThenBy(id, StringComparer.Ordinal).ToList();

    public static IReadOnlyList<string> AffectedParties(ThreatModelEntity t) =>
        JsonSerializer.Deserialize<List<string>>(t.AffectedPartiesJson) ?? [];

    public IReadOnlyList<string> RequiredRecipients(FindingEntity finding)
    {
        var threat = ThreatModels.First(t => t.Id == finding.ThreatModelId);
        return new[] { Case.RegulatorOrganisationId }.Concat(AffectedParties(threat)).Distinct(StringComparer.Ordinal).ToList();
    }

    public IReadOnlyList<string> DisclosedTo(FindingEntity finding)
    {
        var ids = Disclosures.Where(d => d.FindingId == finding.Id).Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
        // A recipient counts as disclosed to only when it received a sealed envelope.
        return Recipients.Where(r => ids.Contains(r.DisclosureId) && r.SealedDetail != null).Select(r => r.OrganisationId).Distinct(StringComparer.Ordinal).ToList();
    }

    public CaseFacts Facts()
    {
        var findings = Findings.Select(f => new FindingFacts
        {
            Id = f.Id,
            Capability = f.Capability,
            Novel = f.Novel,
            RequiredRecipients = RequiredRecipients(f),
            CurrentEvidence = CurrentReference(Evaluations.FirstOrDefault(e => e.Id == f.EvaluationId)),
            DisclosedTo = DisclosedTo(f),
            Mitigations = Mitigations.Where(m => m.FindingId == f.Id).Select(m => new MitigationFacts
            {
                Id = m.Id, Party = m.PartyOrganisationId, Verified = m.Status == MitigationStatus.Verified, HasDeadline = m.DueAt is not null,
            }).ToList(),
        }).ToList();
        var caps = Findings
            .Where(f => f.CapTier is not null)
            .Where(f =>
            {
                var mitigations = Mitigations.Where(m => m.FindingId == f.Id).ToList();
                return mitigations.Count == 0 || mitigations.Any(m => m.Status != MitigationStatus.Verified);
            })
            .Select(f => new TierCap(Tiers.Parse(f.CapTier).Value, Commitments.FirstOrDefault(c => c.Id == f.CommitmentId)?.Expression ?? "", f.Id))
            .ToList();
        return new CaseFacts
        {
            State = State,
            RequestedTier = RequestedTier,
            ThreatModelCapabilities = ThreatModels.Select(t => t.Capability).Distinct(StringComparer.Ordinal).ToList(),
            // Rule 9: only an independent evaluator's run counts as having evaluated a capability; rule 5: only under the case's current reference model.
            EvaluatedCapabilities = Evaluations.Where(e => e.Purpose == EvaluationPurpose.Case && CountsAsSafetyEvidence(e) && CurrentReference(e)).Select(e => e.Capability).Distinct(StringComparer.Ordinal).ToList(),
            EvaluatedOnlyByDeveloperSide = Evaluations.Where(e => e.Purpose == EvaluationPurpose.Case).GroupBy(e => e.Capability, StringComparer.Ordinal)
                .Where(g => !g.Any(CountsAsSafetyEvidence)).Select(g => g.Key).ToList(),
            Findings = findings,
            ActiveCaps = caps,
            Reference = ReferenceFacts(),
            StandingDenials = StandingDenials,
            Evidence = Evidence(),
        };
    }

    /// <summary>Rule 5: evidence counts only when made with the case's current reference model.</summary>
    public bool CurrentReference(EvaluationEntity? e) => e is not null && e.ReferenceModelId == Case.ReferenceModelId;

    public ReferenceFacts ReferenceFacts() =>
        Strongest is { } s && s.Strength > Reference.Strength
            ? new(Reference.Name, Reference.Strength, s.Name, s.Strength)
            : new(Reference.Name, Reference.Strength, Reference.Name, Reference.Strength);

    public CaseDto ToDto()
    {
        var facts = Facts();
        var blockers = Rules.IsTerminal(State) ? [] : Rules.CertificationBlockers(facts with { State = CaseState.Certification }, RequestedTier);
        return new CaseDto
        {
            Id = Case.Id,
            ModelVersionId = Case.ModelVersionId,
            ManifestDigest = Version.ManifestDigest,
            DeveloperOrganisationId = Case.DeveloperOrganisationId,
            RegulatorOrganisationId = Case.RegulatorOrganisationId,
            EvaluatorOrganisationIds = EvaluatorOrganisations,
            RequestedTier = Case.RequestedTier,
            State = Case.State,
            ReferenceModel = Reference.Name,
            ReevaluationFlag = Case.ReevaluationFlag,
            ReevaluationReason = Case.ReevaluationReason,
            DenialReason = Case.DenialReason,
            DenialLiftReason = Case.DenialLiftReason,
            ReferenceModelId = Case.ReferenceModelId,
            ThreatModels = ThreatModels.Concat(ThreatModelDrafts).Select(ToDto).ToList(),
            Commitments = Commitments.Select(c => new CommitmentDto { Id = c.Id, Expression = c.Expression }).ToList(),
            Evaluations = Evaluations.Select(e => ToDto(e, [], Verdict(e))).ToList(),
            Findings = Findings.Select(f => ToDto(f, Commitments)).ToList(),
            Mitigations = Mitigations.Select(ToDto).ToList(),
            Blockers = blockers.Select(b => $"{b.Rule}: {b.Message}").ToList(),
        };
    }

    public static ThreatModelDto ToDto(ThreatModelEntity t) => new()
    {
        Id = t.Id, Status = t.Status, DraftedWith = t.DraftedWith, Capability = t.Capability, Description = t.Description, AffectedParties = AffectedParties(t),
        Steps = JsonSerializer.Deserialize<List<string>>(t.StepsJson) ?? [],
        Margin = t.Margin,
    };

    public static FindingDto ToDto(FindingEntity f, IReadOnlyList<CommitmentEntity> commitments) => new()
    {
        Id = f.Id, CaseId = f.CaseId, ThreatModelId = f.ThreatModelId, Capability = f.Capability, Title = f.Title, Novel = f.Novel,
        EvaluationId = f.EvaluationId, Source = f.Source, CapTier = f.CapTier,
        Commitment = commitments.FirstOrDefault(c => c.Id == f.CommitmentId)?.Expression,
    };

    public static MitigationDto ToDto(MitigationEntity m) => new()
    {
        Id = m.Id, FindingId = m.FindingId, Party = m.PartyOrganisationId, Status = m.Status, DueAt = m.DueAt,
        Escalations = m.Escalations, VerificationEvaluationId = m.VerificationEvaluationId,
    };

    public static EvaluationDto ToDto(EvaluationEntity e, IReadOnlyList<FindingDto> fired, EvidenceVerdict? verdict = null) => new()
    {
        Id = e.Id,
        Capability = e.Capability,
        Task = e.Task,
        Purpose = e.Purpose,
        SubjectCondition = e.SubjectCondition,
        Samples = e.Samples,
        Subject = new ConditionDto { Model = e.SubjectModel, Correct = e.SubjectCorrect, Total = e.SubjectTotal, Accuracy = e.SubjectAccuracy, Ci95Low = e.SubjectCiLow, Ci95High = e.SubjectCiHigh },
        Baseline = e.BaselineModel is null ? null : new ConditionDto
        {
            Model = e.BaselineModel, Correct = e.BaselineCorrect ?? 0, Total = e.BaselineTotal ?? 0, Accuracy = e.BaselineAccuracy ?? 0,
            Ci95Low = e.BaselineCiLow ?? 0, Ci95High = e.BaselineCiHigh ?? 0,
        },
        Uplift = e.Uplift is null ? null : new UpliftDto { Estimate = e.Uplift.Value, Ci95Low = e.UpliftCiLow ?? 0, Ci95High = e.UpliftCiHigh ?? 0, P = e.P ?? 1, Test = e.Test ?? "" },
        Significant = verdict?.IsNovel ?? Rules.IsNovel(e.Uplift, e.P),
        Verdict = verdict?.Verdict,
        Margin = verdict?.Margin,
        UpliftUpper = e.UpliftUpper ?? verdict?.Upper,
        MoreSamples = verdict?.MoreSamples,
        VerdictReason = verdict?.Reason,
        LedgerIndex = e.LedgerIndex,
        ReferenceModelId = e.ReferenceModelId,
        FiredFindings = fired,
    };
}

public static class ThreatModelStatus
{
    public const string Draft = "draft";
    public const string Accepted = "accepted";
}

public static class MitigationStatus
{
    public const string Required = "required";
    public const string Reported = "reported";
    public const string Verified = "verified";
}

public static class EvaluationPurpose
{
    public const string Case = "case";
    public const string Verification = "verification";
}
