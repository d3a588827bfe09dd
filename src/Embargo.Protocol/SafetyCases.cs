using System.Text.Json.Serialization;

namespace Embargo.Protocol;

/// <summary>What a safety case needs beyond <see cref="CaseFacts"/>: who and what it names, the threat models in scope,
/// the grantees a containment argument rests on, the gateway's facts a control argument rests on, and incidents.</summary>
public sealed record SafetyCaseFacts
{
    public required string CaseId { get; init; }
    /// <summary>"model@version".</summary>
    public required string Model { get; init; }
    /// <summary>"sha256:…" of the version's weights manifest.</summary>
    public required string ManifestDigest { get; init; }
    public required IReadOnlyList<ThreatModelFact> ThreatModels { get; init; }
    /// <summary>Principals granted access to the version (weights or gateway keys), with their terms.</summary>
    public IReadOnlyList<GranteeFact> Grantees { get; init; } = [];
    public GatewayControlFacts Gateway { get; init; } = GatewayControlFacts.None;
    public IReadOnlyList<IncidentFact> Incidents { get; init; } = [];
    /// <summary>Display names of organisations and principals by id (a missing one is shown by its id).</summary>
    public IReadOnlyDictionary<string, string> Names { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>An accepted threat model: the subject of one sub-claim.</summary>
public sealed record ThreatModelFact(string Id, string Capability, IReadOnlyList<string> AffectedParties);

/// <summary>A principal holding access to the version, and on what terms (e.g. "gateway key: 60 requests a minute").</summary>
public sealed record GranteeFact(string Principal, string Terms);

/// <summary>The exported safety case: a top claim, one sub-claim per threat model, each argued one way, each leaf checkable.</summary>
public sealed record SafetyCase
{
    public const string SchemaId = "https://embargo.dev/safety-case/v1";
    public const string MediaType = "application/vnd.embargo.safety-case+json";

    [JsonPropertyName("schema")] public required string Schema { get; init; }
    [JsonPropertyName("case")] public required string Case { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("manifestDigest")] public required string ManifestDigest { get; init; }
    [JsonPropertyName("tier")] public required string Tier { get; init; }
    [JsonPropertyName("referenceModel")] public required string ReferenceModel { get; init; }
    /// <summary>supported or open.</summary>
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("claim")] public required string Claim { get; init; }
    /// <summary>The order in which argument kinds are tried for each threat model; the first supported one carries the claim.</summary>
    [JsonPropertyName("argumentOrder")] public required IReadOnlyList<string> ArgumentOrder { get; init; }
    [JsonPropertyName("claims")] public required IReadOnlyList<SafetyClaim> Claims { get; init; }
    /// <summary>What keeps the top claim open beyond its sub-claims (no threat model in scope).</summary>
    [JsonPropertyName("missing")] public required IReadOnlyList<string> Missing { get; init; }

    [JsonIgnore] public bool Supported => Status == SafetyCases.Supported;
}

/// <summary>One threat model's sub-claim.</summary>
public sealed record SafetyClaim
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("threatModel")] public required string ThreatModel { get; init; }
    [JsonPropertyName("capability")] public required string Capability { get; init; }
    [JsonPropertyName("claim")] public required string Claim { get; init; }
    /// <summary>supported or open.</summary>
    [JsonPropertyName("status")] public required string Status { get; init; }
    /// <summary>inability, control, containment or mitigation: the kind that supports it, or (open) the kind the missing evidence would complete.</summary>
    [JsonPropertyName("argument")] public required string Argument { get; init; }
    [JsonPropertyName("strategy")] public required string Strategy { get; init; }
    /// <summary>Its evidence rests on a run made with a reference model weaker than the strongest registered (rule 5).</summary>
    [JsonPropertyName("stale")] public required bool Stale { get; init; }
    [JsonPropertyName("evidence")] public required IReadOnlyList<EvidenceLeaf> Evidence { get; init; }
    /// <summary>What would close an open claim, one sentence each; empty when supported.</summary>
    [JsonPropertyName("missing")] public required IReadOnlyList<string> Missing { get; init; }

    [JsonIgnore] public bool Supported => Status == SafetyCases.Supported;
}

