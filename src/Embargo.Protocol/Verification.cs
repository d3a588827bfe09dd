namespace Embargo.Protocol;

/// <summary>
/// A mitigation is verified by a run made after the affected party reported it, against the mitigated system: a run
/// filed before the report measured the unmitigated system and proves nothing about the fix.
/// </summary>
public static class Verification
{
    /// <summary>A verification run is filed only for a mitigation that has been reported (and not yet verified).</summary>
    public static ProtocolError? SubmissionRefusal(string mitigationId, string status) =>
        status == "reported"
            ? null
            : ProtocolError.Violation("rule-2", $"mitigation {mitigationId} is {status}; a verification run is filed after the affected party reports its mitigation, against the mitigated system");

    /// <summary>The run must come after the latest report in ledger order, under the case's current reference model.</summary>
    public static ProtocolError? RunRefusal(string mitigationId, long? reportedIndex, long evaluationIndex, bool currentReference)
    {
        if (reportedIndex is null || evaluationIndex <= reportedIndex)
        {
            return ProtocolError.Violation("rule-2", $"the verification run (ledger index {evaluationIndex}) was filed before mitigation {mitigationId} was reported{(reportedIndex is { } r ? $" (ledger index {r})" : "")}; it did not measure the mitigated system");
        }
        return currentReference
            ? null
            : ProtocolError.Violation("rule-5", "the verification run was made under an earlier reference model than the case's current one; re-run it");
    }
}
