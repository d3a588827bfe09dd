using System.Text.Json;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

/// <summary>
/// A case and what its decisions read. Loading is bounded by what a decision needs, not by the case's size: the case
/// row, its version, its reference model, its accepted threat models (one per capability) and its commitments are read
/// at once; the collections that grow with use (threat-model drafts, evaluations, findings with their disclosures,
/// recipients and mitigations, the submitters of evaluations) are read from storage the first time a member is touched,
/// in the same context (inside a unit of work: the same transaction). The hot paths ask narrower questions instead
/// (<see cref="Evaluation"/>, <see cref="CapabilityNovel"/>, <see cref="LatestCaseEvaluations"/>, <see cref="SubmitterOf"/>,
/// <see cref="PhaseFacts"/>), so a write on a case with 5,000 drafts or evaluations reads about as much as on an empty one.
/// </summary>
public sealed class CaseSnapshot
{
    /// <summary>The context the lazy members read from; a snapshot never outlives it.</summary>
    private EmbargoDb _db = null!;

    public required CaseEntity Case { get; init; }
    public required ModelVersionEntity Version { get; init; }
    public required ReferenceModelEntity Reference { get; init; }
    /// <summary>Accepted threat models: the only ones the rules count.</summary>
    public required IReadOnlyList<ThreatModelEntity> ThreatModels { get; init; }
    /// <summary>Drafts generated with the reference model, waiting for an evaluator (read on first use: they can be many).</summary>
    public IReadOnlyList<ThreatModelEntity> ThreatModelDrafts
    {
        get => _drafts ??= Ordered(_db.ThreatModels.Where(t => t.CaseId == Case.Id && t.Status == ThreatModelStatus.Draft), t => t.CreatedAt, t => t.Id);
        init => _drafts = value;
    }
    public required IReadOnlyList<CommitmentEntity> Commitments { get; init; }
    /// <summary>Every evaluation of the case in ledger order (read on first use: they can be many).</summary>
    public IReadOnlyList<EvaluationEntity> Evaluations
    {
        get => _evaluations ??= _db.Evaluations.Where(e => e.CaseId == Case.Id).ToList().OrderBy(e => e.LedgerIndex).ToList();
        init => _evaluations = value;
    }
    public IReadOnlyList<FindingEntity> Findings
    {
        get => _findings ??= Ordered(_db.Findings.Where(f => f.CaseId == Case.Id), f => f.CreatedAt, f => f.Id);
        init => _findings = value;
    }
    public IReadOnlyList<DisclosureEntity> Disclosures
    {
        get
        {
            if (_disclosures is null)
            {
                var findingIds = Findings.Select(f => f.Id).ToList();
                _disclosures = _db.Disclosures.Where(d => findingIds.Contains(d.FindingId)).ToList();
            }
            return _disclosures;
        }
        init => _disclosures = value;
    }
    public IReadOnlyList<DisclosureRecipientEntity> Recipients
    {
        get
        {
            if (_recipients is null)
            {
                var disclosureIds = Disclosures.Select(d => d.Id).ToList();
                _recipients = _db.DisclosureRecipients.Where(r => disclosureIds.Contains(r.DisclosureId)).ToList();
            }
            return _recipients;
        }
        init => _recipients = value;
    }
    public IReadOnlyList<MitigationEntity> Mitigations
    {
        get
        {
            if (_mitigations is null)
            {
                var findingIds = Findings.Select(f => f.Id).ToList();
                _mitigations = Ordered(_db.Mitigations.Where(m => findingIds.Contains(m.FindingId)), m => m.CreatedAt, m => m.Id);
            }
            return _mitigations;
        }
        init => _mitigations = value;
    }
    /// <summary>Rule 5: the strongest registered reference model.</summary>
    public ReferenceModelEntity? Strongest { get; init; }
    /// <summary>Rule 11: standing denials of this case's model version, from any case.</summary>
    public IReadOnlyList<DenialFacts> StandingDenials { get; init; } = [];

