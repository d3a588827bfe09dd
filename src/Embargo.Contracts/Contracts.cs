using System.ComponentModel.DataAnnotations;

namespace Embargo.Contracts;

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
    [MaxLength(4096), DataType(DataType.MultilineText)]
    public string? SigningKeyPem { get; init; }
    /// <summary>X25519 public key file text (`embargo weights keygen`); needed to receive sealed weights keys.</summary>
    [MaxLength(4096), DataType(DataType.MultilineText)]
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
    [MaxLength(1024)]
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
    /// <summary>In lists (GET /api/models): how many versions it has, withdrawn ones included.</summary>
    public int? Versions { get; init; }
}

public sealed record RegisterVersionRequest
{
    [MaxLength(64), RegularExpression(ContractLimits.VersionPattern)]
    public required string Version { get; init; }
    /// <summary>The weights manifest digest ("sha256:…"); the server recomputes it from <see cref="Files"/>.</summary>
    public required string ManifestDigest { get; init; }
    [MaxLength(4096)]
    public required IReadOnlyList<WeightsFileDto> Files { get; init; }
    /// <summary>A fingerprint of every float tensor, from its values (see FINGERPRINT.md): what lets a scan recognise
    /// these weights after conversion, resharding, renaming or quantisation. Optional; without it only the files match.</summary>
    [MaxLength(ContractLimits.MaxFingerprints)]
    public IReadOnlyList<TensorFingerprintDto>? Fingerprints { get; init; }
}

/// <summary>One tensor's fingerprint: its element count, the sum and sum of squares of its values, and a sketch of
/// 256 float32 (little-endian, base64). Names and files are not part of it.</summary>
public sealed record TensorFingerprintDto
{
    public required long Elements { get; init; }
    public required double Sum { get; init; }
    public required double SumSquares { get; init; }
    [MaxLength(1368)]
    public required string Sketch { get; init; }
}

public sealed record ModelVersionDto
{
    public required string Id { get; init; }
    public required string ModelId { get; init; }
    public required string Model { get; init; }
    public required string Version { get; init; }
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<WeightsFileDto> Files { get; init; }
    public DateTimeOffset? RegisteredAt { get; init; }
    /// <summary>The cases opened for this version (a version a case used cannot be withdrawn).</summary>
    public IReadOnlyList<string>? UsedByCases { get; init; }
    /// <summary>Set when its developer withdrew it: its label and weights are free again, and no new case may use it.</summary>
    public DateTimeOffset? WithdrawnAt { get; init; }
    public string? WithdrawalReason { get; init; }
}

/// <summary>Withdraw a model version no case has used (its developer only); the reason is public, on the ledger.</summary>
public sealed record WithdrawVersionRequest
{
    [MaxLength(500)]
    public string? Reason { get; init; }
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
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
    public required string Description { get; init; }
    public required IReadOnlyList<string> AffectedParties { get; init; }
    [ItemMaxLength(1000)]
    public IReadOnlyList<string> Steps { get; init; } = [];
    /// <summary>δ, the smallest uplift that matters for this capability (0 &lt; δ &lt; 1; default 0.05): "not-novel" needs the one-sided upper bound below it.</summary>
    public double? Margin { get; init; }
}

public sealed record DraftThreatModelRequest
{
    public required string Capability { get; init; }
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
    public required string Description { get; init; }
    [ItemMaxLength(1000)]
    public required IReadOnlyList<string> Steps { get; init; }
    /// <summary>The reference model that drafted it.</summary>
    public required string ReferenceModel { get; init; }
    /// <summary>δ, the smallest uplift that matters for this capability (0 &lt; δ &lt; 1; default 0.05): "not-novel" needs the one-sided upper bound below it.</summary>
    public double? Margin { get; init; }
}

/// <summary>An evaluator accepts a draft, naming the affected parties and optionally editing it.</summary>
public sealed record AcceptThreatModelRequest
{
    public required IReadOnlyList<string> AffectedParties { get; init; }
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
    public string? Description { get; init; }
    [ItemMaxLength(1000)]
    public IReadOnlyList<string>? Steps { get; init; }
    /// <summary>δ, the smallest uplift that matters for this capability (0 &lt; δ &lt; 1; default: the draft's): "not-novel" needs the one-sided upper bound below it.</summary>
    public double? Margin { get; init; }
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
    /// <summary>δ, the materiality margin its capability's runs are judged against.</summary>
    public double Margin { get; init; } = 0.05;
}

