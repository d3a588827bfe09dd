using System.Text;

namespace Embargo.Protocol;

/// <summary>Everything a principal can ask the protocol to do or to show. The access table has one row for each.</summary>
public enum ProtocolAction
{
    Administer,
    RegisterModel,
    RegisterVersion,
    RegisterCondition,
    RegisterReferenceModel,
    OpenCase,
    ProposeThreatModelDraft,
    AddAcceptedThreatModel,
    AcceptThreatModel,
    AddCommitment,
    AdvanceCase,
    SubmitEvaluation,
    RecordNovelFinding,
    RecordNotNovelFinding,
    Disclose,
    ReadRecipientKeys,
    Acknowledge,
    SetDeadline,
    ReportMitigation,
    VerifyMitigation,
    Escalate,
    Fine,
    Deny,
    ApproveCertification,
    SignCertificate,
    Release,
    ReportViolation,
    GrantWeights,
    DepositKeys,
    ReleaseKey,
    ReadCase,
    ReadVersion,
    ReadConditions,
    ReadPublic,
    LiftDenial,
    ReevaluateCase,
    ReadSighting,
    DecideSighting,
    DisputeViolation,
    DecideDispute,
    LiftMark,
    GrantGatewayAccess,
    AttachGatewayScreen,
    AppendGatewayAuditBatch,
    ReadEvaluationLog,
    WithdrawVersion,
    ReportIncident,
    TriageIncident,
}

/// <summary>How a principal's organisation (or the principal itself) stands to the subject of an action: a case, or a model version.</summary>
public enum Relation
{
    /// <summary>In the table only: whatever the relation (actions on nothing in particular, public reads).</summary>
    Any,
    /// <summary>The organisation that owns the model and opened the case.</summary>
    DeveloperOrganisation,
    /// <summary>An evaluator organisation assigned to the case that is not the developer's.</summary>
    AssignedEvaluator,
    /// <summary>An evaluator organisation assigned to the case that is the developer's own.</summary>
    InHouseEvaluator,
    /// <summary>The regulator the case names.</summary>
    CaseRegulator,
    /// <summary>An affected party of the subject's threat models (of a mitigation: the party that owns it).</summary>
    AffectedParty,
    /// <summary>A certifier of another organisation than the developer's.</summary>
    IndependentCertifier,
    /// <summary>A certifier of the developer's own organisation.</summary>
    InHouseCertifier,
    /// <summary>An independent certifier, once the case is in certification or was released: it reads what it is asked to certify.</summary>
    ReviewingCertifier,
    /// <summary>The principal holds a weights grant on the version.</summary>
    Grantee,
    /// <summary>None of the above.</summary>
    Unrelated,
    /// <summary>The principal reported the sighting.</summary>
    Reporter,
    /// <summary>The sighting's model version has no case, so no regulator of its own: every regulator has authority over it.</summary>
    VersionWithoutCase,
    /// <summary>The organisation develops a model version released at hosted or api (its gateways audit to the ledger).</summary>
    HostingDeveloper,
}

/// <summary>One allowed pair: a role (null: no token at all) in a relation to the subject.</summary>
public readonly record struct Permit(Role? Role, Relation Relation);

/// <summary>The parties of an action's subject (a case, or a model version and all its cases); empty for actions on nothing in particular.</summary>
public sealed record Subject
{
    public static readonly Subject None = new();

    public string? DeveloperOrganisation { get; init; }
    public IReadOnlyCollection<string> EvaluatorOrganisations { get; init; } = [];
    public IReadOnlyCollection<string> RegulatorOrganisations { get; init; } = [];
    public IReadOnlyCollection<string> AffectedParties { get; init; } = [];
    /// <summary>Principals holding a weights grant on the version.</summary>
    public IReadOnlyCollection<string> Grantees { get; init; } = [];
    /// <summary>The case (or one case of the version) is in certification or was released.</summary>
    public bool OpenToCertifiers { get; init; }
    /// <summary>Principals that reported the subject (a sighting).</summary>
    public IReadOnlyCollection<string> Reporters { get; init; } = [];
    /// <summary>The subject is a sighting of a model version that has no case (no regulator names it).</summary>
    public bool WithoutCase { get; init; }
    /// <summary>Organisations developing a model version released at hosted or api.</summary>
    public IReadOnlyCollection<string> HostingOrganisations { get; init; } = [];
}

/// <summary>
/// One row of the access table: who may do an action, and the rule that refuses everyone else. A row <c>Within</c>
/// another is a narrowing of it: whoever the wider row refuses is refused by the wider row's rule (an outsider is told
/// "separation of duties", never what rule 9 would say about the case).
/// </summary>
public sealed record AccessRow(ProtocolAction Action, string Description, string Rule, IReadOnlyList<Permit> Permits, ProtocolAction? Within = null);