    private IReadOnlyList<ThreatModelEntity>? _drafts;
    private IReadOnlyList<EvaluationEntity>? _evaluations;
    private IReadOnlyList<FindingEntity>? _findings;
    private IReadOnlyList<DisclosureEntity>? _disclosures;
    private IReadOnlyList<DisclosureRecipientEntity>? _recipients;
    private IReadOnlyList<MitigationEntity>? _mitigations;
    private Dictionary<string, Actor>? _submitters;
    private readonly Dictionary<string, Actor?> _actors = new(StringComparer.Ordinal);
    private readonly Dictionary<string, EvaluationEntity?> _byId = new(StringComparer.Ordinal);

    public CaseState State => CaseStates.Parse(Case.State).Value;
    public IReadOnlyList<string> EvaluatorOrganisations => JsonSerializer.Deserialize<List<string>>(Case.EvaluatorOrganisationsJson) ?? [];

    /// <summary>Who submitted each evaluation, as an actor (principal id → organisation and role); read on first use.</summary>
    public IReadOnlyDictionary<string, Actor> Submitters
    {
        get
        {
            if (_submitters is null)
            {
                var principals = (from e in _db.Evaluations where e.CaseId == Case.Id
                                  join p in _db.Principals on e.SubmittedBy equals p.Id
                                  select new { p.Id, p.OrganisationId, p.Role }).Distinct().ToList();
                _submitters = principals.ToDictionary(p => p.Id, p => new Actor(p.Id, p.OrganisationId, Roles.Parse(p.Role).Value), StringComparer.Ordinal);
            }
            return _submitters;
        }
        init => _submitters = value.ToDictionary(StringComparer.Ordinal);
    }

    /// <summary>The principal that submitted an evaluation, as an actor (null: no such principal); one lookup per principal.</summary>
    public Actor? SubmitterOf(string principalId)
    {
        if (_submitters is not null)
        {
            return _submitters.TryGetValue(principalId, out var known) ? known : null;
        }
        if (!_actors.TryGetValue(principalId, out var actor))
        {
            var p = _db.Principals.AsNoTracking().Where(x => x.Id == principalId).Select(x => new { x.Id, x.OrganisationId, x.Role }).FirstOrDefault();
            actor = p is null ? null : new Actor(p.Id, p.OrganisationId, Roles.Parse(p.Role).Value);
            _actors[principalId] = actor;
        }
        return actor;
    }

    /// <summary>One evaluation of this case by id (null: none), without reading the others.</summary>
    public EvaluationEntity? Evaluation(string? evaluationId)
    {
        if (evaluationId is null)
        {
            return null;
        }
        if (_evaluations is not null)
        {
            return _evaluations.FirstOrDefault(e => e.Id == evaluationId);
        }
        if (!_byId.TryGetValue(evaluationId, out var found))
        {
            found = _db.Evaluations.FirstOrDefault(e => e.Id == evaluationId && e.CaseId == Case.Id);
            _byId[evaluationId] = found;
        }
        return found;
    }

    /// <summary>One threat-model draft of this case by id (null: none), without reading the others.</summary>
    public ThreatModelEntity? Draft(string threatModelId) =>
        _drafts is not null
            ? _drafts.FirstOrDefault(t => t.Id == threatModelId)
            : _db.ThreatModels.FirstOrDefault(t => t.Id == threatModelId && t.CaseId == Case.Id && t.Status == ThreatModelStatus.Draft);

    /// <summary>How many drafts wait on the case (a count, not a read of them).</summary>
    public int DraftCount => _drafts?.Count ?? _db.ThreatModels.Count(t => t.CaseId == Case.Id && t.Status == ThreatModelStatus.Draft);

