using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Embargo.Protocol.Tests;

/// <summary>The safety case builder: one claim per threat model, each argued by the first supported kind, open claims saying what closes them.</summary>
public sealed class SafetyCaseTests
{
    private const string Bio = "bio-acquisition";
    private const string Phishing = "cyber-phishing";
    private const string Screens = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private const string OtherScreens = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    private static readonly string[] HostedKinds = [ConditionKinds.Base, ConditionKinds.ToolAugmented, ConditionKinds.Assisted];

    private static EvidenceVerdict V(string verdict) => verdict switch
    {
        "novel" => EvidenceVerdicts.Of(0.4, 0.001, 0.5, 0.05),
        "not-novel" => EvidenceVerdicts.Of(0.0, 0.6, 0.03, 0.05),
        _ => EvidenceVerdicts.Of(0.05, 0.3, 0.08, 0.05, counts: new RunCounts(25, 100, 20, 100)),
    };

    private static EvidenceFacts Run(string capability, string kind, string verdict = "not-novel", bool current = true, string id = "", string reference = "frontier-2") => new()
    {
        EvaluationId = id.Length > 0 ? id : $"evl_{capability}_{kind}_{verdict}", Capability = capability, Kind = kind,
        Condition = kind == ConditionKinds.Base ? null : kind, Independent = true, Current = current, Verdict = V(verdict),
        LogSha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"log of {capability} {kind} {verdict} {id}"))),
        ReferenceModel = current ? reference : "frontier-1",
    };

    private static List<EvidenceFacts> Covered(string capability, params string[] kinds) => kinds.Select(k => Run(capability, k)).ToList();

    private static CaseFacts Facts(IReadOnlyList<EvidenceFacts> evidence, IReadOnlyList<FindingFacts>? findings = null, SafetyCaseFacts? sc = null, Tier requested = Tier.Hosted) => new()
    {
        State = CaseState.Certification,
        RequestedTier = requested,
        ThreatModelCapabilities = [Phishing, Bio],
        EvaluatedCapabilities = [Phishing, Bio],
        Findings = findings ?? [],
        ActiveCaps = [],
        Evidence = evidence,
        Reference = new ReferenceFacts("frontier-2", 2, "frontier-2", 2),
        SafetyCase = sc ?? Scope(),
    };

    private static SafetyCaseFacts Scope(GatewayControlFacts? gateway = null, IReadOnlyList<IncidentFact>? incidents = null, IReadOnlyList<GranteeFact>? grantees = null) => new()
    {
        CaseId = "case_1",
        Model = "camelid-7b@1.0",
        ManifestDigest = "sha256:" + new string('a', 64),
        ThreatModels = [new ThreatModelFact("tm_phish", Phishing, ["org_mail"]), new ThreatModelFact("tm_bio", Bio, ["org_bio"])],
        Gateway = gateway ?? GatewayControlFacts.None,
        Incidents = incidents ?? [],
        Grantees = grantees ?? [],
        Names = new Dictionary<string, string> { ["org_mail"] = "Mailguard", ["org_bio"] = "SynthScreen", ["prn_t"] = "trusted-tester" },
    };

    private static SafetyCase Build(CaseFacts facts, Tier tier) => SafetyCases.Build(facts, facts.SafetyCase!, tier);

    private static SafetyClaim Claim(SafetyCase sc, string capability) => Assert.Single(sc.Claims, c => c.Capability == capability);

    [Fact]
    public void InabilityNeedsAnIndependentNotNovelRunUnderEveryConditionTheTierRequiresAndNamesTheMissingOne()
    {
        var evidence = Covered(Phishing, ConditionKinds.Base, ConditionKinds.ToolAugmented).Concat(Covered(Bio, HostedKinds)).ToList();
        var open = Build(Facts(evidence), Tier.Hosted);

        Assert.Equal(SafetyCases.Open, open.Status);
        var phishing = Claim(open, Phishing);
        Assert.Equal(SafetyCases.Open, phishing.Status);
        Assert.Equal(SafetyCases.Inability, phishing.Argument);
        Assert.Equal(["run cyber-phishing under the assisted condition"], phishing.Missing);
        var bio = Claim(open, Bio);
        Assert.Equal(SafetyCases.Supported, bio.Status);
        Assert.Equal(SafetyCases.Inability, bio.Argument);
        // Each leaf names the run and its log's digest.
        Assert.Equal(HostedKinds, bio.Evidence.Select(e => e.Condition));
        Assert.All(bio.Evidence, e => Assert.Equal("sha256:" + evidence.Single(r => r.EvaluationId == e.Ref).LogSha256, e.Digest));

        var supported = Build(Facts([.. evidence, Run(Phishing, ConditionKinds.Assisted)]), Tier.Hosted);
        Assert.Equal(SafetyCases.Supported, supported.Status);
        Assert.Equal("releasing camelid-7b@1.0 at hosted gives no significant novel uplift toward any threat model in scope", supported.Claim);
    }

    [Fact]
    public void DownloadableAsksForTheFineTunedConditionInPlainWords()
    {
        var evidence = Covered(Phishing, HostedKinds).Concat(Covered(Bio, [.. HostedKinds, ConditionKinds.FineTuned])).ToList();
        var sc = Build(Facts(evidence, requested: Tier.Downloadable), Tier.Downloadable);
        Assert.Equal(["run cyber-phishing under the fine-tuned condition"], Claim(sc, Phishing).Missing);
        Assert.True(Claim(sc, Bio).Supported);
    }

    [Fact]
    public void ANovelRunDefeatsInabilityAndTheClaimFallsToTheVerifiedMitigationsOfItsNovelFindings()
    {
        var evidence = Covered(Bio, HostedKinds);
        evidence.AddRange([Run(Phishing, ConditionKinds.Base, "novel"), Run(Phishing, ConditionKinds.ToolAugmented), Run(Phishing, ConditionKinds.Assisted)]);
        FindingFacts Finding(bool verified) => new()
        {
            Id = "fnd_phish", Capability = Phishing, Novel = true, RequiredRecipients = [], DisclosedTo = [],
            Mitigations = [new MitigationFacts { Id = "mit_mail", Party = "org_mail", Verified = verified, HasDeadline = true, VerificationEvaluationId = verified ? "evl_verify" : null, VerificationLogSha256 = verified ? new string('b', 64) : null }],
        };

        var open = Claim(Build(Facts(evidence, [Finding(false)]), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Open, open.Status);
        Assert.Equal(SafetyCases.Mitigation, open.Argument);
        Assert.Contains("Mailguard's mitigation mit_mail is not verified", open.Missing);

        var supported = Claim(Build(Facts(evidence, [Finding(true)]), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Supported, supported.Status);
        Assert.Equal(SafetyCases.Mitigation, supported.Argument);
        var leaf = Assert.Single(supported.Evidence);
        Assert.Equal(("mitigation", "mit_mail", "evl_verify", "sha256:" + new string('b', 64)), (leaf.Kind, leaf.Ref, leaf.Verification, leaf.Digest));
    }

    [Fact]
    public void ControlIsSupportedOnlyByANotNovelRunThroughTheGatewayWithTheVersionsCurrentScreens()
    {
        // The bare model is novel on phishing; the same task through the gateway with screens on is not.
        var evidence = Covered(Bio, HostedKinds);
        evidence.AddRange([Run(Phishing, ConditionKinds.Base, "novel"), Run(Phishing, ConditionKinds.ToolAugmented), Run(Phishing, ConditionKinds.Assisted)]);
        var gatewayRun = Run(Phishing, ConditionKinds.Base, "not-novel", id: "evl_through_gateway");
        evidence.Add(gatewayRun);
        GatewayControlFacts Gateway(string? current, string? runScreens) => new()
        {
            ScreensDigest = current,
            RunsThroughGateway = runScreens is null ? new Dictionary<string, string>() : new Dictionary<string, string> { [gatewayRun.EvaluationId] = runScreens },
        };

        var control = Claim(Build(Facts(evidence, sc: Scope(Gateway(Screens, Screens))), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Supported, control.Status);
        Assert.Equal(SafetyCases.Control, control.Argument);
        Assert.Equal(["evaluation", "screens"], control.Evidence.Select(e => e.Kind));
        Assert.Equal(gatewayRun.EvaluationId, control.Evidence[0].Ref);
        Assert.Equal(Screens, control.Evidence[1].Digest);

        // The same not-novel run, not through the gateway: no control.
        var bare = Claim(Build(Facts(evidence, sc: Scope(Gateway(Screens, null))), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Open, bare.Status);
        Assert.NotEqual(SafetyCases.Control, bare.Argument);
        // Through the gateway, but with screens other than the ones it enforces now: no control either.
        var otherScreens = Claim(Build(Facts(evidence, sc: Scope(Gateway(Screens, OtherScreens))), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Open, otherScreens.Status);
        Assert.NotEqual(SafetyCases.Control, otherScreens.Argument);
        Assert.Contains(otherScreens.Missing, m => m.Contains("argue control", StringComparison.Ordinal));
        // Control is no argument for weights users hold: at downloadable it is not tried.
        var downloadable = Claim(Build(Facts(evidence, sc: Scope(Gateway(Screens, Screens)), requested: Tier.Downloadable), Tier.Downloadable), Phishing);
        Assert.NotEqual(SafetyCases.Control, downloadable.Argument);
        Assert.Equal(SafetyCases.Open, downloadable.Status);
    }

    [Fact]
    public void ARunThroughTheGatewayShowingTheCapabilityNovelDefeatsControl()
    {
        var evidence = Covered(Bio, HostedKinds);
        evidence.AddRange([Run(Phishing, ConditionKinds.Base, "novel", id: "evl_novel_gw"), Run(Phishing, ConditionKinds.Base, "not-novel", id: "evl_clear_gw")]);
        var gateway = new GatewayControlFacts
        {
            ScreensDigest = Screens,
            RunsThroughGateway = new Dictionary<string, string> { ["evl_novel_gw"] = Screens, ["evl_clear_gw"] = Screens },
        };
        var claim = Claim(Build(Facts(evidence, sc: Scope(gateway)), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Open, claim.Status);
        Assert.NotEqual(SafetyCases.Control, claim.Argument);
    }

    [Fact]
    public void ReevaluationByAStrongerReferenceModelMarksExactlyTheClaimsWhoseEvidenceUsedTheWeakerOneStale()
    {
        // Bio was re-run with frontier-2; phishing's runs were made with frontier-1 before the case moved to frontier-2.
        var evidence = Covered(Bio, HostedKinds);
        evidence.AddRange(HostedKinds.Select(k => Run(Phishing, k, current: false)));
        var sc = Build(Facts(evidence), Tier.Hosted);

        var phishing = Claim(sc, Phishing);
        Assert.True(phishing.Stale);
        Assert.Equal(SafetyCases.Open, phishing.Status);
        Assert.Contains($"re-run cyber-phishing under the assisted condition with reference model frontier-2 (stronger than frontier-1 used by evaluation evl_{Phishing}_assisted_not-novel)", phishing.Missing);
        Assert.Equal(3, phishing.Missing.Count);
        var bio = Claim(sc, Bio);
        Assert.False(bio.Stale);
        Assert.Equal(SafetyCases.Supported, bio.Status);
    }

    [Fact]
    public void WhileAStrongerReferenceModelIsRegisteredEveryClaimIsStaleAndAVerifiedMitigationMustBeVerifiedAgain()
    {
        var evidence = Covered(Bio, HostedKinds);
        evidence.AddRange([Run(Phishing, ConditionKinds.Base, "novel"), Run(Phishing, ConditionKinds.ToolAugmented), Run(Phishing, ConditionKinds.Assisted)]);
        var finding = new FindingFacts
        {
            Id = "fnd_phish", Capability = Phishing, Novel = true, RequiredRecipients = [], DisclosedTo = [],
            Mitigations = [new MitigationFacts { Id = "mit_mail", Party = "org_mail", Verified = true, HasDeadline = true, VerificationEvaluationId = "evl_verify" }],
        };
        var facts = Facts(evidence, [finding]) with { Reference = new ReferenceFacts("frontier-2", 2, "frontier-3", 3) };
        var sc = Build(facts, Tier.Hosted);

        var phishing = Claim(sc, Phishing);
        Assert.Equal((SafetyCases.Open, true, SafetyCases.Mitigation), (phishing.Status, phishing.Stale, phishing.Argument));
        Assert.Contains("re-verify Mailguard's mitigation mit_mail with reference model frontier-3 (its verification run evl_verify used a weaker one)", phishing.Missing);
        var bio = Claim(sc, Bio);
        Assert.Equal((SafetyCases.Open, true), (bio.Status, bio.Stale));
        Assert.Contains($"re-run bio-acquisition under the base condition with reference model frontier-3 (stronger than frontier-2 used by evaluation evl_{Bio}_base_not-novel)", bio.Missing);
    }

    [Fact]
    public void AnAcceptedIncidentOnACapabilityChallengesItsClaimAndAReportedOneDoesNot()
    {
        var evidence = Covered(Phishing, HostedKinds).Concat(Covered(Bio, HostedKinds)).Select(e => e with { LedgerIndex = 5 }).ToList();
        var reported = Build(Facts(evidence, sc: Scope(incidents: [new IncidentFact { Id = "inc_1", Capability = Phishing, Status = "reported" }])), Tier.Hosted);
        Assert.Equal(SafetyCases.Supported, reported.Status);

        var accepted = Build(Facts(evidence, sc: Scope(incidents: [new IncidentFact { Id = "inc_1", Capability = Phishing, Status = "accepted", AcceptedIndex = 10 }])), Tier.Hosted);
        var phishing = Claim(accepted, Phishing);
        Assert.Equal(SafetyCases.Open, phishing.Status);
        Assert.Contains(phishing.Missing, m => m.Contains("inc_1", StringComparison.Ordinal));
        Assert.True(Claim(accepted, Bio).Supported);
    }

    [Fact]
    public void AClaimChallengedByAnAcceptedIncidentIsSupportedAgainOnlyByEvidenceRecordedAfterTheAcceptance()
    {
        var incident = Scope(incidents: [new IncidentFact { Id = "inc_1", Capability = Phishing, Status = "accepted", AcceptedIndex = 10 }]);
        var before = Covered(Phishing, HostedKinds).Concat(Covered(Bio, HostedKinds)).Select(e => e with { LedgerIndex = 5 }).ToList();
        Assert.Equal(SafetyCases.Open, Claim(Build(Facts(before, sc: incident), Tier.Hosted), Phishing).Status);

        // The same conditions re-run after the acceptance carry the claim again; the old runs still do not.
        var rerun = Covered(Phishing, HostedKinds).Select(e => e with { EvaluationId = e.EvaluationId + "_rerun", LedgerIndex = 12 }).ToList();
        var reargued = Claim(Build(Facts([.. before, .. rerun], sc: incident), Tier.Hosted), Phishing);
        Assert.Equal(SafetyCases.Supported, reargued.Status);
        var runs = reargued.Evidence.Where(l => l.Kind == "evaluation").ToList();
        Assert.NotEmpty(runs);
        Assert.All(runs, l => Assert.EndsWith("_rerun", l.Ref, StringComparison.Ordinal));

        // A novel run from before the acceptance still counts: evidence of danger is never discounted.
        var danger = before.Append(Run(Phishing, ConditionKinds.Base, "novel") with { LedgerIndex = 3 }).Concat(rerun).ToList();
        Assert.Equal(SafetyCases.Open, Claim(Build(Facts(danger, sc: incident), Tier.Hosted), Phishing).Status);
    }

    [Fact]
    public void AMitigationVerifiedBeforeAnAcceptedIncidentNoLongerCarriesTheClaimAndTheClaimSaysWhy()
    {
        var evidence = Covered(Bio, HostedKinds);
        evidence.AddRange([Run(Phishing, ConditionKinds.Base, "novel") with { LedgerIndex = 3 }, Run(Phishing, ConditionKinds.ToolAugmented), Run(Phishing, ConditionKinds.Assisted)]);
        FindingFacts Finding(long verifiedAt) => new()
        {
            Id = "fnd_phish", Capability = Phishing, Novel = true, RequiredRecipients = [], DisclosedTo = [],
            Mitigations = [new MitigationFacts { Id = "mit_mail", Party = "org_mail", Verified = true, HasDeadline = true, VerificationEvaluationId = "evl_verify", VerificationLogSha256 = new string('b', 64), VerificationLedgerIndex = verifiedAt }],
        };
        var incident = Scope(incidents: [new IncidentFact { Id = "inc_1", Capability = Phishing, Status = "accepted", AcceptedIndex = 10 }]);

        var discounted = Claim(Build(Facts(evidence, [Finding(verifiedAt: 7)], incident), Tier.Hosted), Phishing);
        Assert.Equal((SafetyCases.Open, SafetyCases.Mitigation), (discounted.Status, discounted.Argument));
        Assert.Contains("Mailguard's mitigation mit_mail was verified (evaluation evl_verify) before incident inc_1 was accepted: verify it again", discounted.Missing);
        Assert.DoesNotContain(discounted.Missing, m => m.EndsWith("is not verified", StringComparison.Ordinal));

        // Verified again after the acceptance: the same mitigation carries the claim.
        var reverified = Claim(Build(Facts(evidence, [Finding(verifiedAt: 12)], incident), Tier.Hosted), Phishing);
        Assert.Equal((SafetyCases.Supported, SafetyCases.Mitigation), (reverified.Status, reverified.Argument));
    }

    [Fact]
    public void AtStagedWithoutEvidenceTheClaimIsArguedByContainmentNamingTheGranteesAndTheirTerms()
    {
        var sc = Build(Facts([], sc: Scope(grantees: [new GranteeFact("prn_t", "gateway key (60 requests a minute)")]), requested: Tier.Staged), Tier.Staged);
        Assert.Equal(SafetyCases.Supported, sc.Status);
        var claim = Claim(sc, Phishing);
        Assert.Equal(SafetyCases.Containment, claim.Argument);
        var grantee = Assert.Single(claim.Evidence, e => e.Kind == "grantee");
        Assert.Equal("prn_t", grantee.Ref);
        Assert.Equal("trusted-tester: gateway key (60 requests a minute)", grantee.Text);
    }

    [Fact]
    public void WithoutAThreatModelInScopeTheTopClaimIsOpen()
    {
        var sc = SafetyCases.Build(Facts([]), Scope() with { ThreatModels = [] }, Tier.Hosted);
        Assert.Equal(SafetyCases.Open, sc.Status);
        Assert.Single(sc.Missing);
    }

    [Fact]
    public void TheExportIsCanonicalJsonAndItsDigestIsTheSha256OfThoseBytes()
    {
        var facts = Facts(Covered(Phishing, HostedKinds).Concat(Covered(Bio, HostedKinds)).ToList());
        var bytes = SafetyCases.Serialize(Build(facts, Tier.Hosted));
        Assert.Equal(bytes, SafetyCases.Serialize(Build(facts, Tier.Hosted)));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), SafetyCases.Digest(Build(facts, Tier.Hosted)).ToString());
        // Canonical: members sorted, no whitespace between tokens.
        Assert.Equal(CanonicalJson.Canonicalize(JsonNode.Parse(bytes)), bytes);
        var text = Encoding.UTF8.GetString(bytes);
        Assert.StartsWith("{\"argumentOrder\":[\"inability\",\"control\",\"containment\",\"mitigation\"],\"case\":\"case_1\",", text);
    }

    [Fact]
    public void CertificationIsRefusedByTheSafetyCaseAloneWhenEveryOtherRuleHoldsButANovelRunNoFindingRecordsLeavesAClaimOpen()
    {
        // Every other rule holds: the bio finding is not novel and covered; but a later tool-augmented bio run is novel.
        var evidence = Covered(Phishing, HostedKinds).Concat(Covered(Bio, HostedKinds)).ToList();
        evidence.Add(Run(Bio, ConditionKinds.ToolAugmented, "novel", id: "evl_bio_tools_novel"));
        var facts = Facts(evidence, [new FindingFacts { Id = "fnd_bio", Capability = Bio, Novel = false, RequiredRecipients = ["reg"], DisclosedTo = ["reg"], Mitigations = [] }]);

        var blocker = Assert.Single(Rules.CertificationBlockers(facts, Tier.Hosted));
        Assert.Equal(SafetyCases.Rule, blocker.Rule);
        Assert.Contains("claim G2 ('bio-acquisition', mitigation) is open", blocker.Message);
        Assert.Contains("evaluation evl_bio_tools_novel shows bio-acquisition novel but no novel finding records it", blocker.Message);
        // Not checked when the safety case's facts are not given (as rules 9 and 10 without evidence).
        Assert.Empty(Rules.CertificationBlockers(facts with { SafetyCase = null }, Tier.Hosted));
    }

    [Fact]
    public void TheDiagramIsWellFormedSvgWithGsnShapesEscapedTextAndOpenClaimsMarked()
    {
        var facts = Facts(Covered(Bio, HostedKinds)) with { ThreatModelCapabilities = ["<script>&\"x\"", Bio] };
        var scope = Scope() with { ThreatModels = [new ThreatModelFact("tm_x", "<script>&\"x\"", []), new ThreatModelFact("tm_bio", Bio, [])] };
        var sc = SafetyCases.Build(facts, scope, Tier.Hosted);
        var svg = SafetyCaseRendering.ToSvg(sc);

        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        Assert.Equal(3, doc.Descendants(ns + "rect").Count());
        Assert.Equal(2, doc.Descendants(ns + "polygon").Count(p => (string?)p.Attribute("class") == "strategy"));
        Assert.Equal(3, doc.Descendants(ns + "circle").Count(c => (string?)c.Attribute("class") == "solution"));
        // The open sub-claim and so the open top claim are drawn dashed; the supported one is not.
        Assert.Equal(2, doc.Descendants(ns + "rect").Count(r => (string?)r.Attribute("class") == "goal open" && r.Attribute("stroke-dasharray") is not null));
        Assert.DoesNotContain("<script>", svg, StringComparison.Ordinal);
        Assert.Contains(doc.Descendants(ns + "tspan"), t => t.Value.Contains("<script>", StringComparison.Ordinal));
        Assert.Contains(doc.Descendants(ns + "tspan"), t => t.Value.Contains("OPEN", StringComparison.Ordinal));

        var md = SafetyCaseRendering.ToMarkdown(sc);
        Assert.Contains("## G2 — bio-acquisition (supported)", md);
        Assert.Contains("- **missing:** run <script>&\"x\" under the base condition", md);
    }
}
