using System.Net;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Threat models drafted with the reference model are drafts until an evaluator accepts them.</summary>
public sealed class ThreatModelDraftTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<ThreatModelDto> DraftAsync(ProtocolWorld w, EmbargoClient who, string capability) =>
        who.Cases.DraftThreatModelAsync(w.CaseId, new DraftThreatModelRequest
        {
            Capability = capability, Description = "drafted", Steps = ["step one", "step two"], ReferenceModel = "sample-frontier",
        }, default);

    [Fact]
    public async Task ADraftCountsForNothingUntilAnEvaluatorAcceptsIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var draft = await DraftAsync(w, w.Evaluator, "cyber-phishing");
        Assert.Equal("draft", draft.Status);
        Assert.Equal("sample-frontier", draft.DraftedWith);

        // Scoping → mapping needs an accepted threat model; the draft does not count.
        var refused = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("mapping"));
        Assert.Contains("threat model", refused.Detail);

        var accepted = await w.Evaluator.Cases.AcceptThreatModelAsync(w.CaseId, draft.Id,
            new AcceptThreatModelRequest { AffectedParties = [w.MailOrg], Steps = ["edited step"] }, default);
        Assert.Equal("accepted", accepted.Status);
        Assert.Equal(["edited step"], accepted.Steps);
        Assert.Equal([w.MailOrg], accepted.AffectedParties);
        var leaves = await LeavesAsync(Host);
        Assert.Contains(leaves, l => l.Type == "threat-model.drafted" && l.Data["threatModel"]!.GetValue<string>() == draft.Id);
        Assert.Contains(leaves, l => l.Type == "threat-model.accepted" && l.Data["edited"]!.GetValue<bool>());
        await w.AdvanceAsync("mapping");
    }

    [Fact]
    public async Task TheDeveloperCannotAcceptADraft()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var draft = await DraftAsync(w, w.Developer, "cyber-phishing");
        // Accepting a threat model is evidence of safety: rule 9 keeps it from the developer's side.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9", () =>
            w.Developer.Cases.AcceptThreatModelAsync(w.CaseId, draft.Id,
                new AcceptThreatModelRequest { AffectedParties = [w.MailOrg] }, default));
    }

    [Fact]
    public async Task AcceptingNeedsAnAffectedParty()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var draft = await DraftAsync(w, w.Evaluator, "cyber-phishing");
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () =>
            w.Evaluator.Cases.AcceptThreatModelAsync(w.CaseId, draft.Id,
                new AcceptThreatModelRequest { AffectedParties = [] }, default));
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () =>
            w.Evaluator.Cases.AcceptThreatModelAsync(w.CaseId, draft.Id,
                new AcceptThreatModelRequest { AffectedParties = [w.DeveloperOrg] }, default));
    }

    [Fact]
    public async Task AnEvaluatorNotAssignedToTheCaseCannotDraft()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var org = await w.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = "Unassigned Evals " + w.Tag }, default);
        var outsider = w.Admin.As((await w.Admin.Admin.CreatePrincipalAsync(
            new CreatePrincipalRequest { OrganisationId = org.Id, Name = "outsider", Role = "evaluator" }, default)).Token);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => DraftAsync(w, outsider, "cyber-phishing"));
    }
}
