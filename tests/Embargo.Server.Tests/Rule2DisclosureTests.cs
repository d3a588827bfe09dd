using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 2: every finding is disclosed to the regulator and every affected party, and each required mitigation verified, before certification.</summary>
public sealed class Rule2DisclosureTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task AdvancingToCertificationBeforeEveryRecipientGotTheDisclosureIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        Assert.Contains("not disclosed", e.Detail);

        // Only one of the two findings disclosed: still refused, and the blockers name the other one.
        await w.Evaluator.Disclosures.DiscloseAsync(w.BioFinding!.Id, w.DiscloseBody(ProtocolWorld.Bio, w.RegulatorOrg, w.BioOrg), default);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        var blockers = (await w.CaseAsync()).Blockers;
        Assert.Contains(blockers, b => b.StartsWith("rule-2", StringComparison.Ordinal) && b.Contains(w.PhishingFinding!.Id) && b.Contains("not disclosed"));
        Assert.DoesNotContain(blockers, b => b.Contains(w.BioFinding.Id));
    }

    [Fact]
    public async Task DisclosureGoesToTheRegulatorAndEveryAffectedPartyAtOnce()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        Assert.Equal(new[] { w.MailOrg, w.RegulatorOrg }.Order(StringComparer.Ordinal),
            w.PhishingDisclosure!.Recipients.Select(r => r.OrganisationId).Order(StringComparer.Ordinal));
        Assert.Equal(new[] { w.BioOrg, w.RegulatorOrg }.Order(StringComparer.Ordinal),
            w.BioDisclosure!.Recipients.Select(r => r.OrganisationId).Order(StringComparer.Ordinal));
        Assert.Equal(w.MailOrg, w.PhishingMitigation.Party);
        Assert.Empty(w.BioDisclosure!.Mitigations);
    }

    [Fact]
    public async Task AdvancingToCertificationWithAnUnverifiedMitigationIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        Assert.Contains(w.PhishingMitigation.Id, e.Detail);
        await w.DriveToAsync(Milestone.MitigationReported);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        await w.DriveToAsync(Milestone.MitigationVerified);
        Assert.Empty((await w.CaseAsync()).Blockers);
        Assert.Equal("certification", (await w.AdvanceAsync("certification")).State);
    }

    [Fact]
    public async Task NoveltyComesFromTheEvidenceEvenWhenTheDeveloperRecordsTheFinding()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Reflection);
        var size = await LedgerSizeAsync(Host);
        // Evidence of danger counts from anyone: the developer records the phishing finding, and it is novel whatever its title says.
        var novel = await w.Developer.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.PhishingThreat!.Id, EvaluationId = w.PhishingEvaluation!.Id, Title = "Developer says: nothing to see here",
        }, default);
        Assert.True(novel.Novel);
        Assert.Equal("developer", novel.Source);
        // A finding "not novel" is evidence of safety (rule 9): the developer cannot record it, only the independent evaluator.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () => w.Developer.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.BioThreat!.Id, EvaluationId = w.BioEvaluation!.Id, Title = "Developer says: severe",
        }, default));
        var notNovel = await w.Evaluator.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.BioThreat!.Id, EvaluationId = w.BioEvaluation!.Id, Title = "Evaluator says: severe",
        }, default);
        Assert.False(notNovel.Novel);
        var leaves = await LeavesAsync(Host, size);
        Assert.Equal(["finding.recorded", "finding.recorded"], leaves.Select(l => l.Type));
        Assert.True(leaves[0].Data["novel"]!.GetValue<bool>());
        Assert.Equal("developer", leaves[0].Json["actor"]!["role"]!.GetValue<string>());
        Assert.False(leaves[1].Data["novel"]!.GetValue<bool>());
        Assert.Equal("evaluator", leaves[1].Json["actor"]!["role"]!.GetValue<string>());
    }

    [Fact]
    public async Task AFindingWithoutSignificantUpliftNeedsNoMitigation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var c = await w.CaseAsync();
        Assert.DoesNotContain(c.Mitigations, m => m.FindingId == w.BioFinding!.Id);
        Assert.DoesNotContain(c.Blockers, b => b.Contains(w.BioFinding!.Id));
    }

    [Fact]
    public async Task AFailedVerificationRunDoesNotVerify()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var rerun = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        Assert.True(rerun.Significant);
        var size = await LedgerSizeAsync(Host);
        var result = await w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default);
        Assert.NotEqual("verified", result.Status);
        Assert.Null(result.VerificationEvaluationId);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("mitigation.verification-failed", leaf.Type);
        var c = await w.CaseAsync();
        Assert.NotEqual("verified", c.Mitigations.Single(m => m.Id == w.PhishingMitigation.Id).Status);
        Assert.Contains(c.Blockers, b => b.StartsWith("rule-2", StringComparison.Ordinal) && b.Contains(w.PhishingMitigation.Id));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
    }

    [Fact]
    public async Task AVerificationRunMustBelongToTheMitigation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        // The original (case) evaluation is not a re-run against the mitigated system.
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = w.BioEvaluation!.Id }, default));
    }

    [Fact]
    public async Task AVerificationRunForAnUnreportedMitigationIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.DeadlineSet);
        // Nothing was mitigated yet: a run now measures the unmitigated system and is not a verification.
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2",
            () => w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id)));
        Assert.Contains("reports its mitigation", e.Detail);
    }

    [Fact]
    public async Task ACertificateCannotBeApprovedBeforeTheCertificationPhase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationVerified);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.ApproveAsync(w.Certifier, "hosted"));
    }

    [Fact]
    public async Task PhasesCannotBeSkipped()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.ThreatModels);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("certification"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("testing"));
        await w.DriveToAsync(Milestone.Testing);
        // Reflection needs an evaluation of every threat model.
        await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing));
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("reflection"));
        Assert.Contains(ProtocolWorld.Bio, e.Detail);
    }

    [Fact]
    public async Task ACherryPickedInsignificantRunDoesNotWaiveTheMitigationOfASignificantCapability()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Evaluated);
        Assert.True(w.PhishingEvaluation!.Significant);
        // The developer runs its own weaker evaluation of the same capability and records the finding on that one.
        var weak = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing), w.Developer);
        await w.AdvanceAsync("reflection");
        var finding = await w.Developer.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.PhishingThreat!.Id, EvaluationId = weak.Id, Title = "No phishing uplift (our run)",
        }, default);
        Assert.True(finding.Novel);
        var bio = await w.Evaluator.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.BioThreat!.Id, EvaluationId = w.BioEvaluation!.Id, Title = "No bio uplift",
        }, default);
        await w.AdvanceAsync("disclosure");
        var disclosure = await w.Evaluator.Disclosures.DiscloseAsync(finding.Id, w.DiscloseBodyFor(finding.Id, ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg), default);
        await w.Evaluator.Disclosures.DiscloseAsync(bio.Id, w.DiscloseBodyFor(bio.Id, ProtocolWorld.Bio, w.RegulatorOrg, w.BioOrg), default);

        // Everything is disclosed; the one thing left is the phishing mitigation the cherry-picked run tried to waive.
        var mitigation = Assert.Single(disclosure.Mitigations);
        var blockers = (await w.CaseAsync()).Blockers;
        var blocker = Assert.Single(blockers, b => b.StartsWith("rule-2", StringComparison.Ordinal));
        Assert.Contains(mitigation.Id, blocker);
        // The safety case restates it as its one open claim (rules first, so the refusal below still names rule 2).
        Assert.Equal(2, blockers.Count);
        Assert.Contains($"mitigation {mitigation.Id} is not verified", blockers[1]);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        Assert.Contains(mitigation.Id, e.Detail);
        Assert.Contains("not verified", e.Detail);
    }
}
