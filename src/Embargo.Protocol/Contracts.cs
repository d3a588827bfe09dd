namespace Embargo.Protocol.Contracts;

// The HTTP API's request and response bodies, shared by the server and the CLI.

public sealed record CreateOrganisationRequest { public required string Name { get; init; } }
public sealed record OrganisationDto
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required bool BadActor { get; init; }
    public string? BadActorReason { get; init; }
}

public sealed record CreatePrincipalRequest
{
    public required string OrganisationId { get; init; }
    public required string Name { get; init; }
    public required string Role { get; init; }
    /// <summary>Ed25519 SPKI PEM; required for certifiers (they sign certificates).</summary>
    public string? SigningKeyPem { get; init; }
    /// <summary>X25519 public key file text (`embargo weights keygen`); needed to receive sealed weights keys.</summary>
    public string? EncryptionKey { get; init; }
}

public sealed record PrincipalDto
{
    public required string Id { get; init; }
    public required string OrganisationId { get; init; }
    public required string Name { get; init; }
    public required string Role { get; init; }
}

/// <summary>Returned once, when a principal is created: the only time the token is shown.</summary>
public sealed record PrincipalCreatedDto
{
    public required PrincipalDto Principal { get; init; }
    public required string Token { get; init; }
}

public sealed record WeightsFileDto
{
    public required string Path { get; init; }
    public required long Bytes { get; init; }
    public required string Sha256 { get; init; }
}

public sealed record RegisterModelRequest { public required string Name { get; init; } }
public sealed record ModelDto
{
    public required string Id { get; init; }
    public required string OrganisationId { get; init; }
    public required string Name { get; init; }
}

public sealed record RegisterVersionRequest
{
    public required string Version { get; init; }
    /// <summary>The weights manifest digest ("sha256:…"); the server recomputes it from <see cref="Files"/>.</summary>
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<WeightsFileDto> Files { get; init; }
}

public sealed record ModelVersionDto
{
    public required string Id { get; init; }
    public required string ModelId { get; init; }
    public required string Model { get; init; }
    public required string Version { get; init; }
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<WeightsFileDto> Files { get; init; }
}

/// <summary>Public lookup by weights digest (what `embargo scan` asks).</summary>
public sealed record WeightsStatusDto
{
    public required string ManifestDigest { get; init; }
    public required bool Registered { get; init; }
    public string? ModelVersionId { get; init; }
    public string? Model { get; init; }
    public string? Developer { get; init; }
    public string? CertifiedTier { get; init; }
    public IReadOnlyList<string> ReleasedTiers { get; init; } = [];
}

public sealed record RegisterReferenceModelRequest
{
    public required string Name { get; init; }
    /// <summary>A capability score the regulator assigns; higher is stronger.</summary>
    public required double Strength { get; init; }
}

public sealed record ReferenceModelDto
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required double Strength { get; init; }
    public IReadOnlyList<string> FlaggedCertificates { get; init; } = [];
}

public sealed record OpenCaseRequest
{
    public required string ModelVersionId { get; init; }
    public required string RequestedTier { get; init; }
    public required string RegulatorOrganisationId { get; init; }
    public required string ReferenceModelId { get; init; }
    /// <summary>The evaluator organisations (internal or third-party) that test this case.</summary>
    public required IReadOnlyList<string> EvaluatorOrganisationIds { get; init; }
}

public sealed record AddThreatModelRequest
{
    public required string Capability { get; init; }
    public required string Description { get; init; }
    public required IReadOnlyList<string> AffectedParties { get; init; }
    public IReadOnlyList<string> Steps { get; init; } = [];
}

public sealed record DraftThreatModelRequest
{
    public required string Capability { get; init; }
    public required string Description { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }
    /// <summary>The reference model that drafted it.</summary>
    public required string ReferenceModel { get; init; }
}

/// <summary>An evaluator accepts a draft, naming the affected parties and optionally editing it.</summary>
public sealed record AcceptThreatModelRequest
{
    public required IReadOnlyList<string> AffectedParties { get; init; }
    public string? Description { get; init; }
    public IReadOnlyList<string>? Steps { get; init; }
}

public sealed record ThreatModelDto
{
    public required string Id { get; init; }
    public string Status { get; init; } = "accepted";
    public string? DraftedWith { get; init; }
    public required string Capability { get; init; }
    public required string Description { get; init; }
    public required IReadOnlyList<string> AffectedParties { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }
}

public sealed record AdvanceCaseRequest { public required string To { get; init; } }

public sealed record AddCommitmentRequest { public required string Expression { get; init; } }
public sealed record CommitmentDto
{
    public required string Id { get; init; }
    public required string Expression { get; init; }
}

public sealed record ConditionDto
{
    public required string Model { get; init; }
    public required int Correct { get; init; }
    public required int Total { get; init; }
    public required double Accuracy { get; init; }
    public required double Ci95Low { get; init; }
    public required double Ci95High { get; init; }
}

