using System.Net;
using Embargo.Cli.Commands;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 11: a denial stands for that version at that tier and above, across cases, until the regulator that denied lifts it.</summary>
public sealed class Rule11DenialTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static OpenCaseRequest NewCase(ProtocolWorld w, string tier, string regulator) => new()
    {
        ModelVersionId = w.Version.Id, RequestedTier = tier, RegulatorOrganisationId = regulator, ReferenceModelId = w.Reference.Id,
        EvaluatorOrganisationIds = [w.EvaluatorOrg],
    };

    private static Task<CaseDto> DenyAsync(ProtocolWorld w, string caseId) =>
        w.Regulator.Cases.DenyAsync(caseId, new DenyRequest { Reason = "no plausible mitigation for phishing uplift" }, default);

    [Fact]
    public async Task ADeniedVersionGetsNoNewCaseAtThatTierOrAboveWhateverRegulatorItNames()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        await DenyAsync(w, w.CaseId);
        var cases = await w.Admin.GetTextAsync(ApiRoutes.Cases.List.With(), default);

        foreach (var (tier, regulator) in new[] { ("hosted", w.OtherRegulatorOrg), ("hosted", w.RegulatorOrg), ("open", w.OtherRegulatorOrg) })
        {
            var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.Developer.Cases.OpenAsync(NewCase(w, tier, regulator), default));
            Assert.Contains(w.CaseId, e.Detail);
        }
        Assert.Equal(cases, await w.Admin.GetTextAsync(ApiRoutes.Cases.List.With(), default));

        // Below the denied tier the version may still be considered.
        var staged = await w.Developer.Cases.OpenAsync(NewCase(w, "staged", w.OtherRegulatorOrg), default);
        Assert.Equal("scoping", staged.State);
    }

    [Fact]
    public async Task OnlyTheRegulatorThatDeniedLiftsTheDenialWithAReasonAndItIsLogged()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await DenyAsync(w, w.CaseId);
        var reason = new LiftDenialRequest { Reason = "mail providers now screen model-crafted lures at scale" };
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherRegulator.Cases.LiftDenialAsync(w.CaseId, reason, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.Developer.Cases.LiftDenialAsync(w.CaseId, reason, default));
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Regulator.Cases.LiftDenialAsync(w.CaseId, new LiftDenialRequest { Reason = "." }, default));
        Assert.StartsWith("reason", e.Detail, StringComparison.Ordinal);

        var size = await LedgerSizeAsync(Host);
        var lifted = await w.Regulator.Cases.LiftDenialAsync(w.CaseId, reason, default);
        Assert.Equal("denied", lifted.State);
        Assert.Equal(reason.Reason, lifted.DenialLiftReason);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("denial.lifted", leaf.Type);
        Assert.Equal(reason.Reason, leaf.Data["reason"]!.GetValue<string>());
        Assert.Equal("hosted", leaf.Data["tier"]!.GetValue<string>());
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.Regulator.Cases.LiftDenialAsync(w.CaseId, reason, default));

        var again = await w.Developer.Cases.OpenAsync(NewCase(w, "hosted", w.OtherRegulatorOrg), default);
        Assert.Equal("scoping", again.State);
    }

    [Fact]
    public async Task ADenialInAnotherCaseStopsCertificationAndReleaseAtThatTierOrAboveUntilLifted()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "api");
        await w.DriveToAsync(Milestone.Certification);
        // A second case for the same version, at hosted, is denied by its regulator.
        var second = await w.Developer.Cases.OpenAsync(NewCase(w, "hosted", w.RegulatorOrg), default);
        await DenyAsync(w, second.Id);

        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.ApproveAsync(w.Certifier, "api"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.ApproveAsync(w.Certifier, "hosted"));
        await w.Regulator.Cases.LiftDenialAsync(second.Id, new LiftDenialRequest { Reason = "screening deployed by every major provider" }, default);
        var api = await ProtocolCommands.CertifyAsync(w.Certifier, w.CaseId, "api", w.CertifierKey, default);
        Assert.Equal("issued", api.Status);

        // Denied again (a third case at hosted): the valid api certificate no longer backs a release at hosted or above.
        var third = await w.Developer.Cases.OpenAsync(NewCase(w, "hosted", w.OtherRegulatorOrg), default);
        await w.OtherRegulator.Cases.DenyAsync(third.Id, new DenyRequest { Reason = "new incident reports of phishing at scale" }, default);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.ReleaseAsync("api"));
        Assert.Contains(third.Id, e.Detail);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.ReleaseAsync("hosted"));
        // Below the denied tier the certificate still backs a release.
        Assert.Equal("staged", (await w.ReleaseAsync("staged")).Tier);
    }
}