/// <summary>
/// Who may do what: ONE table (action → allowed role and relation to the case), read by every endpoint and
/// printed in the README. A refusal is a 403 naming the row's rule; a case the caller may not read is refused
/// the same way (403, not 404: case ids are public in the ledger anyway, so hiding them would hide nothing).
/// </summary>
public static class Access
{
    private const string Duties = "separation-of-duties";

    private static readonly Role[] PrincipalRoles = [Role.Developer, Role.Evaluator, Role.Regulator, Role.AffectedParty, Role.Certifier];

    private static Permit P(Role role, Relation relation) => new(role, relation);

    private static readonly Permit Developer = P(Role.Developer, Relation.DeveloperOrganisation);
    private static readonly Permit Assigned = P(Role.Evaluator, Relation.AssignedEvaluator);
    private static readonly Permit InHouse = P(Role.Evaluator, Relation.InHouseEvaluator);
    private static readonly Permit Regulator = P(Role.Regulator, Relation.CaseRegulator);
    private static readonly Permit Party = P(Role.AffectedParty, Relation.AffectedParty);
    private static readonly Permit Certifier = P(Role.Certifier, Relation.IndependentCertifier);
    private static readonly Permit Admin = P(Role.Admin, Relation.Any);

    /// <summary>Authority over a version's sightings and marks: a regulator of one of its cases; any regulator when it has none.</summary>
    private static readonly Permit[] SightingRegulators = [Regulator, P(Role.Regulator, Relation.VersionWithoutCase)];

    private static readonly Permit[] Participants = [Developer, Assigned, InHouse, Regulator, Party, P(Role.Certifier, Relation.ReviewingCertifier), Admin];