    /// <summary>
    /// Rule 6's input: the latest case evaluation of each capability (by ledger index), with <paramref name="newest"/>
    /// (not stored yet) taking its capability's place. One query per accepted threat model.
    /// </summary>
    public Dictionary<string, EvaluationEntity> LatestCaseEvaluations(EvaluationEntity? newest = null)
    {
        Dictionary<string, EvaluationEntity> latest;
        if (_evaluations is not null)
        {
            latest = _evaluations.Where(x => x.Purpose == EvaluationPurpose.Case)
                .GroupBy(x => x.Capability, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);
        }
        else
        {
            // A case evaluation is accepted only for a capability with an accepted threat model, and those are never
            // removed: so the capabilities to look at are the threat models', each an index seek on (case, capability, index).
            latest = new Dictionary<string, EvaluationEntity>(StringComparer.Ordinal);
            foreach (var capability in ThreatModels.Select(t => t.Capability).Distinct(StringComparer.Ordinal))
            {
                if (_db.Evaluations.Where(e => e.CaseId == Case.Id && e.Capability == capability && e.Purpose == EvaluationPurpose.Case)
                        .OrderByDescending(e => e.LedgerIndex).FirstOrDefault() is { } found)
                {
                    latest[capability] = found;
                }
            }
        }
        if (newest is not null && newest.Purpose == EvaluationPurpose.Case)
        {
            latest[newest.Capability] = newest;
        }
        return latest;
    }

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
        SubmitterOf(evaluation.SubmittedBy) is { } actor && Access.CountsAsSafetyEvidence(actor, Subject());

