namespace Embargo.Protocol;

/// <summary>A standing (not lifted) denial of a model version at a tier, from one case.</summary>
public sealed record DenialFacts(string CaseId, Tier Tier, string RegulatorOrganisation, string Reason);

/// <summary>
/// Rule 11: a denial stands for that model version at that tier and above, across cases, whatever regulator a
/// later case names, until the regulator who denied it lifts it with a reason.
/// </summary>
public static class Denials
{
    private static DenialFacts? Covering(Tier tier, IEnumerable<DenialFacts> standing) =>
        standing.Where(d => tier >= d.Tier).OrderBy(d => d.Tier).ThenBy(d => d.CaseId, StringComparer.Ordinal).FirstOrDefault();

    /// <summary>A new case for the version at a tier at or above a standing denial is refused.</summary>
    public static ProtocolError? OpenRefusal(Tier requested, IEnumerable<DenialFacts> standing) =>
        Covering(requested, standing) is { } d
            ? ProtocolError.Violation("rule-11", $"this model version was denied at {d.Tier.Name()} in case {d.CaseId} ({d.Reason}); the denial stands for {d.Tier.Name()} and above until the regulator lifts it")
            : null;

    /// <summary>A release at or above a standing denial's tier is refused, whatever certificate backs it.</summary>
    public static ProtocolError? ReleaseRefusal(Tier tier, IEnumerable<DenialFacts> standing) =>
        Covering(tier, standing) is { } d
            ? ProtocolError.Violation("rule-11", $"this model version was denied at {d.Tier.Name()} in case {d.CaseId} ({d.Reason}); no release at {tier.Name()} while the denial stands")
            : null;

    /// <summary>A certificate at or above a standing denial's tier (from any case of the version) is refused.</summary>
    public static ProtocolError? CertificationRefusal(Tier tier, IEnumerable<DenialFacts> standing) =>
        Covering(tier, standing) is { } d
            ? ProtocolError.Violation("rule-11", $"this model version was denied at {d.Tier.Name()} in case {d.CaseId}; no certificate at {tier.Name()} while the denial stands")
            : null;

    /// <summary>A denial is lifted once, with a reason (who may lift it is the access table's: the regulator that denied).</summary>
    public static ProtocolError? LiftRefusal(CaseState state, bool alreadyLifted, string? reason)
    {
        if (state != CaseState.Denied)
        {
            return ProtocolError.Violation("case-phase", $"the case is {state.Name()}, not denied; there is no denial to lift");
        }
        if (alreadyLifted)
        {
            return ProtocolError.Violation("rule-11", "the denial of this case was already lifted");
        }
        return Explanations.Reason(reason, "reason");
    }
}