public sealed record UpliftDto
{
    public required double Estimate { get; init; }
    public required double Ci95Low { get; init; }
    public required double Ci95High { get; init; }
    public required double P { get; init; }
    public required string Test { get; init; }
}

public sealed record SubmitEvaluationRequest
{
    public required string Capability { get; init; }
    public required string Task { get; init; }
    public required int Samples { get; init; }
    public required ConditionDto Subject { get; init; }
    public ConditionDto? Baseline { get; init; }
    public UpliftDto? Uplift { get; init; }
    /// <summary>sha256 of the run's log file, so the evidence can be matched later.</summary>
    public string? LogSha256 { get; init; }
    /// <summary>Set when this run verifies a mitigation (re-run against the mitigated system).</summary>
    public string? MitigationId { get; init; }
    /// <summary>The registered condition of the version the subject ran as (e.g. a fine-tune).</summary>
    public string? SubjectCondition { get; init; }
}

public sealed record EvaluationDto
{
    public required string Id { get; init; }
    public required string Capability { get; init; }
    public required string Task { get; init; }
    public required string Purpose { get; init; }
    public string? SubjectCondition { get; init; }
    public required int Samples { get; init; }
    public required ConditionDto Subject { get; init; }
    public ConditionDto? Baseline { get; init; }
    public UpliftDto? Uplift { get; init; }
    public required bool Significant { get; init; }
    public long LedgerIndex { get; init; }
    /// <summary>Findings created by if-then commitments that fired on this result.</summary>
    public IReadOnlyList<FindingDto> FiredFindings { get; init; } = [];
}

public sealed record RecordFindingRequest
{
    public required string ThreatModelId { get; init; }
    public required string EvaluationId { get; init; }
    public required string Title { get; init; }
}

public sealed record FindingDto
{
    public required string Id { get; init; }
    public required string CaseId { get; init; }
    public required string ThreatModelId { get; init; }
    public required string Capability { get; init; }
    public required string Title { get; init; }
    public required bool Novel { get; init; }
    public required string EvaluationId { get; init; }
    public required string Source { get; init; }
    public string? CapTier { get; init; }
    public string? Commitment { get; init; }
}

public sealed record SealedDetailDto
{
    public required string OrganisationId { get; init; }
    /// <summary>Ciphertext sealed to the recipient's key, base64; the server never sees plaintext.</summary>
    public required string Ciphertext { get; init; }
    /// <summary>Set in responses: the finding the detail belongs to (part of the envelope's associated data).</summary>
    public string? FindingId { get; init; }
}

public sealed record DiscloseRequest
{
    public required string AdvisoryTitle { get; init; }
    public required string AdvisorySummary { get; init; }
    public IReadOnlyList<SealedDetailDto> Sealed { get; init; } = [];
}

public sealed record DisclosureDto
{
    public required string Id { get; init; }
    public required string FindingId { get; init; }
    public required string AdvisoryTitle { get; init; }
    public required string AdvisorySummary { get; init; }
    public required IReadOnlyList<RecipientDto> Recipients { get; init; }
    public required IReadOnlyList<MitigationDto> Mitigations { get; init; }
}

public sealed record RecipientDto
{
    public required string OrganisationId { get; init; }
    public required bool Acknowledged { get; init; }
}

public sealed record MitigationDto
{
    public required string Id { get; init; }
    public required string FindingId { get; init; }
    public required string Party { get; init; }
    public required string Status { get; init; }
    public DateTimeOffset? DueAt { get; init; }
    public int Escalations { get; init; }
    public string? VerificationEvaluationId { get; init; }
}

public sealed record SetDeadlineRequest { public required DateTimeOffset DueAt { get; init; } }
public sealed record ReportMitigationRequest { public required string Description { get; init; } }
public sealed record VerifyMitigationRequest { public required string EvaluationId { get; init; } }
public sealed record FineRequest
{
    public required decimal Amount { get; init; }
    public required string Currency { get; init; }
    public required string Reason { get; init; }
}

public sealed record DenyRequest { public required string Reason { get; init; } }

public sealed record EscalationReportDto { public required IReadOnlyList<MitigationDto> Escalated { get; init; } }

public sealed record CaseDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string ManifestDigest { get; init; }
    public required string DeveloperOrganisationId { get; init; }
    public required string RegulatorOrganisationId { get; init; }
    public required IReadOnlyList<string> EvaluatorOrganisationIds { get; init; }
    public required string RequestedTier { get; init; }
    public required string State { get; init; }
    public required string ReferenceModel { get; init; }
    public required bool ReevaluationFlag { get; init; }
    public string? ReevaluationReason { get; init; }
    public string? DenialReason { get; init; }
    public required IReadOnlyList<ThreatModelDto> ThreatModels { get; init; }
    public required IReadOnlyList<CommitmentDto> Commitments { get; init; }
    public required IReadOnlyList<EvaluationDto> Evaluations { get; init; }
    public required IReadOnlyList<FindingDto> Findings { get; init; }
    public required IReadOnlyList<MitigationDto> Mitigations { get; init; }
    /// <summary>What still stops a certificate at the requested tier (empty when none).</summary>
    public required IReadOnlyList<string> Blockers { get; init; }
}