public sealed record AdvanceCaseRequest { public required string To { get; init; } }

public sealed record AddCommitmentRequest { [MaxLength(2000)] public required string Expression { get; init; } }
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
    /// <summary>The run's status: "complete" (sample errors within its tolerance) or "error" (not evidence).</summary>
    public string? Status { get; init; }
    /// <summary>Sample calls (sample × epoch × condition) that ended in an error: counted, never scored.</summary>
    public int? Errors { get; init; }
    /// <summary>Sample calls the run asked for (samples × epochs × conditions).</summary>
    public int? Records { get; init; }
    /// <summary>The runner's verdict: "novel", "not-novel" or "inconclusive".</summary>
    public string? Verdict { get; init; }
    /// <summary>The one-sided upper (1 − α) bound of the uplift the verdict used.</summary>
    public double? UpliftUpper { get; init; }
    /// <summary>δ, the margin the verdict was judged against.</summary>
    public double? Margin { get; init; }
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
    /// <summary>The server's verdict against the capability's threat-model margin: "novel", "not-novel" or "inconclusive".</summary>
    public string? Verdict { get; init; }
    /// <summary>δ, the margin the verdict used (the capability's threat model's).</summary>
    public double? Margin { get; init; }
    /// <summary>The one-sided upper (1 − α) bound of the uplift the verdict used.</summary>
    public double? UpliftUpper { get; init; }
    /// <summary>For "inconclusive": roughly how many more samples would decide it.</summary>
    public int? MoreSamples { get; init; }
    /// <summary>One line saying why the verdict is what it is.</summary>
    public string? VerdictReason { get; init; }
    public long LedgerIndex { get; init; }
    /// <summary>The reference model the case used when the result was recorded (rule 5).</summary>
    public string? ReferenceModelId { get; init; }
    /// <summary>Findings created by if-then commitments that fired on this result.</summary>
    public IReadOnlyList<FindingDto> FiredFindings { get; init; } = [];
    /// <summary>sha256 (hex) of the run's log the server recomputed every figure from (GET /api/evaluations/{id}/log).</summary>
    public string? LogSha256 { get; init; }
}

/// <summary>A run's log as the server stored it (POST /api/cases/{id}/evaluation-logs, the log's bytes as the body).</summary>
public sealed record EvaluationLogDto
{
    public required string Sha256 { get; init; }
    public required string CaseId { get; init; }
    public required long Bytes { get; init; }
    public required string Task { get; init; }
    public required string Capability { get; init; }
    public required string SubjectModel { get; init; }
    /// <summary>The evaluation the log is the evidence of, once submitted (a log backs one evaluation only).</summary>
    public string? EvaluationId { get; init; }
}

/// <summary>
/// The figures of an evaluation — what a client claims, what the server recorded, or what a log recomputes to — and
/// the first member in which two of them differ (named as the contract names it, e.g. <c>uplift.estimate</c>).
/// </summary>
public sealed record EvidenceFigures
{
    /// <summary>Doubles agree when within this (they travel as JSON and through two databases).</summary>
    public const double Tolerance = 1e-9;

    public required string Task { get; init; }
    public required string Capability { get; init; }
    public required int Samples { get; init; }
    public required ConditionDto Subject { get; init; }
    public ConditionDto? Baseline { get; init; }
    public UpliftDto? Uplift { get; init; }

    public static EvidenceFigures Of(SubmitEvaluationRequest r) => new()
    {
        Task = r.Task, Capability = r.Capability, Samples = r.Samples, Subject = r.Subject, Baseline = r.Baseline, Uplift = r.Uplift,
    };

    public static EvidenceFigures Of(EvaluationDto e) => new()
    {
        Task = e.Task, Capability = e.Capability, Samples = e.Samples, Subject = e.Subject, Baseline = e.Baseline, Uplift = e.Uplift,
    };

    /// <summary>The first member where <paramref name="claimed"/> differs from <paramref name="actual"/>: (member, claimed, actual); null when none.</summary>
    public static (string Member, string Claimed, string Actual)? FirstDifference(EvidenceFigures claimed, EvidenceFigures actual)
    {
        var c = Flatten(claimed).ToList();
        var a = Flatten(actual).ToDictionary(x => x.Member, x => x.Value, StringComparer.Ordinal);
        foreach (var (member, value) in c)
        {
            var other = a.GetValueOrDefault(member);
            if (!Same(value, other))
            {
                return (member, Show(value), Show(other));
            }
        }
        foreach (var (member, value) in Flatten(actual))
        {
            if (!c.Any(x => x.Member == member))
            {
                return (member, "absent", Show(value));
            }
        }
        return null;
    }