    /// <summary>
    /// Novelty is a property of the capability's evidence, not of the run a caller chooses to cite: a capability
    /// is novel when any case evaluation of it shows significant uplift. An existence query unless the evaluations were read.
    /// </summary>
    public bool CapabilityNovel(string capability, EvaluationEntity? newest = null)
    {
        if (newest is not null && newest.Purpose == EvaluationPurpose.Case && newest.Capability == capability && Verdict(newest).IsNovel)
        {
            return true;
        }
        if (_evaluations is not null)
        {
            return _evaluations.Any(e => e.Purpose == EvaluationPurpose.Case && e.Capability == capability && Verdict(e).IsNovel);
        }
        // A novel verdict needs uplift > 0 and p < α (0.05): asked of the store, the candidates judged here against the margin.
        return _db.Evaluations.AsNoTracking()
            .Where(e => e.CaseId == Case.Id && e.Purpose == EvaluationPurpose.Case && e.Capability == capability && e.Uplift > 0 && e.P < EvidenceVerdicts.DefaultAlpha)
            .AsEnumerable().Any(e => Verdict(e).IsNovel);
    }

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
            LogSha256 = e.LogSha256, ReferenceModel = e.ReferenceModelId is { } r ? ReferenceName(r) : null, LedgerIndex = e.LedgerIndex,
        }).ToList();
    }

    private Dictionary<string, string>? _referenceNames;

    /// <summary>A reference model's name by id (the table is small: read whole, once).</summary>
    private string ReferenceName(string id) =>
        (_referenceNames ??= _db.ReferenceModels.AsNoTracking().Select(r => new { r.Id, r.Name }).ToList().ToDictionary(r => r.Id, r => r.Name, StringComparer.Ordinal))
        .TryGetValue(id, out var name) ? name : id;

    /// <summary>What the control claims read from the server's gateway: its screens digest for the version and the runs it checked went through it.</summary>
    public GatewayControlFacts Gateway { get; init; } = GatewayControlFacts.None;

    /// <summary>Incidents reported against the version (an accepted one challenges the claims on its capability).</summary>
    public IReadOnlyList<IncidentFact> Incidents { get; init; } = [];

    private SafetyCaseFacts? _safetyCaseFacts;

    /// <summary>The safety case's own facts: the model's name, the accepted threat models, the version's grantees and the names it shows.</summary>
    public SafetyCaseFacts SafetyCaseFacts()
    {
        if (_safetyCaseFacts is not null)
        {
            return _safetyCaseFacts;
        }
        var model = _db.Models.AsNoTracking().Where(m => m.Id == Version.ModelId).Select(m => m.Name).FirstOrDefault() ?? Version.ModelId;
        var weights = _db.WeightsGrants.AsNoTracking().Where(g => g.ModelVersionId == Version.Id).Select(g => g.PrincipalId).ToList();
        var keys = _db.GatewayGrants.AsNoTracking().Where(g => g.ModelVersionId == Version.Id).ToList();
        var grantees = weights.Distinct(StringComparer.Ordinal).Select(p => new GranteeFact(p, "holds a grant of the sealed weights"))
            .Concat(keys.Select(g => new GranteeFact(g.PrincipalId, $"gateway key ({g.RequestsPerMinute} requests a minute{(g.TokensPerDay is { } t ? $", {t} tokens a day" : "")})")))
            .OrderBy(g => g.Principal, StringComparer.Ordinal).ThenBy(g => g.Terms, StringComparer.Ordinal).ToList();
        var parties = ThreatModels.SelectMany(AffectedParties).Distinct(StringComparer.Ordinal).ToList();
        var principals = grantees.Select(g => g.Principal).Distinct(StringComparer.Ordinal).ToList();
        var names = _db.Organisations.AsNoTracking().Where(o => parties.Contains(o.Id)).Select(o => new { o.Id, o.Name }).ToList()
            .Concat(_db.Principals.AsNoTracking().Where(p => principals.Contains(p.Id)).Select(p => new { p.Id, p.Name }).ToList())
            .GroupBy(x => x.Id, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal);
        return _safetyCaseFacts = new SafetyCaseFacts
        {
            CaseId = Case.Id,
            Model = $"{model}@{Version.Version}",
            ManifestDigest = Version.ManifestDigest,
            // One claim per capability in scope: its first accepted threat model (the rules count capabilities, not threat models).
            ThreatModels = ThreatModels.GroupBy(t => t.Capability, StringComparer.Ordinal)
                .Select(g => new ThreatModelFact(g.First().Id, g.Key, g.SelectMany(AffectedParties).Distinct(StringComparer.Ordinal).ToList())).ToList(),
            Grantees = grantees,
            Gateway = Gateway,
            Incidents = Incidents,
            Names = names,
        };
    }

    /// <summary>The case's safety case at <paramref name="tier"/>, built from its facts now.</summary>
    public SafetyCase SafetyCase(Tier tier)
    {
        var facts = Facts();
        return SafetyCases.Build(facts, facts.SafetyCase!, tier);
    }
    public Tier RequestedTier => Tiers.Parse(Case.RequestedTier).Value;

    public static async Task<CaseSnapshot?> LoadAsync(EmbargoDb db, string caseId, CancellationToken ct)
    {
        var c = await db.Cases.FirstOrDefaultAsync(x => x.Id == caseId, ct);
        if (c is null)
        {
            return null;
        }
        return new CaseSnapshot
        {
            _db = db,
            Case = c,
            Version = await db.ModelVersions.FirstAsync(v => v.Id == c.ModelVersionId, ct),
            Reference = await db.ReferenceModels.FirstAsync(r => r.Id == c.ReferenceModelId, ct),
            ThreatModels = await Ordered(db.ThreatModels.Where(t => t.CaseId == caseId && t.Status == ThreatModelStatus.Accepted), t => t.CreatedAt, t => t.Id, ct),
            Commitments = await Ordered(db.Commitments.Where(x => x.CaseId == caseId), x => x.CreatedAt, x => x.Id, ct),
            Strongest = await ReevaluationEndpoints.StrongestAsync(db, ct),
            StandingDenials = await DenialEndpoints.StandingAsync(db, c.ModelVersionId, ct),
            Conditions = await db.Conditions.Where(x => x.ModelVersionId == c.ModelVersionId).ToListAsync(ct),
            Gateway = await Embargo.Server.Gateway.GatewayControl.LoadAsync(db, c.ModelVersionId, ct),
            Incidents = await Embargo.Server.Incidents.IncidentFacts.ForVersionAsync(db, c.ModelVersionId, ct),
        };
    }

    /// <summary>Creation order, sorted in memory: SQLite cannot order by DateTimeOffset, and this keeps both providers alike.</summary>
    private static async Task<List<T>> Ordered<T>(IQueryable<T> query, Func<T, DateTimeOffset> at, Func<T, string> id, CancellationToken ct) =>
        (await query.ToListAsync(ct)).OrderBy(at).ThenBy(id, StringComparer.Ordinal).ToList();

    private static List<T> Ordered<T>(IQueryable<T> query, Func<T, DateTimeOffset> at, Func<T, string> id) =>
        query.ToList().OrderBy(at).ThenBy(id, StringComparer.Ordinal).ToList();

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

    /// <summary>
    /// The facts every rule reads. Findings, their disclosures and mitigations are read whole (certification judges each);
    /// evaluations are not: rules 9 and 5 need only which capabilities were evaluated, by whom and under which reference
    /// model (an aggregate), and each finding's own evidence (looked up by id).
    /// </summary>
    public CaseFacts Facts()
    {
        PreloadEvaluations(Findings.Select(f => f.EvaluationId).Concat(Mitigations.Select(m => m.VerificationEvaluationId).OfType<string>()));
        var findings = Findings.Select(f => new FindingFacts
        {
            Id = f.Id,
            Capability = f.Capability,
            Novel = f.Novel,
            RequiredRecipients = RequiredRecipients(f),
            CurrentEvidence = CurrentReference(Evaluation(f.EvaluationId)),
            DisclosedTo = DisclosedTo(f),
            Mitigations = Mitigations.Where(m => m.FindingId == f.Id).Select(m => new MitigationFacts
            {
                Id = m.Id, Party = m.PartyOrganisationId, Verified = m.Status == MitigationStatus.Verified, HasDeadline = m.DueAt is not null,
                VerificationEvaluationId = m.VerificationEvaluationId,
                VerificationLogSha256 = Evaluation(m.VerificationEvaluationId)?.LogSha256,
                VerificationCurrent = m.VerificationEvaluationId is null || CurrentReference(Evaluation(m.VerificationEvaluationId)),
                VerificationLedgerIndex = Evaluation(m.VerificationEvaluationId)?.LedgerIndex,
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
        var evidence = CaseEvidence();
        bool Counts(string submittedBy) => SubmitterOf(submittedBy) is { } actor && Access.CountsAsSafetyEvidence(actor, Subject());
        return PhaseFacts() with
        {
            // Rule 9: only an independent evaluator's run counts as having evaluated a capability; rule 5: only under the case's current reference model.
            // Rule "evidence": a run without a baseline measured no uplift, so it evaluated nothing.
            EvaluatedCapabilities = evidence.Where(e => e.HasBaseline && Counts(e.SubmittedBy) && e.ReferenceModelId == Case.ReferenceModelId).Select(e => e.Capability).Distinct(StringComparer.Ordinal).ToList(),
            EvaluatedOnlyByDeveloperSide = evidence.GroupBy(e => e.Capability, StringComparer.Ordinal)
                .Where(g => !g.Any(e => Counts(e.SubmittedBy))).Select(g => g.Key).ToList(),
            Findings = findings,
            ActiveCaps = caps,
            Evidence = Evidence(),
            SafetyCase = SafetyCaseFacts(),
        };
    }

    /// <summary>
    /// The facts of a decision that reads only the case's phase and tier (<see cref="CaseDecisions.ThreatModel"/>,
    /// <see cref="CaseDecisions.Commit"/>, <see cref="CaseDecisions.SubmitEvaluation"/>, <see cref="CaseDecisions.MayRecordFinding"/>,
    /// <see cref="CaseDecisions.RecordFinding"/>): no findings, evaluations or caps are read, and those members are empty.
    /// Advancing and certifying judge the evidence: they take <see cref="Facts"/>.
    /// </summary>
    public CaseFacts PhaseFacts() => new()
    {
        State = State,
        RequestedTier = RequestedTier,
        ThreatModelCapabilities = ThreatModels.Select(t => t.Capability).Distinct(StringComparer.Ordinal).ToList(),
        EvaluatedCapabilities = [],
        Findings = [],
        ActiveCaps = [],
        Reference = ReferenceFacts(),
        StandingDenials = StandingDenials,
    };

    /// <summary>Who evaluated which capability under which reference model: one row per distinct triple, in order of first submission.</summary>
    private List<(string Capability, string SubmittedBy, string? ReferenceModelId, bool HasBaseline)> CaseEvidence()
    {
        if (_evaluations is not null)
        {
            return _evaluations.Where(e => e.Purpose == EvaluationPurpose.Case).Select(e => (e.Capability, e.SubmittedBy, e.ReferenceModelId, e.Uplift != null)).Distinct().ToList();
        }
        return _db.Evaluations.AsNoTracking().Where(e => e.CaseId == Case.Id && e.Purpose == EvaluationPurpose.Case)
            .GroupBy(e => new { e.Capability, e.SubmittedBy, e.ReferenceModelId, HasBaseline = e.Uplift != null })
            .Select(g => new { g.Key.Capability, g.Key.SubmittedBy, g.Key.ReferenceModelId, g.Key.HasBaseline, First = g.Min(e => e.LedgerIndex) })
            .ToList().OrderBy(x => x.First).Select(x => (x.Capability, x.SubmittedBy, x.ReferenceModelId, x.HasBaseline)).ToList();
    }

    /// <summary>Reads the named evaluations in one query, for <see cref="Evaluation"/> to answer from.</summary>
    private void PreloadEvaluations(IEnumerable<string> ids)
    {
        if (_evaluations is not null)
        {
            return;
        }
        var wanted = ids.Where(id => !_byId.ContainsKey(id)).Distinct(StringComparer.Ordinal).ToList();
        if (wanted.Count == 0)
        {
            return;
        }
        var found = _db.Evaluations.Where(e => e.CaseId == Case.Id && wanted.Contains(e.Id)).ToList();
        foreach (var id in wanted)
        {
            _byId[id] = found.FirstOrDefault(e => e.Id == id);
        }
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
            // Drafts can be many: the view carries the oldest DraftsInView of them and their count; the rest are paged
            // from GET /api/cases/{id}/threat-model-drafts.
            ThreatModels = ThreatModels.Concat(DraftPage(0, DraftsInView)).Select(ToDto).ToList(),
            ThreatModelDraftCount = DraftCount,
            Commitments = Commitments.Select(c => new CommitmentDto { Id = c.Id, Expression = c.Expression }).ToList(),
            Evaluations = Evaluations.Select(e => ToDto(e, [], Verdict(e))).ToList(),
            Findings = Findings.Select(f => ToDto(f, Commitments)).ToList(),
            Mitigations = Mitigations.Select(ToDto).ToList(),
            Blockers = blockers.Select(b => $"{b.Rule}: {b.Message}").ToList(),
        };
    }

    /// <summary>How many drafts the case view (<see cref="ToDto()"/>) carries at most.</summary>
    public const int DraftsInView = 100;

    /// <summary>Drafts in creation order, [offset, offset+limit): one bounded query.</summary>
    public IReadOnlyList<ThreatModelEntity> DraftPage(int offset, int limit) =>
        _drafts is not null
            ? _drafts.Skip(offset).Take(limit).ToList()
            : CaseQueries.DraftPage(_db.ThreatModels.AsNoTracking().Where(t => t.CaseId == Case.Id && t.Status == ThreatModelStatus.Draft), offset, limit);

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
        LogSha256 = e.LogSha256,
    };
}

internal static class CaseQueries
{
    /// <summary>
    /// A page of drafts in creation order. Ids are time-ordered only per process, and SQLite cannot order by
    /// DateTimeOffset, so the page is ordered by ledger-independent (CreatedAt, Id) over the ids and timestamps only,
    /// then the page's rows are read.
    /// </summary>
    public static List<ThreatModelEntity> DraftPage(IQueryable<ThreatModelEntity> drafts, int offset, int limit)
    {
        var keys = drafts.Select(t => new { t.Id, t.CreatedAt }).ToList()
            .OrderBy(t => t.CreatedAt).ThenBy(t => t.Id, StringComparer.Ordinal).Skip(offset).Take(limit).Select(t => t.Id).ToList();
        var rows = drafts.Where(t => keys.Contains(t.Id)).ToList();
        return keys.Select(k => rows.First(r => r.Id == k)).ToList();
    }
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
