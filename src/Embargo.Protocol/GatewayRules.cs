using System.Text.RegularExpressions;

namespace Embargo.Protocol;

/// <summary>A release of a model version as the gateway rules read it: its tier and whether its certificate still holds.</summary>
public readonly record struct ServedRelease(Tier Tier, string CertificateId, string CertificateStatus);

/// <summary>A screen as attached to a version: rule lists and/or a classifier; validated by <see cref="GatewayRules.CheckScreen"/>.</summary>
public sealed record ScreenDefinition(string Name, IReadOnlyList<string> ApplyTo, IReadOnlyList<string> Keywords, IReadOnlyList<string> Regex, int? MaxMatch, ClassifierDefinition? Classifier);

public sealed record ClassifierDefinition(string Url, string Model, string Kind, int TimeoutMs);

/// <summary>
/// The server side of the gateway (rule 1 at run time): a version is served, and may be granted keys, only while it is
/// released at hosted or api under a certificate that is still issued (not flagged, revoked or superseded). A screen
/// only ever adds a restriction, so it is evidence of danger, never of safety (rule 9): its attachment clears nothing.
/// </summary>
public static class GatewayRules
{
    public const int MaxKeywords = 64;
    public const int MaxRegex = 32;
    public const int MaxRuleLength = 200;
    public const int MaxMatchLimit = 4096;
    public static readonly string[] ScreenTargets = ["input", "output"];
    public static readonly string[] ClassifierKinds = ["moderation", "chat"];

    /// <summary>The tier the gateway serves a version at (the highest of hosted/api released under an issued certificate), or the refusal.</summary>
    public static Result<ServedRelease> Served(string versionId, IReadOnlyList<ServedRelease> releases)
    {
        var gated = releases.Where(r => r.Tier is Tier.Hosted or Tier.Api).OrderByDescending(r => r.Tier).ToList();
        if (gated.Count == 0)
        {
            return ProtocolError.Violation("rule-1", $"model version {versionId} is not released at hosted or api; the gateway serves only those tiers");
        }
        if (gated.FirstOrDefault(r => r.CertificateStatus == "valid") is { CertificateId: not null } live)
        {
            return live;
        }
        var stopped = gated[0];
        var rule = stopped.CertificateStatus == "flagged" ? "rule-5" : "rule-1";
        return ProtocolError.Violation(rule, $"model version {versionId} was released at {stopped.Tier.Name()} under certificate {stopped.CertificateId}, which is now {stopped.CertificateStatus}; it is not served");
    }

    /// <summary>
    /// Evaluation access (rule 1 before release): a version not released at hosted or api is served by the server's gateway only
    /// to principals of an evaluator organisation assigned to an open (not released, not denied) case of the version, so the
    /// control argument's evidence (a run through the gateway with the version's screens on) can exist before the first
    /// certificate. Null when <paramref name="granteeOrganisation"/> has it; otherwise the rule-1 refusal. A version released at
    /// hosted or api is never under evaluation access (its certificate rules, <see cref="Served"/>).
    /// </summary>
    public static ProtocolError? EvaluationAccess(string versionId, IReadOnlyList<ServedRelease> releases, string granteeOrganisation,
        IReadOnlyCollection<string> openCaseEvaluators)
    {
        if (releases.Any(r => r.Tier is Tier.Hosted or Tier.Api))
        {
            return ProtocolError.Violation("rule-1", $"model version {versionId} is released at hosted or api; it is served under its certificate, not under evaluation access");
        }
        if (!openCaseEvaluators.Contains(granteeOrganisation))
        {
            return ProtocolError.Violation("rule-1", $"model version {versionId} is not released at hosted or api; before release the gateway serves it only to evaluators of an open case of the version (evaluation access), and organisation {granteeOrganisation} is none");
        }
        return null;
    }

    /// <summary>A grant's limits: at least one request a minute; a daily token quota, when given, is positive.</summary>
    public static ProtocolError? CheckLimits(int requestsPerMinute, long? tokensPerDay)
    {
        if (requestsPerMinute is < 1 or > 1_000_000)
        {
            return ProtocolError.Validation("requestsPerMinute: between 1 and 1000000");
        }
        if (tokensPerDay is { } t && t is < 1 or > 10_000_000_000)
        {
            return ProtocolError.Validation("tokensPerDay: between 1 and 10000000000 when given");
        }
        return null;
    }

    /// <summary>Every screen member checked once, at the edge: a 400 naming the member, or null. Regexes must compile.</summary>
    public static ProtocolError? CheckScreen(ScreenDefinition screen)
    {
        if (string.IsNullOrWhiteSpace(screen.Name) || screen.Name.Length > 100 || !screen.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return ProtocolError.Validation("name: 1 to 100 characters of letters, digits, '-', '_' and '.'");
        }
        if (screen.ApplyTo.Count == 0 || screen.ApplyTo.Any(t => !ScreenTargets.Contains(t)) || screen.ApplyTo.Distinct().Count() != screen.ApplyTo.Count)
        {
            return ProtocolError.Validation("applyTo: one or both of input, output");
        }
        if (screen.Keywords.Count == 0 && screen.Regex.Count == 0 && screen.Classifier is null)
        {
            return ProtocolError.Validation("keywords: a screen needs keywords, regex or a classifier");
        }
        if (screen.Classifier is not null && screen.Keywords.Count + screen.Regex.Count > 0)
        {
            return ProtocolError.Validation("classifier: a screen has keywords and/or regex, or a classifier (attach two screens for both)");
        }
        if (screen.Keywords.Count > MaxKeywords)
        {
            return ProtocolError.Validation($"keywords: at most {MaxKeywords}");
        }
        if (screen.Regex.Count > MaxRegex)
        {
            return ProtocolError.Validation($"regex: at most {MaxRegex}");
        }
        for (var i = 0; i < screen.Keywords.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(screen.Keywords[i]) || screen.Keywords[i].Length > MaxRuleLength)
            {
                return ProtocolError.Validation($"keywords[{i}]: 1 to {MaxRuleLength} characters, not only spaces");
            }
        }
        for (var i = 0; i < screen.Regex.Count; i++)
        {
            if (string.IsNullOrEmpty(screen.Regex[i]) || screen.Regex[i].Length > MaxRuleLength || !Compiles(screen.Regex[i]))
            {
                return ProtocolError.Validation($"regex[{i}]: not a regular expression of 1 to {MaxRuleLength} characters");
            }
        }
        if (screen.MaxMatch is { } max && max is < 1 or > MaxMatchLimit)
        {
            return ProtocolError.Validation($"maxMatch: between 1 and {MaxMatchLimit}");
        }
        if (screen.Classifier is { } classifier)
        {
            if (EndpointUrls.Check(classifier.Url, "classifier.url") is { IsOk: false } bad)
            {
                return bad.Error;
            }
            if (string.IsNullOrWhiteSpace(classifier.Model))
            {
                return ProtocolError.Validation("classifier.model: the classifier's model name");
            }
            if (!ClassifierKinds.Contains(classifier.Kind))
            {
                return ProtocolError.Validation("classifier.kind: moderation or chat");
            }
            if (classifier.TimeoutMs is < 1 or > 60_000)
            {
                return ProtocolError.Validation("classifier.timeoutMs: between 1 and 60000");
            }
        }
        return null;
    }

    private static bool Compiles(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
            return true;
        }
        catch (ArgumentException)
        {
            return false; // a pattern that does not parse is bad input, answered as a value
        }
    }
}
