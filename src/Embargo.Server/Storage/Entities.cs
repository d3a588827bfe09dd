namespace Embargo.Server.Storage;

// EF entities: classes, never returned as responses (each capability maps them to its DTOs).

public sealed class OrganisationEntity
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public bool BadActor { get; set; }
    public string? BadActorReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class PrincipalEntity
{
    public required string Id { get; set; }
    public required string OrganisationId { get; set; }
    public required string Name { get; set; }
    public required string Role { get; set; }
    public required string TokenHash { get; set; }
    public string? SigningKeyPem { get; set; }
    public string? EncryptionKey { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class ModelEntity
{
    public required string Id { get; set; }
    public required string OrganisationId { get; set; }
    public required string Name { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class ModelVersionEntity
{
    public required string Id { get; set; }
    public required string ModelId { get; set; }
    public required string Version { get; set; }
    public required string ManifestDigest { get; set; }
    public required string FilesJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Set when its developer withdrew it before any case used it; its label and weights may then be registered again.</summary>
    public DateTimeOffset? WithdrawnAt { get; set; }
    public string? WithdrawalReason { get; set; }
    /// <summary>Tensor fingerprints registered with the version (canonical JSON of TensorFingerprintDto[]); null when none were sent.</summary>
    public string? FingerprintsJson { get; set; }
}

public sealed class ReferenceModelEntity
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    public double Strength { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class CaseEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string DeveloperOrganisationId { get; set; }
    public required string RegulatorOrganisationId { get; set; }
    public required string RequestedTier { get; set; }
    public required string State { get; set; }
    public required string ReferenceModelId { get; set; }
    /// <summary>JSON list of the evaluator organisations assigned to the case.</summary>
    public required string EvaluatorOrganisationsJson { get; set; }
    public bool ReevaluationFlag { get; set; }
    public string? ReevaluationReason { get; set; }
    public string? DenialReason { get; set; }
    /// <summary>Rule 11: set when the regulator that denied lifts the denial (the case stays denied).</summary>
    public DateTimeOffset? DenialLiftedAt { get; set; }
    public string? DenialLiftReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class ThreatModelEntity
{
    public required string Id { get; set; }
    public required string CaseId { get; set; }
    public required string Capability { get; set; }
    public required string Description { get; set; }
    public required string StepsJson { get; set; }
    public required string AffectedPartiesJson { get; set; }
    /// <summary>"draft" (generated with the reference model, never counted) or "accepted" (by an evaluator).</summary>
    public required string Status { get; set; }
    /// <summary>The reference model a draft was generated with.</summary>
    public string? DraftedWith { get; set; }
    /// <summary>δ, the smallest uplift that matters for the capability: "not-novel" needs the one-sided upper bound below it.</summary>
    public double Margin { get; set; } = 0.05;
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class CommitmentEntity
{
    public required string Id { get; set; }
    public required string CaseId { get; set; }
    public required string Expression { get; set; }
    public required string CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class EvaluationEntity
{
    public required string Id { get; set; }
    public required string CaseId { get; set; }
    public required string Capability { get; set; }
    public required string Task { get; set; }
    public required string Purpose { get; set; }
    public string? MitigationId { get; set; }
    public required string SubjectModel { get; set; }
    /// <summary>The registered condition of the version the subject ran as (null: not named).</summary>
    public string? SubjectCondition { get; set; }
    public int Samples { get; set; }
    public int SubjectCorrect { get; set; }
    public int SubjectTotal { get; set; }
    public double SubjectAccuracy { get; set; }
    public double SubjectCiLow { get; set; }
    public double SubjectCiHigh { get; set; }
    public string? BaselineModel { get; set; }
    public int? BaselineCorrect { get; set; }
    public int? BaselineTotal { get; set; }
    public double? BaselineAccuracy { get; set; }
    public double? BaselineCiLow { get; set; }
    public double? BaselineCiHigh { get; set; }
    public double? Uplift { get; set; }
    public double? UpliftCiLow { get; set; }
    public double? UpliftCiHigh { get; set; }
    public double? P { get; set; }
    /// <summary>The one-sided upper (1 − α) bound of the uplift (the verdict's "not-novel" test).</summary>
    public double? UpliftUpper { get; set; }
    public string? Test { get; set; }
    public string? LogSha256 { get; set; }
    /// <summary>Rule 5: the case's reference model when the result was recorded; only results under the current one count.</summary>
    public string? ReferenceModelId { get; set; }
    public required string SubmittedBy { get; set; }
    /// <summary>Ledger index of its evaluation.recorded event: the total order of results.</summary>
    public long LedgerIndex { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Set when the server checked from its own gateway's audit that every subject sample of the run went through its
    /// gateway for the version: the digest of the screen configuration in force then (null: not through the gateway, or unchecked).</summary>
    public string? ThroughGatewayScreensDigest { get; set; }
}

public sealed class FindingEntity
{
    public required string Id { get; set; }
    public required string CaseId { get; set; }
    public required string ThreatModelId { get; set; }
    public required string Capability { get; set; }
    public required string Title { get; set; }
    public bool Novel { get; set; }
    public required string EvaluationId { get; set; }
    public required string Source { get; set; }
    public string? CommitmentId { get; set; }
    public string? CapTier { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class DisclosureEntity
{
    public required string Id { get; set; }
    public required string FindingId { get; set; }
    public required string AdvisoryTitle { get; set; }
    public required string AdvisorySummary { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The CSAF advisory's current revision: 1 at disclosure, one more per <see cref="AdvisoryRevisionEntity"/>.</summary>
    public int Revision { get; set; } = 1;
}

/// <summary>A change to a disclosure's public advisory after its first release (CSAF tracking.revision_history).</summary>
public sealed class AdvisoryRevisionEntity
{
    public required string Id { get; set; }
    public required string DisclosureId { get; set; }
    public int Number { get; set; }
    public DateTimeOffset At { get; set; }
    public required string Summary { get; set; }
    /// <summary>The ledger leaf of the state change the revision records.</summary>
    public long LedgerIndex { get; set; }
}

public sealed class DisclosureRecipientEntity
{
    public required string Id { get; set; }
    public required string DisclosureId { get; set; }
    public required string OrganisationId { get; set; }
    /// <summary>The principal whose X25519 key <see cref="SealedDetail"/> is sealed to (one row per key holder).</summary>
    public string? PrincipalId { get; set; }
    public string? SealedDetail { get; set; }
    public DateTimeOffset? AcknowledgedAt { get; set; }
    /// <summary>When the organisation was reminded of the unacknowledged disclosure (disclosure.reminded on the ledger).</summary>
    public DateTimeOffset? RemindedAt { get; set; }
}

public sealed class MitigationEntity
{
    public required string Id { get; set; }
    public required string FindingId { get; set; }
    public required string PartyOrganisationId { get; set; }
    public required string Status { get; set; }
    public DateTimeOffset? DueAt { get; set; }
    public string? Description { get; set; }
    public DateTimeOffset? ReportedAt { get; set; }
    /// <summary>Ledger index of the latest mitigation.reported leaf: a verification run must come after it.</summary>
    public long? ReportedIndex { get; set; }
    public DateTimeOffset? VerifiedAt { get; set; }
    public string? VerificationEvaluationId { get; set; }
    public int Escalations { get; set; }
    /// <summary>The deadline last escalated; a new (extended) deadline that passes escalates again.</summary>
    public DateTimeOffset? EscalatedDueAt { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class FineEntity
{
    public required string Id { get; set; }
    public required string MitigationId { get; set; }
    public required string OrganisationId { get; set; }
    public decimal Amount { get; set; }
    public required string Currency { get; set; }
    public required string Reason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class CertificateEntity
{
    public required string Id { get; set; }
    public required string CaseId { get; set; }
    public required string ModelVersionId { get; set; }
    public required string ManifestDigest { get; set; }
    public required string Tier { get; set; }
    public required string Status { get; set; }
    /// <summary>Base64 of the exact statement bytes the certifier must sign.</summary>
    public required string StatementBase64 { get; set; }
    public string? EnvelopeJson { get; set; }
    public long CertificationIndex { get; set; }
    public long? IssuedIndex { get; set; }
    public required string CertifierPrincipalId { get; set; }
    public string? FlagReason { get; set; }
    /// <summary>The sha256 digest of the safety case the certificate rests on (named in its predicate).</summary>
    public string? SafetyCaseDigest { get; set; }
    /// <summary>When a <c>control</c> claim carries the safety case: the gateway screen configuration digest the certificate
    /// was issued for; the gateway must keep enforcing it, and a change flags the certificate.</summary>
    public string? ControlScreensDigest { get; set; }
    /// <summary>The exact safety case JSON (canonical) whose digest is <see cref="SafetyCaseDigest"/>: what GET /api/certificates/{id}/safety-case serves.</summary>
    public string? SafetyCaseJson { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class ReleaseEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string Tier { get; set; }
    public required string CertificateId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The index of its release.published leaf (a repeated release answers with it).</summary>
    public long LedgerIndex { get; set; }
}

public sealed class ViolationEntity
{
    public required string Id { get; set; }
    public required string ManifestDigest { get; set; }
    public required string ObservedTier { get; set; }
    public string? CertifiedTier { get; set; }
    public string? ModelVersionId { get; set; }
    public string? OrganisationId { get; set; }
    public required string Source { get; set; }
    public required string ReportedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>pending | rejected | confirmed | overturned | lifted (Embargo.Protocol.ViolationStatus).</summary>
    public required string Status { get; set; }
    /// <summary>The scan result sent with the report (SightingEvidenceDto as canonical JSON) and its sha256.</summary>
    public string? EvidenceJson { get; set; }
    public string? EvidenceSha256 { get; set; }
    /// <summary>manifest | partial.</summary>
    public string? Match { get; set; }
    public int MatchedFiles { get; set; }
    /// <summary>Ledger index of the report (sighting.reported): the order of sightings.</summary>
    public long LedgerIndex { get; set; }
}

/// <summary>A regulator's decision on a sighting or a mark: confirmed, rejected or lifted, with its reason.</summary>
public sealed class ViolationDecisionEntity
{
    public required string Id { get; set; }
    public required string ViolationId { get; set; }
    public required string Kind { get; set; }
    public required string Reason { get; set; }
    public required string OrganisationId { get; set; }
    public required string PrincipalId { get; set; }
    public long LedgerIndex { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The developer's dispute of a confirmed violation and the regulator's decision on it.</summary>
public sealed class ViolationDisputeEntity
{
    public required string Id { get; set; }
    public required string ViolationId { get; set; }
    public required string Statement { get; set; }
    public required string OrganisationId { get; set; }
    public required string PrincipalId { get; set; }
    public long LedgerIndex { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? Outcome { get; set; }
    public string? DecisionReason { get; set; }
    public string? DecidedBy { get; set; }
    public DateTimeOffset? DecidedAt { get; set; }
    public long? DecisionLedgerIndex { get; set; }
}

/// <summary>A checkpoint this server signed: the history it vouches for, checked at start and before each signing.</summary>
public sealed class SignedCheckpointEntity
{
    public long Size { get; set; }
    public required byte[] Root { get; set; }
    /// <summary>The signed note as served; its signature is checked before it is trusted (the columns are not).</summary>
    public required string Note { get; set; }
    public DateTimeOffset SignedAt { get; set; }
}

public sealed class LedgerLeafEntity
{
    public long Index { get; set; }
    public required byte[] Data { get; set; }
    public required byte[] Hash { get; set; }
}

public sealed class WeightsGrantEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string PrincipalId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A sealed-weights data key wrapped to one grantee's X25519 key; the server never sees the data key.</summary>
public sealed class WrappedKeyEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string SealId { get; set; }
    public required string KeyId { get; set; }
    public required string EphemeralPublicKey { get; set; }
    public required string WrappedDataKey { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A way the version is run for evaluation: base weights, a fine-tune, tool-augmented, assisted.</summary>
public sealed class ConditionEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string Name { get; set; }
    public required string Kind { get; set; }
    public required string ModelName { get; set; }
    public required string Endpoint { get; set; }
    public string? Description { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Fine-tuned conditions: "sha256:…" of the training file.</summary>
    public string? TrainingFileSha256 { get; set; }
    /// <summary>Fine-tuned conditions: the fine-tuning job id at the endpoint.</summary>
    public string? FineTuningJobId { get; set; }
}

/// <summary>A gateway key for one principal on one version released at hosted/api; the key itself is never stored.</summary>
public sealed class GatewayGrantEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string PrincipalId { get; set; }
    /// <summary>Hex sha256 of the bearer key.</summary>
    public required string KeySha256 { get; set; }
    public int RequestsPerMinute { get; set; }
    public long? TokensPerDay { get; set; }
    public long LedgerIndex { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A screen the server's gateway enforces on a version from its attachment on (a finding's mitigation, or a standing restriction).</summary>
public sealed class GatewayScreenEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string Name { get; set; }
    /// <summary>The screen's canonical rules (applyTo, keywords, regex, maxMatch, classifier) as JSON.</summary>
    public required string RulesJson { get; set; }
    public required string RulesSha256 { get; set; }
    public string? MitigationId { get; set; }
    public required string AttachedBy { get; set; }
    public long LedgerIndex { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A run's log, stored as uploaded: the evidence an evaluation's figures are recomputed from (rule "evidence").</summary>
public sealed class EvaluationLogEntity
{
    /// <summary>Lower-case hex sha256 of <see cref="Content"/>: a log is stored once, for one case.</summary>
    public required string Sha256 { get; set; }
    public required string CaseId { get; set; }
    public required byte[] Content { get; set; }
    public long Bytes { get; set; }
    public required string Task { get; set; }
    public required string Capability { get; set; }
    public required string SubjectModel { get; set; }
    /// <summary>The evaluation the log is the evidence of (null until a submission cites it; then never another).</summary>
    public string? EvaluationId { get; set; }
    public required string UploadedBy { get; set; }
    public DateTimeOffset UploadedAt { get; set; }
}

/// <summary>An incident reported against a released version: public capability and summary, detail sealed to the regulators.</summary>
public sealed class IncidentEntity
{
    public required string Id { get; set; }
    public required string ModelVersionId { get; set; }
    public required string Capability { get; set; }
    public required string Summary { get; set; }
    /// <summary>reported | accepted | rejected (Embargo.Protocol.IncidentStatus).</summary>
    public required string Status { get; set; }
    public required string ReportedBy { get; set; }
    public required string ReporterOrganisationId { get; set; }
    /// <summary>The sealed envelopes (organisation, principal, ciphertext) as JSON; the server never sees the detail in clear.</summary>
    public required string SealedJson { get; set; }
    /// <summary>sha256 of <see cref="SealedJson"/>'s canonical bytes: what the ledger commits the detail by.</summary>
    public required string SealedSha256 { get; set; }
    public long LedgerIndex { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public string? TriagedBy { get; set; }
    public string? TriageReason { get; set; }
    public DateTimeOffset? TriagedAt { get; set; }
    public long? TriageLedgerIndex { get; set; }
}