    public static readonly IReadOnlyList<AccessRow> Table =
    [
        new(ProtocolAction.Administer, "create organisations and principals, rotate or revoke tokens", Duties, [Admin]),
        new(ProtocolAction.RegisterModel, "register a model", Duties, [P(Role.Developer, Relation.Any)]),
        new(ProtocolAction.RegisterVersion, "register a model version (its weights)", Duties, [Developer]),
        new(ProtocolAction.RegisterCondition, "register a condition of a version (fine-tune, tools, assisted)", Duties, [Developer]),
        new(ProtocolAction.WithdrawVersion, "withdraw a model version no case has used", Duties, [Developer]),
        new(ProtocolAction.RegisterReferenceModel, "register a reference model", Duties, [P(Role.Regulator, Relation.Any), Admin]),
        new(ProtocolAction.OpenCase, "open a case for a version", Duties, [Developer]),
        new(ProtocolAction.ProposeThreatModelDraft, "propose a threat-model draft", Duties, [Developer, Assigned, InHouse]),
        new(ProtocolAction.AddAcceptedThreatModel, "add an accepted threat model", "rule-9", [Assigned], ProtocolAction.ProposeThreatModelDraft),
        new(ProtocolAction.AcceptThreatModel, "accept a threat-model draft", "rule-9", [Assigned], ProtocolAction.ProposeThreatModelDraft),
        new(ProtocolAction.AddCommitment, "add an if-then commitment", Duties, [Developer, Regulator]),
        new(ProtocolAction.AdvanceCase, "advance the case to its next phase", Duties, [Developer, Assigned, InHouse]),
        new(ProtocolAction.ReevaluateCase, "move the case to a stronger reference model (rule 5)", Duties, [Developer, Regulator]),
        new(ProtocolAction.SubmitEvaluation, "submit an evaluation (only an independent evaluator's counts as evidence of safety)", Duties, [Developer, Assigned, InHouse]),
        new(ProtocolAction.RecordNovelFinding, "record a finding the evidence shows novel", Duties, [Developer, Assigned, InHouse]),
        new(ProtocolAction.RecordNotNovelFinding, "record a finding not novel", "rule-9", [Assigned], ProtocolAction.RecordNovelFinding),
        new(ProtocolAction.Disclose, "disclose a finding", Duties, [Developer, Assigned, InHouse]),
        new(ProtocolAction.ReadRecipientKeys, "read a finding's recipients and their keys", Duties, [Developer, Assigned, InHouse]),
        new(ProtocolAction.Acknowledge, "acknowledge a disclosure", Duties, [Regulator, Party]),
        new(ProtocolAction.SetDeadline, "set or change a mitigation deadline", "rule-3", [Regulator]),
        new(ProtocolAction.ReportMitigation, "report a mitigation", Duties, [Party]),
        new(ProtocolAction.VerifyMitigation, "verify a mitigation", "rule-9", [Assigned], ProtocolAction.SubmitEvaluation),
        new(ProtocolAction.Escalate, "run escalation of overdue mitigations", Duties, [P(Role.Regulator, Relation.Any), Admin]),
        new(ProtocolAction.Fine, "fine an escalated party", "rule-3", [Regulator]),
        new(ProtocolAction.Deny, "deny the requested tier", Duties, [Regulator]),
        new(ProtocolAction.LiftDenial, "lift the case's denial (rule 11)", Duties, [Regulator]),
        new(ProtocolAction.ApproveCertification, "approve certification", Duties, [Certifier]),
        new(ProtocolAction.SignCertificate, "submit the signed certificate (the approving certifier only)", Duties, [Certifier]),
        new(ProtocolAction.Release, "release a version at a tier", Duties, [Developer]),
        new(ProtocolAction.ReportViolation, "report weights seen in the wild", "rule-4",
            [P(Role.Evaluator, Relation.Any), P(Role.Regulator, Relation.Any), P(Role.AffectedParty, Relation.Any), P(Role.Certifier, Relation.Any), Admin]),
        new(ProtocolAction.ReadSighting, "read a sighting before it is public (pending or rejected)", "rule-4",
            [Developer, .. SightingRegulators, .. PrincipalRoles.Where(r => r != Role.Developer).Select(r => P(r, Relation.Reporter)), Admin]),
        new(ProtocolAction.DecideSighting, "confirm or reject a pending sighting", "rule-4", SightingRegulators),
        new(ProtocolAction.DisputeViolation, "dispute a confirmed violation", "rule-4", [Developer]),
        new(ProtocolAction.DecideDispute, "decide a dispute of a violation", "rule-4", SightingRegulators),
        new(ProtocolAction.LiftMark, "lift a bad-actor mark (authority over every violation that marks)", "rule-4", SightingRegulators),
        new(ProtocolAction.GrantWeights, "grant a principal the sealed weights", Duties, [Developer]),
        new(ProtocolAction.DepositKeys, "deposit wrapped weights keys", Duties, [Developer]),
        new(ProtocolAction.ReleaseKey, "receive one's wrapped weights key", Duties, PrincipalRoles.Select(r => P(r, Relation.Grantee)).ToList()),
        new(ProtocolAction.GrantGatewayAccess, "grant a principal a gateway key to a version released at hosted or api", Duties, [Developer]),
        new(ProtocolAction.AttachGatewayScreen, "attach a gateway screen to a version (a mitigation; only ever adds a restriction)", Duties, [Developer, Regulator, Party]),
        new(ProtocolAction.AppendGatewayAuditBatch, "append a gateway's audit batch to the ledger", Duties, [P(Role.Developer, Relation.HostingDeveloper), Admin]),
        new(ProtocolAction.ReportIncident, "report an incident against a released version (detail sealed to the regulator)", Duties, [Party, Assigned, InHouse]),
        new(ProtocolAction.TriageIncident, "accept or reject a reported incident (an accepted one flags the version's certificates)", Duties, [Regulator]),
        new(ProtocolAction.ReadCase, "read a case, its threat models, evaluations, findings and mitigations", Duties, Participants),
        new(ProtocolAction.ReadVersion, "read a model version", Duties, Participants),
        new(ProtocolAction.ReadConditions, "read a version's conditions", Duties, Participants),
        new(ProtocolAction.ReadEvaluationLog, "read an evaluation's log (per-sample transcripts: never public)", Duties,
            [Regulator, P(Role.Certifier, Relation.ReviewingCertifier)]),
        new(ProtocolAction.ReadPublic, "read advisories, certificates, the ledger, bad actors", Duties,
            [.. PrincipalRoles.Select(r => P(r, Relation.Any)), Admin, new Permit(null, Relation.Any)]),
    ];

    private static readonly Dictionary<ProtocolAction, AccessRow> Rows = Table.ToDictionary(r => r.Action);

    public static AccessRow Row(ProtocolAction action) => Rows[action];

    /// <summary>Every relation the actor (null: no token) has to the subject. Never empty: at least Unrelated.</summary>
    public static IReadOnlySet<Relation> RelationsOf(Actor? actor, Subject subject)
    {
        var relations = new HashSet<Relation>();
        if (actor is null || actor.Role == Role.Admin)
        {
            relations.Add(Relation.Unrelated);
            return relations;
        }
        var org = actor.Organisation;
        var developer = subject.DeveloperOrganisation;
        if (developer is not null && org == developer)
        {
            relations.Add(Relation.DeveloperOrganisation);
        }
        if (subject.EvaluatorOrganisations.Contains(org))
        {
            relations.Add(org == developer ? Relation.InHouseEvaluator : Relation.AssignedEvaluator);
        }
        if (subject.RegulatorOrganisations.Contains(org))
        {
            relations.Add(Relation.CaseRegulator);
        }
        if (subject.AffectedParties.Contains(org))
        {
            relations.Add(Relation.AffectedParty);
        }
        if (subject.Grantees.Contains(actor.Principal))
        {
            relations.Add(Relation.Grantee);
        }
        if (subject.Reporters.Contains(actor.Principal))
        {
            relations.Add(Relation.Reporter);
        }
        if (subject.HostingOrganisations.Contains(org))
        {
            relations.Add(Relation.HostingDeveloper);
        }
        if (subject.WithoutCase)
        {
            relations.Add(Relation.VersionWithoutCase);
        }
        if (actor.Role == Role.Certifier && developer is not null)
        {
            relations.Add(org == developer ? Relation.InHouseCertifier : Relation.IndependentCertifier);
            if (org != developer && subject.OpenToCertifiers)
            {
                relations.Add(Relation.ReviewingCertifier);
            }
        }
        if (relations.Count == 0)
        {
            relations.Add(Relation.Unrelated);
        }
        return relations;
    }