    private static bool Same(object? x, object? y) => (x, y) switch
    {
        (double p, double q) => Math.Abs(p - q) <= Tolerance,
        (int p, int q) => p == q,
        (string p, string q) => string.Equals(p, q, StringComparison.Ordinal),
        (null, null) => true,
        _ => false,
    };

    private static string Show(object? v) => v switch
    {
        null => "absent",
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    private static IEnumerable<(string Member, object? Value)> Flatten(EvidenceFigures f)
    {
        yield return ("task", f.Task);
        yield return ("capability", f.Capability);
        yield return ("samples", f.Samples);
        foreach (var x in Condition("subject", f.Subject))
        {
            yield return x;
        }
        if (f.Baseline is { } b)
        {
            foreach (var x in Condition("baseline", b))
            {
                yield return x;
            }
        }
        if (f.Uplift is { } u)
        {
            yield return ("uplift.estimate", u.Estimate);
            yield return ("uplift.ci95Low", u.Ci95Low);
            yield return ("uplift.ci95High", u.Ci95High);
            yield return ("uplift.p", u.P);
            yield return ("uplift.test", u.Test);
        }
    }

    private static IEnumerable<(string Member, object? Value)> Condition(string name, ConditionDto c) =>
    [
        (name + ".model", c.Model), (name + ".correct", c.Correct), (name + ".total", c.Total), (name + ".accuracy", c.Accuracy),
        (name + ".ci95Low", c.Ci95Low), (name + ".ci95High", c.Ci95High),
    ];
}

public sealed record RecordFindingRequest
{
    public required string ThreatModelId { get; init; }
    public required string EvaluationId { get; init; }
    [MaxLength(300)]
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
    [MaxLength(262_144)]
    public required string Ciphertext { get; init; }
    /// <summary>The recipient principal whose X25519 key it is sealed to (required in requests: one envelope per key holder).</summary>
    public string? PrincipalId { get; init; }
    /// <summary>Set in responses: the finding the detail belongs to (part of the envelope's associated data).</summary>
    public string? FindingId { get; init; }
}

public sealed record DiscloseRequest
{
    [MaxLength(300)]
    public required string AdvisoryTitle { get; init; }
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
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
public sealed record ReportMitigationRequest { [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)] public required string Description { get; init; } }
public sealed record VerifyMitigationRequest { public required string EvaluationId { get; init; } }
public sealed record FineRequest
{
    public required decimal Amount { get; init; }
    public required string Currency { get; init; }
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
    public required string Reason { get; init; }
}

public sealed record DenyRequest { [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)] public required string Reason { get; init; } }

/// <summary>Rule 11: the regulator that denied lifts the denial, with a reason.</summary>
public sealed record LiftDenialRequest { public required string Reason { get; init; } }

/// <summary>Rule 5: switch a case to a stronger reference model; it re-enters testing.</summary>
public sealed record ReevaluateCaseRequest { public required string ReferenceModelId { get; init; } }

public sealed record EscalationReportDto
{
    public required IReadOnlyList<MitigationDto> Escalated { get; init; }
    /// <summary>Recipients reminded in this sweep: a disclosure left unacknowledged past its acknowledgement window.</summary>
    public IReadOnlyList<ReminderDto> Reminded { get; init; } = [];
}

public sealed record ReminderDto
{
    public required string DisclosureId { get; init; }
    public required string OrganisationId { get; init; }
}

/// <summary>One disclosure as one recipient organisation has it: the inbox (GET /api/disclosures).</summary>
public sealed record InboxItemDto
{
    public required string DisclosureId { get; init; }
    public required string Recipient { get; init; }
    public required string RecipientName { get; init; }
    public required bool Acknowledged { get; init; }
    /// <summary>The earliest open deadline: the acknowledgement window while unacknowledged, else the recipient's earliest unverified mitigation deadline.</summary>
    public DateTimeOffset? Deadline { get; init; }
    public required DateTimeOffset AcknowledgeBy { get; init; }
    /// <summary>The recipient's earliest deadline of an unverified mitigation of the finding (null: none set).</summary>
    public DateTimeOffset? MitigationDue { get; init; }
    public DateTimeOffset? RemindedAt { get; init; }
    public required string CaseId { get; init; }
    public required string FindingId { get; init; }
    public required string Capability { get; init; }
    public required string Title { get; init; }
    public required DateTimeOffset DisclosedAt { get; init; }
    public DateTimeOffset? AcknowledgedAt { get; init; }
}

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
    public string? DenialLiftReason { get; init; }
    public string? ReferenceModelId { get; init; }
    public required IReadOnlyList<ThreatModelDto> ThreatModels { get; init; }
    /// <summary>How many threat-model drafts the case has; <see cref="ThreatModels"/> carries the accepted ones and at most the first 100 drafts (page the rest from /api/cases/{id}/threat-model-drafts).</summary>
    public int ThreatModelDraftCount { get; init; }
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

