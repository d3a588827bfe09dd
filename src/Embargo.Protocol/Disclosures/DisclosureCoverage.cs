namespace Embargo.Protocol.Disclosures;

/// <summary>A principal of a recipient organisation that registered an X25519 key: it gets its own envelope.</summary>
public sealed record RecipientKey(string OrganisationId, string PrincipalId);

/// <summary>One envelope of a disclosure request: to which organisation and principal, and the ciphertext.</summary>
public sealed record OfferedEnvelope(string? OrganisationId, string? PrincipalId, string? Ciphertext);

/// <summary>
/// Rules 2 and 8 per recipient: a finding's detail goes sealed to every required recipient organisation, one
/// envelope per principal of it that holds a key; a recipient counts as disclosed to only with an envelope.
/// </summary>
public static class DisclosureCoverage
{
    /// <summary>
    /// Checks a disclosure's envelopes against the required recipient organisations and the keys they hold.
    /// Every error names the member (<c>sealed</c>, <c>sealed[i].principalId</c>, <c>sealed[i].ciphertext</c> …).
    /// </summary>
    public static ProtocolError? Check(IReadOnlyList<OfferedEnvelope?>? offered, IReadOnlyList<string> required, IReadOnlyList<RecipientKey> keys)
    {
        if (offered is null || offered.Count == 0)
        {
            return ProtocolError.Validation("sealed is empty: the finding's detail must go sealed to every recipient (one envelope per key of each recipient organisation)");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < offered.Count; i++)
        {
            var e = offered[i];
            if (e is null)
            {
                return ProtocolError.Validation($"sealed[{i}] is null");
            }
            if (string.IsNullOrEmpty(e.OrganisationId) || !required.Contains(e.OrganisationId, StringComparer.Ordinal))
            {
                return ProtocolError.Validation($"sealed[{i}].organisationId: organisation {e.OrganisationId} is not a recipient of this finding");
            }
            if (string.IsNullOrEmpty(e.PrincipalId))
            {
                return ProtocolError.Validation($"sealed[{i}].principalId is required: each envelope is sealed to one principal's key");
            }
            if (!keys.Any(k => k.OrganisationId == e.OrganisationId && k.PrincipalId == e.PrincipalId))
            {
                return ProtocolError.Validation($"sealed[{i}].principalId: {e.PrincipalId} is not a principal of {e.OrganisationId} with a registered X25519 key");
            }
            if (!seen.Add(e.PrincipalId))
            {
                return ProtocolError.Validation($"sealed[{i}].principalId: {e.PrincipalId} has two envelopes");
            }
            if (SealedEnvelope.WellFormed(e.Ciphertext, $"sealed[{i}].ciphertext") is { } malformed)
            {
                return malformed;
            }
        }
        foreach (var org in required)
        {
            if (!keys.Any(k => k.OrganisationId == org))
            {
                return ProtocolError.Validation($"sealed: recipient organisation {org} has no principal with a registered X25519 key; nothing can be sealed to it");
            }
        }
        var missing = keys.Where(k => required.Contains(k.OrganisationId, StringComparer.Ordinal) && !seen.Contains(k.PrincipalId)).ToList();
        return missing.Count > 0
            ? ProtocolError.Validation($"sealed: no envelope for {string.Join(", ", missing.Select(k => $"principal {k.PrincipalId} of {k.OrganisationId}"))}; each key holder of a recipient gets its own")
            : null;
    }
}
