using System.Net;
using Embargo.Cli.Commands;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Rule 5, closed: a case opens only with the strongest reference model, is not certified while a stronger one exists,
/// and re-enters testing with it on the same case, where only evidence made with it counts.
/// </summary>
public sealed class Rule5ReevaluationTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<ReferenceModelDto> StrongerAsync(ProtocolWorld w, string name, double by = 1) =>
        w.Regulator.Models.RegisterReferenceAsync(new RegisterReferenceModelRequest { Name = $"{name}-{w.Tag}", Strength = w.Reference.Strength + by }, default);

    [Fact]
    public async Task AfterTheFlagTheCertifierCannotApproveTheSameCaseAgainNorTheDeveloperRelease()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var stronger = await StrongerAsync(w, "frontier-next");
        Assert.Contains(w.Certificate!.Id, stronger.FlaggedCertificates);

        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-5", () => w.ApproveAsync(w.Certifier, "hosted"));
        Assert.Contains(stronger.Name, e.Detail);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-5", () => w.ApproveAsync(w.Certifier, "staged"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("hosted"));
        var c = await w.CaseAsync();
        Assert.Equal("certification", c.State);
        Assert.Contains(c.Blockers, b => b.StartsWith("rule-5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ANewCaseCannotOpenWithAReferenceModelWeakerThanTheStrongestRegistered()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var stronger = await StrongerAsync(w, "frontier-newer", 0.5);
        var open = new OpenCaseRequest
        {
            ModelVersionId = w.Version.Id, RequestedTier = "open", RegulatorOrganisationId = w.RegulatorOrg, ReferenceModelId = w.Reference.Id,
            EvaluatorOrganisationIds = [w.EvaluatorOrg],
        };
        var cases = await w.Admin.GetTextAsync(ApiRoutes.Cases.List.With(), default);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-5", () => w.Developer.Cases.OpenAsync(open, default));
        Assert.Contains(stronger.Name, e.Detail);
        Assert.Equal(cases, await w.Admin.GetTextAsync(ApiRoutes.Cases.List.With(), default));

        var opened = await w.Developer.Cases.OpenAsync(open with { ReferenceModelId = stronger.Id }, default);
        Assert.Equal(stronger.Name, opened.ReferenceModel);
        Assert.Equal(stronger.Id, (await Host.Anonymous.Models.ReferencesAsync(default))[0].Id);
    }

    [Fact]
    public async Task OnlyTheCasesDeveloperOrRegulatorMovesItToTheStrongestReferenceModel()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var middle = await StrongerAsync(w, "frontier-middle", 0.5);
        var strongest = await StrongerAsync(w, "frontier-top", 1);
        var body = new ReevaluateCaseRequest { ReferenceModelId = strongest.Id };
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherDeveloper.Cases.ReevaluateAsync(w.CaseId, body, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherRegulator.Cases.ReevaluateAsync(w.CaseId, body, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.Evaluator.Cases.ReevaluateAsync(w.CaseId, body, default));
        // Stronger than the case's, but not the strongest: rule 5 wants the strongest.
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-5", () => w.Developer.Cases.ReevaluateAsync(w.CaseId, new ReevaluateCaseRequest { ReferenceModelId = middle.Id }, default));
        // Not stronger at all: bad input naming the member.
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Developer.Cases.ReevaluateAsync(w.CaseId, new ReevaluateCaseRequest { ReferenceModelId = w.Reference.Id }, default));
        Assert.Contains("referenceModelId", e.Detail);

        var moved = await w.Regulator.Cases.ReevaluateAsync(w.CaseId, body, default);
        Assert.Equal("testing", moved.State);
        Assert.Equal(strongest.Name, moved.ReferenceModel);
        Assert.False(moved.ReevaluationFlag);
    }

    [Fact]
    public async Task AFlaggedCaseReentersTestingOnTheSameCaseAndIsCertifiedAgainOnlyWithNewEvidence()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var stronger = await StrongerAsync(w, "frontier-2");
        var size = await LedgerSizeAsync(Host);

        var moved = await w.Developer.Cases.ReevaluateAsync(w.CaseId, new ReevaluateCaseRequest { ReferenceModelId = stronger.Id }, default);
        Assert.Equal(w.CaseId, moved.Id);
        Assert.Equal("testing", moved.State);
        Assert.Equal(stronger.Id, moved.ReferenceModelId);
        Assert.False(moved.ReevaluationFlag);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("case.reevaluation-started", leaf.Type);
        Assert.Equal(stronger.Id, leaf.Data["referenceModel"]!.GetValue<string>());
        Assert.Equal(w.Reference.Id, leaf.Data["previousReferenceModel"]!.GetValue<string>());
        Assert.Equal(w.PhishingMitigation.Id, Assert.Single(leaf.Data["mitigationsReopened"]!.AsArray())!.GetValue<string>());
        // The mitigation was verified with the old reference model: it must be verified again.
        Assert.Equal("reported", moved.Mitigations.Single().Status);

        // The old evidence does not count: no move to reflection until each threat model is evaluated again.
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("reflection"));
        Assert.Contains(ProtocolWorld.Phishing, e.Detail);
        var phishing = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing));
        Assert.Equal(stronger.Id, phishing.ReferenceModelId);
        var bio = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        // Rule 10: the evidence under the other conditions was made with the old reference model too.
        await w.CoverAsync();
        await w.AdvanceAsync("reflection");
        // The old not-novel bio finding was made with the old reference model: it decides nothing now.
        e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("disclosure"));
        Assert.Contains(ProtocolWorld.Bio, e.Detail);
        var bioFinding = await w.Evaluator.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest
        {
            ThreatModelId = w.BioThreat!.Id, EvaluationId = bio.Id, Title = "No bio uplift with the stronger reference model",
        }, default);
        await w.AdvanceAsync("disclosure");
        await w.Evaluator.Disclosures.DiscloseAsync(bioFinding.Id, w.DiscloseBodyFor(bioFinding.Id, ProtocolWorld.Bio, w.RegulatorOrg, w.BioOrg), default);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));

        var rerun = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        var verified = await w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default);
        Assert.Equal("verified", verified.Status);
        Assert.Equal("certification", (await w.AdvanceAsync("certification")).State);
        var certificate = await ProtocolCommands.CertifyAsync(w.Certifier, w.CaseId, "hosted", w.CertifierKey, default);
        Assert.Equal("issued", certificate.Status);
        Assert.NotEqual(w.Certificate!.Id, certificate.Id);
        var release = await w.ReleaseAsync("hosted");
        Assert.Equal(certificate.Id, release.CertificateId);
    }
}
