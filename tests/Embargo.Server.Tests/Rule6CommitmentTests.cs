using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 6: if-then commitments are evaluated on every new result and gate tier changes.</summary>
public sealed class Rule6CommitmentTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Commitment = "uplift(\"cyber-phishing\") >= 0.10 and p(\"cyber-phishing\") < 0.05 => max_tier(staged)";

    private EmbargoHost Host => fixture.Host;

    private static Task<CommitmentDto> Commit(ProtocolWorld w, string expression) =>
        w.Developer.Cases.AddCommitmentAsync(w.CaseId, new AddCommitmentRequest { Expression = expression }, default);

    [Fact]
    public async Task ACommitmentThatFiresCapsTheTierUntilItsMitigationIsVerified()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "hosted");
        await w.DriveToAsync(Milestone.Testing);
        await Commit(w, Commitment);

        var size = await LedgerSizeAsync(Host);
        var evaluation = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing));
        var fired = Assert.Single(evaluation.FiredFindings);
        Assert.Equal("staged", fired.CapTier);
        Assert.Equal(ProtocolWorld.Phishing, fired.Capability);
        Assert.Equal("commitment", fired.Source);
        Assert.True(fired.Novel);
        Assert.Equal(["evaluation.recorded", "commitment.fired"], (await LeavesAsync(Host, size)).Select(l => l.Type));

        var blockers = (await w.CaseAsync()).Blockers;
        Assert.Contains(blockers, b => b.StartsWith("rule-6", StringComparison.Ordinal) && b.Contains(fired.Id));

        // The commitment's finding is the case's phishing finding; the rest of the case proceeds as usual.
        await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        await w.CoverAsync();
        await w.AdvanceAsync("reflection");
        await w.Evaluator.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.BioThreat!.Id, EvaluationId = (await w.CaseAsync()).Evaluations.Single(e => e.Capability == ProtocolWorld.Bio && e.SubjectCondition is null).Id, Title = "No bio uplift",
        }, default);
        await w.AdvanceAsync("disclosure");
        var disclosure = await w.Evaluator.Disclosures.DiscloseAsync(fired.Id, w.DiscloseBodyFor(fired.Id, ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg), default);
        var bioFinding = (await w.CaseAsync()).Findings.Single(f => f.Capability == ProtocolWorld.Bio);
        await w.Evaluator.Disclosures.DiscloseAsync(bioFinding.Id, w.DiscloseBodyFor(bioFinding.Id, ProtocolWorld.Bio, w.RegulatorOrg, w.BioOrg), default);
        var mitigation = disclosure.Mitigations.Single();
        await w.MailParty.Mitigations.ReportAsync(mitigation.Id, new ReportMitigationRequest { Description = "Inbound lure screening deployed" }, default);

        Assert.Contains((await w.CaseAsync()).Blockers, b => b.StartsWith("rule-6", StringComparison.Ordinal));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));

        var rerun = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, mitigation.Id));
        Assert.Empty(rerun.FiredFindings);
        await w.Evaluator.Mitigations.VerifyAsync(mitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default);
        Assert.Empty((await w.CaseAsync()).Blockers);
        Assert.Equal("certification", (await w.AdvanceAsync("certification")).State);
    }

    [Fact]
    public async Task ACommitmentThatDoesNotFireCreatesNoFinding()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        await Commit(w, Commitment);
        var evaluation = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing));
        Assert.Empty(evaluation.FiredFindings);
        var c = await w.CaseAsync();
        Assert.Empty(c.Findings);
        Assert.DoesNotContain(c.Blockers, b => b.StartsWith("rule-6", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ACommitmentCapBelowTheRequestedTierBlocksCertificationAtThatTier()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "api");
        await w.DriveToAsync(Milestone.Testing);
        await Commit(w, "uplift(\"bio-acquisition\") >= 0.0 => max_tier(hosted)");
        var evaluation = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        var fired = Assert.Single(evaluation.FiredFindings);
        Assert.Equal("hosted", fired.CapTier);
        // The case's blockers are what stops a certificate at the requested tier (api): the cap names itself.
        var blocker = Assert.Single((await w.CaseAsync()).Blockers, b => b.StartsWith("rule-6", StringComparison.Ordinal));
        Assert.Contains("caps the case at hosted", blocker);
        Assert.Contains(fired.Id, blocker);
    }

    [Fact]
    public async Task ACommitmentCapAtTheRequestedTierIsNoBlocker()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "api");
        await w.DriveToAsync(Milestone.Testing);
        await Commit(w, "uplift(\"bio-acquisition\") >= 0.0 => max_tier(api)");
        var evaluation = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        var fired = Assert.Single(evaluation.FiredFindings);
        Assert.Equal("api", fired.CapTier);
        Assert.DoesNotContain((await w.CaseAsync()).Blockers, b => b.StartsWith("rule-6", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnUnparsableCommitmentIsRefusedNamingTheColumn()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => Commit(w, "uplift(\"cyber-phishing\") >= => max_tier(staged)"));
        Assert.Contains("column", e.Detail);
        Assert.Matches(@"column \d+", e.Detail);
        Assert.Empty((await w.CaseAsync()).Commitments);
    }

    [Fact]
    public async Task ACommitmentCappingAtAnUnknownTierIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => Commit(w, "uplift(\"cyber-phishing\") >= 0.1 => max_tier(galactic)"));
        Assert.Contains("galactic", e.Detail);
    }
}
