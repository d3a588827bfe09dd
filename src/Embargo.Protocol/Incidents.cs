namespace Embargo.Protocol;

/// <summary>The life of an incident reported against a released version.</summary>
public static class IncidentStatus
{
    /// <summary>Reported; awaits the regulator's triage. Changes no certificate.</summary>
    public const string Reported = "reported";
    /// <summary>The regulator accepted it: every issued certificate of the version is flagged (the gateway stops serving it).</summary>
    public const string Accepted = "accepted";
    /// <summary>The regulator rejected it: nothing else changes.</summary>
    public const string Rejected = "rejected";
}

/// <summary>
/// Incidents as pure decisions of state (who may report or triage is the access table's, see <see cref="Access"/>): a
/// report names a capability and a one-line public summary, its detail goes sealed to the regulators of the version's cases;
/// a triage is final.
/// </summary>
public static class IncidentRules
{
    public const int MaxCapability = 100;
    public const int MaxSummary = 300;

    /// <summary>
    /// An accepted incident re-opens the version's released cases the way rule 5 does: back to testing on the same case (same
    /// reference model), so evaluators can add evidence and a new certificate can be issued. A case in any other phase stays
    /// where it is (it has not been argued to the end yet); null then.
    /// </summary>
    public static CaseState? ReopenedBy(CaseState state) => state == CaseState.Released ? CaseState.Testing : null;

    /// <summary>The re-evaluation reason an accepted incident gives a released case.</summary>
    public static string ReopenReason(string incidentId, string capability) =>
        $"incident {incidentId} on {capability} was accepted; the case is re-argued and re-certified before the version is served again";

    /// <summary>A capability name as threat models use it (e.g. <c>cyber-phishing</c>): letters, digits, '-', '_' and '.'.</summary>
    public static Result<string> Capability(string? value)
    {
        var text = value?.Trim() ?? "";
        return text.Length is 0 or > MaxCapability || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')
            ? ProtocolError.Validation($"capability: 1–{MaxCapability} characters of letters, digits, '-', '_' and '.' (the capability of a threat model, e.g. cyber-phishing)") with { Member = "capability" }
            : text;
    }

    /// <summary>The public summary: one line, at most <see cref="MaxSummary"/> characters (the detail goes sealed, never here).</summary>
    public static Result<string> Summary(string? value)
    {
        var text = value?.Trim() ?? "";
        if (text.Length is 0 or > MaxSummary)
        {
            return ProtocolError.Validation($"summary: one line of 1–{MaxSummary} characters (what happened, without reproduction detail)") with { Member = "summary" };
        }
        return text.Any(char.IsControl) ? ProtocolError.Validation("summary: one line, no line breaks or control characters") with { Member = "summary" } : text;
    }

    /// <summary>An incident is reported only against a version released at some tier.</summary>
    public static ProtocolError? Reportable(string versionId, bool released) => released
        ? null
        : ProtocolError.Validation($"modelVersionId: model version {versionId} is not released; incidents are reported against released versions") with { Member = "modelVersionId" };

    /// <summary>The regulator's triage: accept or reject a reported incident, once.</summary>
    public static Result<string> Triage(string status, string? decision)
    {
        if (decision is not ("accept" or "reject"))
        {
            return ProtocolError.Validation($"decision: '{decision}' must be 'accept' or 'reject'") with { Member = "decision" };
        }
        if (status != IncidentStatus.Reported)
        {
            return ProtocolError.Validation($"decision: the incident was already {status}; a triage is final") with { Member = "decision" };
        }
        return decision == "accept" ? IncidentStatus.Accepted : IncidentStatus.Rejected;
    }

    /// <summary>The associated data an incident's detail is sealed under (Disclosures.SealedEnvelope): the version and the
    /// recipient organisation, so an envelope cannot be moved to another version's incident or another recipient.</summary>
    public static string SealingContext(string versionId, string organisationId) => $"incident:{versionId}\n{organisationId}";

    /// <summary>The flag reason an accepted incident gives each certificate of its version.</summary>
    public static string FlagReason(string incidentId, string capability) =>
        $"incident {incidentId} on {capability} was accepted by the regulator; the case must be re-argued and re-certified";
}