public sealed record SubmitCertificateRequest { [MaxLength(65_536), DataType(DataType.MultilineText)] public required string Envelope { get; init; } }

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

/// <summary>A sighting (rule 4): the scan result of the weights seen, the tier they were seen at and where.</summary>
public sealed record ReportViolationRequest
{
    public required string ObservedTier { get; init; }
    /// <summary>Where the weights were seen: a URL or a description (≤ 2,000 characters).</summary>
    [MaxLength(2000)]
    public required string Source { get; init; }
    public required SightingEvidenceDto Evidence { get; init; }
}

/// <summary>What `embargo scan` computed from the weights seen; the server recomputes the digest from the files.</summary>
public sealed record SightingEvidenceDto
{
    public required string ManifestDigest { get; init; }
    [MaxLength(10_000)]
    public required IReadOnlyList<WeightsFileDto> Files { get; init; }
    /// <summary>Tensor facts from the safetensors/GGUF headers (`embargo weights inspect`), where the files have them.</summary>
    [MaxLength(100_000)]
    public IReadOnlyList<TensorFactDto>? Tensors { get; init; }
    /// <summary>The fingerprint of every float tensor seen; the server compares them with registered versions'.</summary>
    [MaxLength(ContractLimits.MaxFingerprints)]
    public IReadOnlyList<TensorFingerprintDto>? Fingerprints { get; init; }
}

public sealed record TensorFactDto
{
    public required string File { get; init; }
    public required string Name { get; init; }
    public required string Dtype { get; init; }
    public required IReadOnlyList<long> Shape { get; init; }
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
    /// <summary>pending | rejected | confirmed | overturned | lifted for a recorded sighting; unregistered | covered when nothing was recorded.</summary>
    public string Status { get; init; } = "";
    public string? DeveloperOrganisationId { get; init; }
    public string? ModelVersionId { get; init; }
    public string? Source { get; init; }
    /// <summary>manifest (every file), partial (enough files), reserialised (the same tensor values in other files) or
    /// quantised (similar tensor values) — see rule 4 in the README.</summary>
    public string? Match { get; init; }
    public int MatchedFiles { get; init; }
    /// <summary>For a match by tensor fingerprints, in the answer to a report: the share of the version's informative
    /// tensors matched and their element-weighted mean similarity (cosine of the sketches).</summary>
    public double? TensorsMatched { get; init; }
    public double? Similarity { get; init; }
    public string? EvidenceSha256 { get; init; }
    public SightingEvidenceDto? Evidence { get; init; }
    public DateTimeOffset? ReportedAt { get; init; }
    public IReadOnlyList<ViolationDecisionDto> Decisions { get; init; } = [];
    public IReadOnlyList<ViolationDisputeDto> Disputes { get; init; } = [];
}

/// <summary>A regulator's decision: confirmed, rejected or lifted, with its reason.</summary>
public sealed record ViolationDecisionDto
{
    public required string Kind { get; init; }
    public required string Reason { get; init; }
    public required string OrganisationId { get; init; }
    public required DateTimeOffset At { get; init; }
    public required long LedgerIndex { get; init; }
}

public sealed record ViolationDisputeDto
{
    public required string Id { get; init; }
    public required string Statement { get; init; }
    public required string OrganisationId { get; init; }
    public required DateTimeOffset At { get; init; }
    public required long LedgerIndex { get; init; }
    /// <summary>null while open; upheld (the violation is overturned) or rejected (it stands).</summary>
    public string? Outcome { get; init; }
    public string? DecisionReason { get; init; }
    public DateTimeOffset? DecidedAt { get; init; }
    public long? DecisionLedgerIndex { get; init; }
}

