using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Rule 9 (issue 7, "what was seen" 2): the developer cannot do the evaluator's job on its own case. Evidence of danger
/// counts from anyone; evidence of safety only from an evaluator organisation assigned to the case that is not the developer's.
/// </summary>
public sealed class EvidenceAsymmetryTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<ThreatModelDto> AddAccepted(ProtocolWorld w, Embargo.Contracts.EmbargoClient who, string capability, string party) =>
        who.Cases.AddThreatModelAsync(w.CaseId, new AddThreatModelRequest
        {
            Capability = capability, Description = capability, AffectedParties = [party], Steps = ["step one"],
        }, default);

    private static Task<FindingDto> Finding(ProtocolWorld w, Embargo.Contracts.EmbargoClient who, string threatModelId, string evaluationId) =>
        who.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest { ThreatModelId = threatModelId, EvaluationId = evaluationId, Title = "finding" }, default);

    [Fact]
    public async Task TheDeveloperCannotAddAnAcceptedThreatModelToItsOwnCase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () => AddAccepted(w, w.Developer, ProtocolWorld.Phishing, w.MailOrg));
        Assert.Empty((await w.CaseAsync()).ThreatModels);
    }

    [Fact]
    public async Task TheDevelopersOwnNoUpliftEvaluationsAreRecordedButDoNotLetTheCaseReachReflection()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var phishing = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing), w.Developer);
        var bio = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio), w.Developer);
        Assert.Equal(2, (await w.CaseAsync()).Evaluations.Count);
        Assert.False(phishing.Significant);
        Assert.False(bio.Significant);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-9", () => w.AdvanceAsync("reflection"));
        Assert.Contains(ProtocolWorld.Phishing, e.Detail);
        Assert.Contains(ProtocolWorld.Bio, e.Detail);
        Assert.Equal("testing", (await w.CaseAsync()).State);
    }

    [Fact]
    public async Task TheDeveloperCannotRecordAFindingNotNovelNorCiteItsOwnRunForOne()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Evaluated);
        var own = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio), w.Developer);
        await w.AdvanceAsync("reflection");
        // The developer records "not novel" on the independent run: refused by the table.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () => Finding(w, w.Developer, w.BioThreat!.Id, w.BioEvaluation!.Id));
        // Nor may anyone clear a capability by citing the developer's own no-uplift run.
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-9", () => Finding(w, w.Evaluator, w.BioThreat!.Id, own.Id));
        Assert.Contains(own.Id, e.Detail);
        Assert.Empty((await w.CaseAsync()).Findings);
    }

    [Fact]
    public async Task TheDevelopersOwnEvaluationShowingUpliftCreatesAndAffirmsANovelFinding()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        // The independent evaluator sees no uplift on bio; the developer's own run shows it.
        var independent = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing));
        await w.AdvanceAsync("reflection");
        var notNovel = await Finding(w, w.Evaluator, w.BioThreat!.Id, independent.Id);
        Assert.False(notNovel.Novel);
        var danger = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Bio), w.Developer);
        Assert.True(danger.Significant);
        // Affirmed: the evaluator's "not novel" finding is novel now.
        Assert.True((await w.CaseAsync()).Findings.Single(f => f.Id == notNovel.Id).Novel);
        // Created: the developer may record a novel finding on its own run.
        var created = await Finding(w, w.Developer, w.BioThreat.Id, danger.Id);
        Assert.True(created.Novel);
        Assert.Equal("developer", created.Source);
    }

    [Fact]
    public async Task TheDeveloperCannotVerifyAMitigationNorCanItsOwnRerunVerifyOne()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var own = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id), w.Developer);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () => w.Developer.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = own.Id }, default));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-9", () => w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = own.Id }, default));
        Assert.Equal("reported", (await w.CaseAsync()).Mitigations.Single().Status);
    }

    [Fact]
    public async Task ADeveloperPlayingEveryRoleOnItsOwnCaseNeverReachesACertificate()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "open");
        // Each step of "what was seen" 2, in order, by the developer: each refused with its rule, nothing changed.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () => AddAccepted(w, w.Developer, ProtocolWorld.Phishing, w.MailOrg));
        var draft = await w.Developer.Cases.DraftThreatModelAsync(w.CaseId, new DraftThreatModelRequest
        {
            Capability = ProtocolWorld.Phishing, Description = "drafted by the developer", Steps = ["write lure"], ReferenceModel = w.Reference.Name,
        }, default);
        Assert.Equal("draft", draft.Status);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () => w.Developer.Cases.AcceptThreatModelAsync(w.CaseId, draft.Id, new AcceptThreatModelRequest { AffectedParties = [w.MailOrg] }, default));
        // A draft counts for nothing: the case cannot move on without an accepted threat model.
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("mapping"));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.ApproveAsync(w.InHouseCertifier, "open"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("open"));
        var leaves = await LeavesAsync(Host);
        Assert.DoesNotContain(leaves, l => l.Type is "threat-model.added" or "threat-model.accepted" && l.Data["case"]?.GetValue<string>() == w.CaseId);
    }

    [Fact]
    public async Task AnInHouseEvaluatorAssignedToItsOwnDevelopersCaseGivesNoEvidenceOfSafety()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var inHouse = w.Admin.As((await w.Admin.Admin.CreatePrincipalAsync(
            new CreatePrincipalRequest { OrganisationId = w.DeveloperOrg, Name = "in-house evals", Role = "evaluator" }, default)).Token);
        var @case = await w.Developer.Cases.OpenAsync(new OpenCaseRequest
        {
            ModelVersionId = w.Version.Id, RequestedTier = "hosted", RegulatorOrganisationId = w.RegulatorOrg, ReferenceModelId = w.Reference.Id,
            EvaluatorOrganisationIds = [w.DeveloperOrg],
        }, default);
        var size = await LedgerSizeAsync(Host);
        var e = await Refused(HttpStatusCode.Forbidden, "rule-9", () => inHouse.Cases.AddThreatModelAsync(@case.Id, new AddThreatModelRequest
        {
            Capability = ProtocolWorld.Phishing, Description = "in-house", AffectedParties = [w.MailOrg], Steps = ["step"],
        }, default));
        Assert.Contains("developer's own", e.Detail);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        // It may still propose a draft, like the developer.
        var draft = await inHouse.Cases.DraftThreatModelAsync(@case.Id, new DraftThreatModelRequest
        {
            Capability = ProtocolWorld.Phishing, Description = "in-house draft", Steps = ["step"], ReferenceModel = w.Reference.Name,
        }, default);
        Assert.Equal("draft", draft.Status);
    }
}
