namespace Embargo.Protocol;

/// <summary>What the protocol knows about a model version when its developer asks to withdraw it.</summary>
public sealed record VersionWithdrawalFacts
{
    public required string VersionId { get; init; }
    /// <summary>The version's developer and the parties of its cases (the access table's subject).</summary>
    public required Subject Subject { get; init; }
    /// <summary>Every case opened for the version, whatever became of it.</summary>
    public required IReadOnlyList<string> Cases { get; init; }
    public required bool AlreadyWithdrawn { get; init; }
    public string? Reason { get; init; }
}

/// <summary>
/// Withdrawing a model version: a registration made by mistake (a wrong weights path, a wrong label) is taken back
/// before any case used it. Its record stays (the ledger names it), but its label and its weights may be registered
/// again, and no new case may be opened for it. A version a case has used stays: the case's evidence is about it.
/// </summary>
public static class VersionWithdrawal
{
    public const int MaxReasonLength = 500;

    /// <summary>Null when the withdrawal may be logged; else the refusal (the access table's rule, or case-phase).</summary>
    public static ProtocolError? Decide(VersionWithdrawalFacts facts, Actor actor)
    {
        if (Access.Decide(ProtocolAction.WithdrawVersion, actor, facts.Subject) is { } denied)
        {
            return denied;
        }
        if (facts.AlreadyWithdrawn)
        {
            return ProtocolError.Violation("case-phase", $"model version {facts.VersionId} is already withdrawn");
        }
        if (facts.Cases.Count > 0)
        {
            return ProtocolError.Violation("case-phase",
                $"model version {facts.VersionId} is used by case {string.Join(", ", facts.Cases)}; a version a case has used cannot be withdrawn");
        }
        if (facts.Reason is { } reason && (reason.Length > MaxReasonLength || string.IsNullOrWhiteSpace(reason)))
        {
            return ProtocolError.Validation($"reason: 1–{MaxReasonLength} characters") with { Member = "reason" };
        }
        return null;
    }

    /// <summary>No new case for a withdrawn version.</summary>
    public static ProtocolError? OpenRefusal(string versionId, bool withdrawn) =>
        withdrawn ? ProtocolError.Violation("case-phase", $"model version {versionId} was withdrawn; register the weights again to open a case") : null;
}
