namespace Embargo.Protocol;

/// <summary>
/// Rule "evidence": an evaluation is a run, not a number. The server records a result only with its log, recomputes
/// every figure from the log's per-sample records, and binds the log to one evaluation: one case (so one version), the
/// capability and task the log ran, and the subject model of the registered condition it claims. A run without a
/// baseline measures no uplift: it is recorded, but it neither counts as having evaluated a capability nor may a
/// finding cite it or a mitigation be verified with it.
/// </summary>
public static class Evidence
{
    public const string Rule = "evidence";

    /// <summary>A log is uploaded for one case; the same bytes for another case are another case's evidence.</summary>
    public static ProtocolError? UploadRefusal(string sha256, string caseId, string? uploadedFor) =>
        uploadedFor is null || uploadedFor == caseId
            ? null
            : ProtocolError.Violation(Rule, $"log sha256:{sha256} is already the evidence of case {uploadedFor}; a run is evidence for one case, one version and one capability only");

    /// <summary>
    /// The binding of a log to the submission citing it: same case, not yet the evidence of another evaluation, the
    /// capability and task the log ran, and (when known) the subject model the claimed condition serves.
    /// </summary>
    public static ProtocolError? BindingRefusal(EvidenceBinding b)
    {
        if (b.LogCaseId != b.CaseId)
        {
            return ProtocolError.Violation(Rule, $"log sha256:{b.Sha256} was uploaded for case {b.LogCaseId}, not {b.CaseId}; a run is evidence for one case only");
        }
        if (b.AlreadyEvidenceOf is { } other)
        {
            return ProtocolError.Violation(Rule, $"log sha256:{b.Sha256} is already the evidence of evaluation {other}; a run is recorded once");
        }
        if (b.LogCapability != b.Capability)
        {
            return ProtocolError.Violation(Rule, $"capability: the log ran task '{b.LogTask}' measuring '{b.LogCapability}', not '{b.Capability}'; a run cannot be relabelled");
        }
        if (b.LogTask != b.Task)
        {
            return ProtocolError.Violation(Rule, $"task: the log ran task '{b.LogTask}', not '{b.Task}'");
        }
        if (b.ExpectedSubjectModel is { } expected && expected != b.LogSubjectModel)
        {
            return ProtocolError.Violation(Rule, $"subject.model: the log's subject is model '{b.LogSubjectModel}', but {b.ExpectedSubjectSource} serves '{expected}'");
        }
        return null;
    }

    /// <summary>A finding may cite, and a mitigation be verified by, only a run with a baseline (an uplift).</summary>
    public static ProtocolError? CitationRefusal(string evaluationId, bool hasUplift) =>
        hasUplift
            ? null
            : ProtocolError.Violation(Rule, $"evaluation {evaluationId} ran without a baseline: it measures no uplift and is no evidence for a finding or a verification");
}

/// <summary>What <see cref="Evidence.BindingRefusal"/> judges: the submission and the stored log it cites.</summary>
public sealed record EvidenceBinding
{
    public required string Sha256 { get; init; }
    public required string CaseId { get; init; }
    public required string LogCaseId { get; init; }
    /// <summary>The evaluation the log already backs, if any.</summary>
    public string? AlreadyEvidenceOf { get; init; }
    public required string Capability { get; init; }
    public required string Task { get; init; }
    public required string LogCapability { get; init; }
    public required string LogTask { get; init; }
    public required string LogSubjectModel { get; init; }
    /// <summary>The model the subject must be: the claimed condition's, or the version's base condition's; null when nothing is declared.</summary>
    public string? ExpectedSubjectModel { get; init; }
    /// <summary>Where <see cref="ExpectedSubjectModel"/> comes from, e.g. "registered condition 'ft-cyber'".</summary>
    public string ExpectedSubjectSource { get; init; } = "";
}