public sealed record ViolationDecisionRequest { public required string Reason { get; init; } }
public sealed record DisputeViolationRequest { public required string Statement { get; init; } }
public sealed record DecideDisputeRequest
{
    /// <summary>upheld (the violation is overturned, the mark lifted if nothing else stands) or rejected.</summary>
    public required string Outcome { get; init; }
    public required string Reason { get; init; }
}
public sealed record LiftMarkRequest { public required string Reason { get; init; } }

/// <summary>A publicly marked organisation with the violations behind the mark, their disputes and decisions.</summary>
public sealed record BadActorDto
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required bool BadActor { get; init; }
    public string? BadActorReason { get; init; }
    public required IReadOnlyList<ViolationDto> Violations { get; init; }
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
    [MaxLength(1000)]
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
    [MaxLength(2000)]
    public required string Endpoint { get; init; }
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
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

/// <summary>An RFC 6962 inclusion proof (hashes base64), as the ledger serves it.</summary>
public sealed record InclusionProofResponse
{
    public required long Index { get; init; }
    public required long TreeSize { get; init; }
    public required string LeafHash { get; init; }
    public required string RootHash { get; init; }
    public required IReadOnlyList<string> Proof { get; init; }
}

/// <summary>An RFC 6962 consistency proof (hashes base64), as the ledger serves it.</summary>
public sealed record ConsistencyProofResponse
{
    public required long FromSize { get; init; }
    public required long ToSize { get; init; }
    public required string FromRoot { get; init; }
    public required string ToRoot { get; init; }
    public required IReadOnlyList<string> Proof { get; init; }
}

/// <summary>The ledger's witnesses (GET /api/ledger/witnesses): the quorum the server aims for and each witness's state.</summary>
public sealed record WitnessStatusResponse
{
    public required int Quorum { get; init; }
    /// <summary>How many witnesses cosigned the latest checkpoint the server signed, and its size.</summary>
    public required int LatestCosignatures { get; init; }
    public required long LatestSize { get; init; }
    public required IReadOnlyList<WitnessStatusDto> Witnesses { get; init; }
}

/// <summary>
/// One witness: "not-asked", "ok", "unreachable", "ahead" (it already cosigned a later tree, e.g. asked by another replica),
/// "refused-inconsistent" (it holds a history this ledger does not extend: a fork) or "error".
/// </summary>
public sealed record WitnessStatusDto
{
    public required string Name { get; init; }
    public required string Url { get; init; }
    public required string VerifierKey { get; init; }
    public required string Status { get; init; }
    public required long LastCosignedSize { get; init; }
    public string? Detail { get; init; }
    public DateTimeOffset? CheckedAt { get; init; }
}

/// <summary>An incident against a released version: the capability, a one-line public summary, and the detail sealed (client-side)
/// to every key holder of the regulators of the version's cases (GET /api/model-versions/{id}/incident-recipients).</summary>
public sealed record ReportIncidentRequest
{
    public required string ModelVersionId { get; init; }
    [MaxLength(100)]
    public required string Capability { get; init; }
    [MaxLength(300)]
    public required string Summary { get; init; }
    [MaxLength(50)]
    public required IReadOnlyList<SealedDetailDto> Sealed { get; init; }
}

/// <summary>The regulator's triage of a reported incident: accept (flags every issued certificate of the version) or reject.</summary>
public sealed record TriageIncidentRequest
{
    /// <summary>accept | reject.</summary>
    [MaxLength(10)]
    public required string Decision { get; init; }
    [MaxLength(ContractLimits.FreeText), DataType(DataType.MultilineText)]
    public required string Reason { get; init; }
}

public sealed record IncidentDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string Capability { get; init; }
    public required string Summary { get; init; }
    /// <summary>reported | accepted | rejected.</summary>
    public required string Status { get; init; }
    public required string ReporterOrganisationId { get; init; }
    public required DateTimeOffset ReportedAt { get; init; }
    public required long LedgerIndex { get; init; }
    /// <summary>sha256 of the sealed envelopes (canonical JSON): what the incident.reported leaf commits the detail by.</summary>
    public required string SealedSha256 { get; init; }
    public string? TriageReason { get; init; }
    public DateTimeOffset? TriagedAt { get; init; }
    public long? TriageLedgerIndex { get; init; }
    /// <summary>The certificates an accepted incident flagged.</summary>
    public IReadOnlyList<string> FlaggedCertificates { get; init; } = [];
    /// <summary>Only for a recipient: the envelope sealed to the caller's own key (open it with SealedEnvelope and IncidentSealing's context).</summary>
    public SealedDetailDto? Sealed { get; init; }
}