/// <summary>A leaf: evidence the server can check (an evaluation run and its log, a screen configuration, a grantee, a mitigation and its verification run).</summary>
public sealed record EvidenceLeaf
{
    /// <summary>evaluation, screens, grantee, mitigation or tier.</summary>
    [JsonPropertyName("kind")] public required string Kind { get; init; }
    /// <summary>The id of what it names (evaluation, mitigation, principal; the tier for kind tier; the digest for screens).</summary>
    [JsonPropertyName("ref")] public required string Ref { get; init; }
    [JsonPropertyName("text")] public required string Text { get; init; }
    [JsonPropertyName("condition"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Condition { get; init; }
    [JsonPropertyName("verdict"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Verdict { get; init; }
    /// <summary>"sha256:…": a run's log, or the screen configuration.</summary>
    [JsonPropertyName("digest"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Digest { get; init; }
    [JsonPropertyName("referenceModel"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? ReferenceModel { get; init; }
    /// <summary>For a mitigation: the evaluation that verified it.</summary>
    [JsonPropertyName("verification"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Verification { get; init; }
}

/// <summary>
/// The safety case of a case at a tier, built from its facts (pure). Each threat model's claim is argued by the first
/// kind of <see cref="Order"/> its evidence supports:
/// <list type="number">
/// <item><b>inability</b>: no current run shows the capability novel, and an independent evaluator's current run under
/// every condition the tier needs (rule 10; tiers below hosted: at least base) shows it not novel;</item>
/// <item><b>control</b> (hosted, api): an independent evaluator's current not-novel run through the server's gateway with
/// the version's current screen configuration on, and no run through it showing the capability novel;</item>
/// <item><b>containment</b> (closed, internal, staged): the model is reachable only by the developer and the named grantees;</item>
/// <item><b>mitigation</b>: every novel finding on the capability has mitigations, each verified by a current run.</item>
/// </list>
/// Inability is tried first because it depends on nobody's continued conduct; control next (the gateway must keep its
/// screens); containment (the grantees must keep their terms); mitigation last (it rests on the affected parties).
/// A claim is open when no kind is supported, when its evidence is stale (rule 5), or when an accepted incident on its
/// capability challenges it; an open claim says what would close it. Absence of evidence is never evidence of absence.
/// </summary>
public static class SafetyCases
{
    public const string Supported = "supported";
    public const string Open = "open";
    public const string Rule = "safety-case";

    public const string Inability = "inability";
    public const string Control = "control";
    public const string Containment = "containment";
    public const string Mitigation = "mitigation";

    public static readonly IReadOnlyList<string> Order = [Inability, Control, Containment, Mitigation];

    public static SafetyCase Build(CaseFacts facts, SafetyCaseFacts sc, Tier tier)
    {
        var evidence = facts.Evidence ?? [];
        var reference = facts.Reference;
        var claims = new List<SafetyClaim>();
        var index = 0;
        foreach (var threat in sc.ThreatModels)
        {
            index++;
            claims.Add(ClaimFor($"G{index}", threat, facts, sc, evidence, tier, reference));
        }
        var missing = sc.ThreatModels.Count == 0 ? new List<string> { "no threat model is in scope: accept at least one threat model before anything can be argued" } : [];
        var supported = missing.Count == 0 && claims.All(c => c.Supported);
        return new SafetyCase
        {
            Schema = SafetyCase.SchemaId,
            Case = sc.CaseId,
            Model = sc.Model,
            ManifestDigest = sc.ManifestDigest,
            Tier = tier.Name(),
            ReferenceModel = reference?.Name ?? "",
            Status = supported ? Supported : Open,
            Claim = $"releasing {sc.Model} at {tier.Name()} gives no significant novel uplift toward any threat model in scope",
            ArgumentOrder = Order,
            Claims = claims,
            Missing = missing,
        };
    }

    /// <summary>The exact bytes exported and digested: canonical JSON (members sorted, no whitespace, no trailing newline).</summary>
    public static byte[] Serialize(SafetyCase safetyCase) => CanonicalJson.Serialize(safetyCase);

    public static Sha256Digest Digest(SafetyCase safetyCase) => Sha256Digest.Of(Serialize(safetyCase));

    /// <summary>One refusal per open claim (and for an empty scope), naming the claim and what would close it.</summary>
    public static IReadOnlyList<ProtocolError> Refusals(SafetyCase safetyCase)
    {
        var refusals = safetyCase.Missing.Select(m => ProtocolError.Violation(Rule, $"the safety case for {safetyCase.Tier} is open: {m}")).ToList();
        refusals.AddRange(safetyCase.Claims.Where(c => !c.Supported).Select(c => ProtocolError.Violation(Rule,
            $"claim {c.Id} ('{c.Capability}', {c.Argument}) is open{(c.Stale ? " (stale evidence)" : "")}: {string.Join("; ", c.Missing)}")));
        return refusals;
    }

    private sealed record Attempt(string Kind, bool Ok, string Strategy, List<EvidenceLeaf> Leaves, List<string> Missing, bool Stale = false);

    private static SafetyClaim ClaimFor(string id, ThreatModelFact threat, CaseFacts facts, SafetyCaseFacts sc, IReadOnlyList<EvidenceFacts> evidence, Tier tier, ReferenceFacts? reference)
    {
        var cap = threat.Capability;
        var novelRun = evidence.FirstOrDefault(e => e.Capability == cap && e.Current && e.Verdict.IsNovel);
        // An accepted incident on the capability: evidence of safety recorded before its acceptance no longer carries the
        // claim (evidence of danger always does); the claim is re-argued with evidence recorded since.
        var challenges = sc.Incidents.Where(i => i.Capability == cap && i.Status == IncidentStatus.Accepted).ToList();
        var latest = challenges.MaxBy(i => i.AcceptedIndex ?? long.MaxValue);
        var challengedAt = latest is null ? -1 : latest.AcceptedIndex ?? long.MaxValue;
        bool Since(long? index) => index is not { } at || at == 0 || at > challengedAt;
        var runs = evidence.Where(e => e.Capability == cap && (e.Verdict.IsNovel || Since(e.LedgerIndex))).ToList();
        var novelFindings = facts.Findings.Where(f => f.Capability == cap && f.Novel)
            .Select(f => f with
            {
                Mitigations = f.Mitigations.Select(m => Since(m.VerificationLedgerIndex) ? m
                    : m with { Verified = false, DiscountedByIncident = m.Verified ? latest?.Id : null }).ToList(),
            })
            .ToList();
        var attempts = new List<Attempt> { InabilityOf(cap, runs, novelRun, tier, reference) };
        if (tier is Tier.Hosted or Tier.Api)
        {
            attempts.Add(ControlOf(cap, runs, sc.Gateway, reference));
        }
        if (tier <= Tier.Staged)
        {
            attempts.Add(ContainmentOf(sc, tier));
        }
        attempts.Add(MitigationOf(cap, novelRun, novelFindings, sc, reference));

        var chosen = attempts.FirstOrDefault(a => a.Ok)
            // Open: show the argument the evidence points to — mitigation once the capability is shown novel, else inability.
            ?? (novelRun is not null || novelFindings.Count > 0 ? attempts[^1] : attempts[0]);
        var missing = new List<string>(chosen.Ok ? [] : chosen.Missing);
        // Rule 5: an open claim is stale when any argument it could rest on lost evidence to a stronger reference model;
        // it says what to re-run even when another argument is the one shown.
        var staleLines = chosen.Ok ? [] : attempts.Where(a => !a.Ok && a.Stale)
            .SelectMany(a => a.Missing.Where(m => m.StartsWith("re-run ", StringComparison.Ordinal) || m.StartsWith("re-verify ", StringComparison.Ordinal))).ToList();
        missing.AddRange(staleLines.Where(l => !missing.Contains(l)));
        if (!chosen.Ok && chosen.Kind != Control && tier is Tier.Hosted or Tier.Api && novelRun is not null)
        {
            missing.Add($"or argue control: a not-novel run of {cap} through the server's gateway with the version's screens on");
        }
        if (!chosen.Ok)
        {
            foreach (var incident in challenges)
            {
                missing.Add($"accepted incident {incident.Id} on {cap} challenges this claim: evidence recorded before its acceptance no longer carries it; re-argue it with new evidence and re-certify");
            }
        }
        var ok = chosen.Ok && missing.Count == 0;
        return new SafetyClaim
        {
            Id = id,
            ThreatModel = threat.Id,
            Capability = cap,
            Claim = $"releasing {sc.Model} at {tier.Name()} gives no significant novel uplift toward {cap}",
            Status = ok ? Supported : Open,
            Argument = chosen.Kind,
            Strategy = chosen.Strategy,
            Stale = !ok && staleLines.Count > 0,
            Evidence = chosen.Leaves,
            Missing = missing,
        };
    }

    /// <summary>Rule 5: a run made with a reference model other than the case's current one, or while a stronger one is registered.</summary>
    private static bool IsStale(EvidenceFacts e, ReferenceFacts? reference) => !e.Current || reference is { Weaker: true };

    private static string Rerun(string cap, string kind, EvidenceFacts stale, ReferenceFacts? reference) =>
        $"re-run {cap} under the {kind} condition with reference model {Strongest(reference)} (stronger than {stale.ReferenceModel ?? reference?.Name ?? "the one"} used by evaluation {stale.EvaluationId})";

    private static string Strongest(ReferenceFacts? reference) =>
        reference is null ? "the strongest registered" : reference.Weaker ? reference.StrongestName : reference.Name;

    private static Attempt InabilityOf(string cap, IReadOnlyList<EvidenceFacts> runs, EvidenceFacts? novelRun, Tier tier, ReferenceFacts? reference)
    {
        var required = ConditionKinds.RequiredFor(tier) is { Count: > 0 } r ? r : [ConditionKinds.Base];
        var leaves = new List<EvidenceLeaf>();
        var missing = new List<string>();
        var stale = false;
        if (novelRun is not null)
        {
            missing.Add($"evaluation {novelRun.EvaluationId} ({novelRun.Kind}) shows {cap} novel: {novelRun.Verdict.Reason}");
        }
        foreach (var kind in required)
        {
            var under = runs.Where(e => e.Kind == kind).ToList();
            if (under.LastOrDefault(e => e.Independent && !IsStale(e, reference) && e.Verdict.IsNotNovel) is { } clear)
            {
                leaves.Add(Leaf(clear));
                continue;
            }
            if (under.LastOrDefault(e => e.Independent && IsStale(e, reference)) is { } old)
            {
                stale = true;
                missing.Add(Rerun(cap, kind, old, reference));
            }
            else if (under.LastOrDefault(e => e.Independent && !IsStale(e, reference) && e.Verdict.IsInconclusive) is { } undecided)
            {
                missing.Add($"evaluation {undecided.EvaluationId} of {cap} under the {kind} condition is inconclusive ({undecided.Verdict.Reason}): only a not-novel run clears it");
            }
            else if (under.Any(e => !e.Independent))
            {
                missing.Add($"run {cap} under the {kind} condition by an independent evaluator (only the developer's side ran it)");
            }
            else
            {
                missing.Add($"run {cap} under the {kind} condition");
            }
        }
        return new Attempt(Inability, missing.Count == 0,
            $"argue inability: independent runs under every condition {tier.Name()} needs ({string.Join(", ", required)}) show {cap} not novel", leaves, missing, stale && novelRun is null);
    }

    private static Attempt ControlOf(string cap, IReadOnlyList<EvidenceFacts> runs, GatewayControlFacts gateway, ReferenceFacts? reference)
    {
        var strategy = $"argue control: the version is served only through the server's gateway, whose screens stop {cap} (a run through it is not novel)";
        var missing = new List<string>();
        if (gateway.ScreensDigest is not { } screens)
        {
            missing.Add($"the version has no gateway screens: attach screens and run {cap} through the gateway with them on");
            return new Attempt(Control, false, strategy, [], missing);
        }
        var through = runs.Where(e => gateway.RunsThroughGateway.TryGetValue(e.EvaluationId, out var d) && d == screens).ToList();
        if (through.FirstOrDefault(e => e.Current && e.Verdict.IsNovel) is { } novel)
        {
            missing.Add($"evaluation {novel.EvaluationId} through the gateway with its current screens shows {cap} novel");
        }
        var clear = through.LastOrDefault(e => e.Independent && !IsStale(e, reference) && e.Verdict.IsNotNovel);
        if (clear is null)
        {
            missing.Add($"run {cap} through the server's gateway with the version's current screens ({screens}) on, by an independent evaluator, and come out not novel");
        }
        var leaves = clear is null ? new List<EvidenceLeaf>() : [Leaf(clear), new EvidenceLeaf
        {
            Kind = "screens", Ref = screens, Text = "the screen configuration the gateway enforces for the version",
            Digest = Sha256Digest.Parse(screens) is { IsOk: true } parsed ? parsed.Value.ToString() : screens,
        }];
        return new Attempt(Control, missing.Count == 0, strategy, leaves, missing);
    }

    private static Attempt ContainmentOf(SafetyCaseFacts sc, Tier tier)
    {
        var leaves = new List<EvidenceLeaf>
        {
            new() { Kind = "tier", Ref = tier.Name(), Text = tier == Tier.Staged
                ? "at staged the version reaches only the developer's organisation and the named trusted grantees"
                : $"at {tier.Name()} the version runs only inside the developer's organisation" },
        };
        if (tier == Tier.Staged)
        {
            leaves.AddRange(sc.Grantees.Select(g => new EvidenceLeaf { Kind = "grantee", Ref = g.Principal, Text = $"{Name(sc, g.Principal)}: {g.Terms}" }));
        }
        return new Attempt(Containment, true, "argue containment: the version runs only where misuse cannot succeed (named parties under terms)", leaves, []);
    }

    private static Attempt MitigationOf(string cap, EvidenceFacts? novelRun, IReadOnlyList<FindingFacts> novelFindings, SafetyCaseFacts sc, ReferenceFacts? reference)
    {
        var strategy = $"argue mitigation: the affected parties made society robust to {cap} (each mitigation verified by a run against the mitigated system)";
        var leaves = new List<EvidenceLeaf>();
        var missing = new List<string>();
        var stale = false;
        if (novelFindings.Count == 0)
        {
            missing.Add(novelRun is not null
                ? $"evaluation {novelRun.EvaluationId} shows {cap} novel but no novel finding records it: record the finding, disclose it and have its mitigations verified"
                : $"no novel finding on {cap} to mitigate");
            return new Attempt(Mitigation, false, strategy, leaves, missing);
        }
        foreach (var finding in novelFindings)
        {
            if (finding.Mitigations.Count == 0)
            {
                missing.Add($"finding {finding.Id} ({cap}) has no mitigation: disclose it to the affected parties and have their mitigations verified");
            }
            foreach (var m in finding.Mitigations)
            {
                var party = Name(sc, m.Party);
                if (m.DiscountedByIncident is { } incident)
                {
                    missing.Add($"{party}'s mitigation {m.Id} was verified (evaluation {m.VerificationEvaluationId}) before incident {incident} was accepted: verify it again");
                }
                else if (!m.Verified)
                {
                    missing.Add($"{party}'s mitigation {m.Id} is not verified");
                }
                else if (m.VerificationEvaluationId is not { } run)
                {
                    missing.Add($"{party}'s mitigation {m.Id} has no verification run");
                }
                else if (!m.VerificationCurrent || reference is { Weaker: true })
                {
                    stale = true;
                    missing.Add($"re-verify {party}'s mitigation {m.Id} with reference model {Strongest(reference)} (its verification run {run} used a weaker one)");
                }
                else
                {
                    leaves.Add(new EvidenceLeaf
                    {
                        Kind = "mitigation", Ref = m.Id, Text = $"{party}'s mitigation of finding {finding.Id}, verified by evaluation {run}",
                        Verification = run, Digest = m.VerificationLogSha256 is { } log ? "sha256:" + log : null,
                    });
                }
            }
        }
        return new Attempt(Mitigation, missing.Count == 0, strategy, leaves, missing, stale);
    }

    private static EvidenceLeaf Leaf(EvidenceFacts e) => new()
    {
        Kind = "evaluation", Ref = e.EvaluationId, Text = $"{e.Capability} under the {e.Kind} condition: {e.Verdict.Verdict}",
        Condition = e.Kind, Verdict = e.Verdict.Verdict, Digest = e.LogSha256 is { } log ? "sha256:" + log : null, ReferenceModel = e.ReferenceModel,
    };

    private static string Name(SafetyCaseFacts sc, string id) => sc.Names.TryGetValue(id, out var name) ? name : id;
}
