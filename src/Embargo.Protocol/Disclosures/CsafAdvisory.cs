using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Embargo.Protocol.Disclosures;

/// <summary>What a public CSAF advisory says about one disclosed finding: only public facts (never sealed detail).</summary>
public sealed record CsafFacts
{
    public required string DisclosureId { get; init; }
    public required string AdvisoryTitle { get; init; }
    public required string AdvisorySummary { get; init; }
    public required DateTimeOffset DisclosedAt { get; init; }
    /// <summary>The issuer: the case's regulator (a coordinator in CSAF's terms).</summary>
    public required string PublisherName { get; init; }
    /// <summary>A URL under the issuer's control (the server's public address unless configured).</summary>
    public required string PublisherNamespace { get; init; }
    /// <summary>Where this document is served (a <c>self</c> reference), or null.</summary>
    public string? SelfUrl { get; init; }
    public required string CaseId { get; init; }
    public required string DeveloperName { get; init; }
    public required string ModelName { get; init; }
    public required string VersionId { get; init; }
    public required string VersionLabel { get; init; }
    /// <summary>"sha256:…" of the weights manifest: the version's identity.</summary>
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<(string Path, string Sha256)> Files { get; init; }
    public required CsafFinding Finding { get; init; }
    public required IReadOnlyList<CsafMitigation> Mitigations { get; init; }
    /// <summary>Revisions after the first (the first is the disclosure itself), in number order.</summary>
    public required IReadOnlyList<CsafRevision> Revisions { get; init; }
}

/// <summary>The finding as the advisory shows it: its measured figures and verdict, no reproduction detail.</summary>
public sealed record CsafFinding
{
    public required string Id { get; init; }
    public required string Title { get; init; }
    public required string Capability { get; init; }
    public required bool Novel { get; init; }
    public required DateTimeOffset RecordedAt { get; init; }
    public string? CapTier { get; init; }
    public required string Verdict { get; init; }
    public required double Margin { get; init; }
    public required int Samples { get; init; }
    public required double SubjectAccuracy { get; init; }
    public double? BaselineAccuracy { get; init; }
    public double? Uplift { get; init; }
    public double? UpliftLow { get; init; }
    public double? UpliftHigh { get; init; }
    public double? UpliftUpper { get; init; }
    public double? P { get; init; }
    public string? Test { get; init; }
}

/// <summary>An affected party's mitigation: its status (required, reported, verified) and when it was reported.</summary>
public sealed record CsafMitigation(string Id, string PartyName, string Status, DateTimeOffset? ReportedAt, DateTimeOffset? VerifiedAt);

/// <summary>A change to the advisory after its first release (a mitigation reported or verified, the finding found novel).</summary>
public sealed record CsafRevision(int Number, DateTimeOffset Date, string Summary);