    public static bool Allows(ProtocolAction action, Actor? actor, Subject subject)
    {
        var row = Row(action);
        var relations = RelationsOf(actor, subject);
        return (row.Within is not { } wider || Allows(wider, actor, subject))
            && row.Permits.Any(p => p.Role == actor?.Role && (p.Relation == Relation.Any || relations.Contains(p.Relation)));
    }

    /// <summary>The one permission decision: null when the table allows it, else a 403 naming the rule of the row that refuses.</summary>
    public static ProtocolError? Decide(ProtocolAction action, Actor? actor, Subject subject)
    {
        if (Allows(action, actor, subject))
        {
            return null;
        }
        var row = Row(action);
        if (row.Within is { } wider && Decide(wider, actor, subject) is { } outside)
        {
            return outside;
        }
        var who = actor is null ? "an anonymous caller" : $"{Article(actor.Role.Name())} ({string.Join(", ", RelationsOf(actor, subject).Select(Name))})";
        return ProtocolError.Forbidden($"only {Allowed(row)} may {row.Description}; the caller is {who}", row.Rule);
    }

    /// <summary>
    /// Rule 9: evidence of safety — a threat model accepted, a finding not novel, a mitigation verified, an evaluation that
    /// counts as having evaluated a capability — counts only from an evaluator organisation assigned to the case that is
    /// not the developer's.
    /// </summary>
    public static bool CountsAsSafetyEvidence(Actor? actor, Subject subject) => Allows(ProtocolAction.VerifyMitigation, actor, subject);

    public static string Name(Relation relation) => relation switch
    {
        Relation.Any => "any",
        Relation.DeveloperOrganisation => "developer's organisation",
        Relation.AssignedEvaluator => "assigned, not the developer's",
        Relation.InHouseEvaluator => "assigned, the developer's own",
        Relation.CaseRegulator => "the case's regulator",
        Relation.AffectedParty => "affected party",
        Relation.IndependentCertifier => "independent",
        Relation.InHouseCertifier => "in-house",
        Relation.ReviewingCertifier => "independent, case in certification or released",
        Relation.Grantee => "holds a grant",
        Relation.Reporter => "reported the sighting",
        Relation.VersionWithoutCase => "the sighted version has no case",
        Relation.HostingDeveloper => "develops a version released at hosted or api",
        _ => "unrelated",
    };

    private static string RoleName(Role? role) => role is { } r ? r.Name() : "anonymous";

    private static string Allowed(AccessRow row) => string.Join(" or ",
        row.Permits.Select(p => p.Relation == Relation.Any ? (p.Role is null ? "anyone" : Article(RoleName(p.Role))) : $"{Article(RoleName(p.Role))} ({Name(p.Relation)})"));

    private static string Article(string noun) => ("aeiou".Contains(noun[0], StringComparison.Ordinal) ? "an " : "a ") + noun;

    /// <summary>The table as Markdown: one row per action, one column per role; a cell lists the relations that allow it.</summary>
    public static string Markdown()
    {
        Role?[] columns = [Role.Developer, Role.Evaluator, Role.Regulator, Role.AffectedParty, Role.Certifier, Role.Admin, null];
        var md = new StringBuilder();
        md.Append("| action | ").AppendJoin(" | ", columns.Select(RoleName)).Append(" | refused with |\n");
        md.Append("|---|").AppendJoin("", columns.Select(_ => "---|")).Append("---|\n");
        foreach (var row in Table)
        {
            md.Append("| ").Append(row.Description).Append(" | ");
            md.AppendJoin(" | ", columns.Select(role => string.Join("; ", row.Permits.Where(p => p.Role == role).Select(p => Name(p.Relation))) is { Length: > 0 } cell ? cell : "—"));
            md.Append(" | `").Append(row.Rule).Append('`');
            if (row.Within is { } wider)
            {
                md.Append("; `").Append(Row(wider).Rule).Append("` for whoever may not ").Append(Row(wider).Description);
            }
            md.Append(" |\n");
        }
        return md.ToString();
    }
}