public sealed record CertificationRequest
{
    public required string Tier { get; init; }
    /// <summary>The key id (hex SHA-256 of the raw public key) the certifier will sign with; when given, an approval by any other key is refused and nothing is logged.</summary>
    public string? KeyId { get; init; }
}

/// <summary>The certifier's decision is logged; the certifier then signs exactly these statement bytes.</summary>
public sealed record CertificationDraftDto
{
    public required string CertificateId { get; init; }
    public required long CertificationIndex { get; init; }
    /// <summary>Base64 of the exact in-toto statement bytes to sign (DSSE payload).</summary>
    public required string Statement { get; init; }
    public required string PayloadType { get; init; }
    /// <summary>"pending" (sign it) or "issued" (a repeat of an approval whose certificate was already signed).</summary>
    public string Status { get; init; } = "pending";
}

public sealed record SubmitCertificateRequest { public required string Envelope { get; init; } }

public sealed record CertificateDto
{
    public required string Id { get; init; }
    public required string CaseId { get; init; }
    public required string ManifestDigest { get; init; }
    public required string Tier { get; init; }
    public required string Status { get; init; }
    public long CertificationIndex { get; init; }
    public long? IssuedIndex { get; init; }
    public string? Envelope { get; init; }
    public string? CertifierKeyPem { get; init; }
    public string? FlagReason { get; init; }
}

public sealed record ReleaseRequest
{
    public required string ModelVersionId { get; init; }
    public required string Tier { get; init; }
}

public sealed record ReleaseDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string Tier { get; init; }
    public required string CertificateId { get; init; }
    public required long LedgerIndex { get; init; }
}

public sealed record ReportViolationRequest
{
    public required string ManifestDigest { get; init; }
    public required string ObservedTier { get; init; }
    public required string Source { get; init; }
}

public sealed record ViolationDto
{
    public required string Id { get; init; }
    public required string ManifestDigest { get; init; }
    public required string ObservedTier { get; init; }
    public string? CertifiedTier { get; init; }
    public string? Developer { get; init; }
    public required bool Recorded { get; init; }
    public required string Verdict { get; init; }
}

public sealed record GrantRequest { public required string PrincipalId { get; init; } }

public sealed record GrantDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string PrincipalId { get; init; }
}

public sealed record WrappedKeyDto
{
    public required string KeyId { get; init; }
    public required string EphemeralPublicKey { get; init; }
    public required string WrappedDataKey { get; init; }
}

/// <summary>The developer deposits the wrapped keys of a seal; they are handed out only under rule 1.</summary>
public sealed record DepositKeysRequest
{
    public required string SealId { get; init; }
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<WrappedKeyDto> Keys { get; init; }
}

public sealed record DepositKeysDto
{
    public required string ModelVersionId { get; init; }
    public required string SealId { get; init; }
    public required int Keys { get; init; }
}

public sealed record KeyReleaseDto
{
    public required string ModelVersionId { get; init; }
    public required string SealId { get; init; }
    public required WrappedKeyDto Key { get; init; }
    public required string CertificateId { get; init; }
}

/// <summary>A recipient of a finding's disclosure and the X25519 key its detail is sealed to (null: none registered).</summary>
public sealed record DisclosureRecipientKeyDto
{
    public required string OrganisationId { get; init; }
    public string? PrincipalId { get; init; }
    public string? KeyId { get; init; }
    /// <summary>Base64 raw 32-byte X25519 public key.</summary>
    public string? PublicKey { get; init; }
}

public sealed record CaseSummaryDto
{
    public required string Id { get; init; }
    public required string Model { get; init; }
    public required string ManifestDigest { get; init; }
    public required string DeveloperOrganisationId { get; init; }
    public required string RequestedTier { get; init; }
    public required string State { get; init; }
    public required bool ReevaluationFlag { get; init; }
}

public sealed record RegisterModelConditionRequest
{
    /// <summary>Unique per version, e.g. "base", "ft-cyber", "with-tools".</summary>
    public required string Name { get; init; }
    /// <summary>base | fine-tuned | tool-augmented | assisted</summary>
    public required string Kind { get; init; }
    public required string ModelName { get; init; }
    /// <summary>The OpenAI-compatible base URL the condition is served at.</summary>
    public required string Endpoint { get; init; }
    public string? Description { get; init; }
    /// <summary>Kind fine-tuned: sha256 of the training file ("sha256:" + 64 hex), logged on the ledger.</summary>
    public string? TrainingFileSha256 { get; init; }
    /// <summary>Kind fine-tuned: the fine-tuning job that produced the model (≤ 200 characters), logged on the ledger.</summary>
    public string? FineTuningJobId { get; init; }
}

public sealed record ModelConditionDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public required string ModelName { get; init; }
    public required string Endpoint { get; init; }
    public string? Description { get; init; }
    public string? TrainingFileSha256 { get; init; }
    public string? FineTuningJobId { get; init; }
}