/// <summary>
/// The public CSAF 2.0 <c>csaf_security_advisory</c> of a disclosure: the model version is the product (its manifest
/// digest a sha256 file hash), the finding the vulnerability, the affected parties' mitigations its remediations,
/// one revision per state change. Pure and deterministic: the same facts give the same bytes.
/// </summary>
public static class CsafAdvisory
{
    // Readable text (quotes, apostrophes, non-ASCII as themselves): the document is a JSON file served as
    // application/json with nosniff, never embedded in HTML, so the HTML-safe escaping of the default encoder buys nothing.
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Date(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string F(double? value, string format = "0.000") => value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";

    public static byte[] Render(CsafFacts facts) => Encoding.UTF8.GetBytes(Build(facts).ToJsonString(Options) + "\n");

    public static JsonObject Build(CsafFacts facts)
    {
        var productId = facts.VersionId;
        var finding = facts.Finding;
        var revisions = new List<CsafRevision> { new(1, facts.DisclosedAt, "Initial release: the finding is disclosed; its detail went sealed to the regulator and the affected parties.") };
        revisions.AddRange(facts.Revisions);
        var latest = revisions[^1];

        var hashes = new JsonArray
        {
            new JsonObject
            {
                ["file_hashes"] = new JsonArray { new JsonObject { ["algorithm"] = "sha256", ["value"] = Hex(facts.ManifestDigest) } },
                ["filename"] = "manifest digest (SHA-256 of the weights' canonical sha256sum listing: the model version's identity)",
            },
        };
        foreach (var (path, sha256) in facts.Files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            hashes.Add(new JsonObject
            {
                ["file_hashes"] = new JsonArray { new JsonObject { ["algorithm"] = "sha256", ["value"] = Hex(sha256) } },
                ["filename"] = path,
            });
        }

        var document = new JsonObject
        {
            ["category"] = "csaf_security_advisory",
            ["csaf_version"] = "2.0",
            ["distribution"] = new JsonObject
            {
                ["text"] = "TLP:CLEAR. Public: may be shared without restriction (CSAF 2.0 spells TLP:CLEAR as WHITE). Reproduction detail is never part of it.",
                ["tlp"] = new JsonObject { ["label"] = "WHITE", ["url"] = "https://www.first.org/tlp/" },
            },
            ["lang"] = "en",
            ["notes"] = new JsonArray
            {
                new JsonObject { ["category"] = "summary", ["text"] = facts.AdvisorySummary, ["title"] = "Summary" },
                new JsonObject
                {
                    ["category"] = "general",
                    ["text"] = $"Issued through Embargo for case {facts.CaseId}: {facts.DeveloperName}'s model {facts.ModelName} {facts.VersionLabel} is the product, the finding the vulnerability, "
                               + "the affected parties' mitigations its remediations. The private reproduction detail was sealed to the regulator and each affected party and is not published.",
                    ["title"] = "About this advisory",
                },
            },
            ["publisher"] = new JsonObject
            {
                ["category"] = "coordinator",
                ["issuing_authority"] = "The regulator of the case: it receives every disclosure and sets the mitigation deadlines.",
                ["name"] = facts.PublisherName,
                ["namespace"] = facts.PublisherNamespace,
            },
        };
        if (facts.SelfUrl is { } self)
        {
            document["references"] = new JsonArray { new JsonObject { ["category"] = "self", ["summary"] = "This advisory (CSAF 2.0)", ["url"] = self } };
        }
        document["title"] = facts.AdvisoryTitle;
        document["tracking"] = new JsonObject
        {
            ["current_release_date"] = Date(latest.Date),
            ["generator"] = new JsonObject { ["engine"] = new JsonObject { ["name"] = "Embargo" } },
            ["id"] = facts.DisclosureId,
            ["initial_release_date"] = Date(facts.DisclosedAt),
            ["revision_history"] = new JsonArray(revisions.Select(r => (JsonNode?)new JsonObject
            {
                ["date"] = Date(r.Date), ["number"] = r.Number.ToString(CultureInfo.InvariantCulture), ["summary"] = r.Summary,
            }).ToArray()),
            ["status"] = "final",
            ["version"] = latest.Number.ToString(CultureInfo.InvariantCulture),
        };

        var productTree = new JsonObject
        {
            ["branches"] = new JsonArray
            {
                new JsonObject
                {
                    ["branches"] = new JsonArray
                    {
                        new JsonObject
                        {
                            ["branches"] = new JsonArray
                            {
                                new JsonObject
                                {
                                    ["category"] = "product_version",
                                    ["name"] = facts.VersionLabel,
                                    ["product"] = new JsonObject
                                    {
                                        ["name"] = $"{facts.ModelName} {facts.VersionLabel}",
                                        ["product_id"] = productId,
                                        ["product_identification_helper"] = new JsonObject { ["hashes"] = hashes },
                                    },
                                },
                            },
                            ["category"] = "product_name",
                            ["name"] = facts.ModelName,
                        },
                    },
                    ["category"] = "vendor",
                    ["name"] = facts.DeveloperName,
                },
            },
        };

        var figures = $"Subject accuracy {F(finding.SubjectAccuracy)}, baseline {F(finding.BaselineAccuracy)} over {finding.Samples} samples; "
                      + $"uplift {F(finding.Uplift)} (95% interval {F(finding.UpliftLow)} to {F(finding.UpliftHigh)}), one-sided upper bound {F(finding.UpliftUpper)}, "
                      + $"p = {F(finding.P, "0.###E+0")}{(finding.Test is null ? "" : $" ({finding.Test})")}; margin δ = {F(finding.Margin)}. Verdict: {finding.Verdict}.";
        var vulnerability = new JsonObject
        {
            ["discovery_date"] = Date(finding.RecordedAt),
            ["ids"] = new JsonArray { new JsonObject { ["system_name"] = "Embargo finding", ["text"] = finding.Id } },
            ["notes"] = new JsonArray
            {
                new JsonObject
                {
                    ["category"] = "description",
                    ["text"] = finding.Novel
                        ? $"The model gives significant novel uplift toward the capability '{finding.Capability}' over what a person already has."
                        : $"The model was evaluated for the capability '{finding.Capability}' and gives no novel uplift that matters (below the margin).",
                    ["title"] = "Capability",
                },
                new JsonObject { ["category"] = "details", ["text"] = figures, ["title"] = "Measured uplift" },
            },
            ["product_status"] = finding.Novel
                ? new JsonObject { ["known_affected"] = new JsonArray { productId } }
                : new JsonObject { ["known_not_affected"] = new JsonArray { productId } },
            ["release_date"] = Date(facts.DisclosedAt),
        };
        var remediations = new JsonArray();
        foreach (var m in facts.Mitigations)
        {
            var remediation = new JsonObject
            {
                ["category"] = "mitigation",
                ["details"] = m.Status switch
                {
                    "verified" => $"{m.PartyName} mitigated this capability; the mitigation ({m.Id}) is verified: the finding's evaluation re-run against the mitigated system shows no novel uplift.",
                    "reported" => $"{m.PartyName} reported a mitigation ({m.Id}); it awaits verification by re-running the finding's evaluation.",
                    _ => $"{m.PartyName} must mitigate this capability ({m.Id}, status {m.Status}) under a deadline the regulator sets.",
                },
                ["product_ids"] = new JsonArray { productId },
            };
            if (m.ReportedAt is { } reported)
            {
                remediation["date"] = Date(m.VerifiedAt ?? reported);
            }
            remediations.Add(remediation);
        }
        if (remediations.Count > 0)
        {
            vulnerability["remediations"] = remediations;
        }
        vulnerability["threats"] = new JsonArray
        {
            new JsonObject
            {
                ["category"] = "impact",
                ["details"] = finding.Novel
                    ? $"Novel uplift toward '{finding.Capability}'{(finding.CapTier is null ? "" : $"; the model version's tier is capped at {finding.CapTier} until mitigated")}."
                    : $"No novel uplift toward '{finding.Capability}'.",
                ["product_ids"] = new JsonArray { productId },
            },
        };
        vulnerability["title"] = finding.Title;

        return new JsonObject
        {
            ["document"] = document,
            ["product_tree"] = productTree,
            ["vulnerabilities"] = new JsonArray { vulnerability },
        };
    }

    /// <summary>The hex part of "sha256:…" (or a bare hex string), lower case.</summary>
    private static string Hex(string digest) =>
        (digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest["sha256:".Length..] : digest).ToLowerInvariant();
}
