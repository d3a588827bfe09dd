using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Issue 13 item 3: a mitigation is verified only by a run made after the affected party reported a real fix.</summary>
public sealed class VerificationOrderTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<MitigationDto> ReportAsync(ProtocolWorld w, string description) =>
        w.MailParty.Mitigations.ReportAsync(w.PhishingMitigation.Id, new ReportMitigationRequest { Description = description }, default);

    [Fact]
    public async Task AVerificationFiledBeforeTheReportAndThenAReportOfADotAreBothRefusedWithNothingChanged()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.DeadlineSet);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2",
            () => w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id)));
        Assert.Contains(w.PhishingMitigation.Id, e.Detail);
        e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => ReportAsync(w, "."));
        Assert.StartsWith("description", e.Detail, StringComparison.Ordinal);
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => ReportAsync(w, "fixed it"));
        var c = await w.CaseAsync();
        Assert.Equal("required", c.Mitigations.Single().Status);
        Assert.DoesNotContain(c.Evaluations, x => x.Purpose == "verification");
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
    }

    [Fact]
    public async Task ARunFiledBeforeTheLatestReportDoesNotVerifyIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var early = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        // The party reports again (a changed fix): the earlier run measured the system before it.
        await ReportAsync(w, "Screening rules replaced with a trained lure classifier");
        var verify = () => w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = early.Id }, default);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", verify);
        Assert.Contains("before", e.Detail);

        var after = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        var verified = await w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = after.Id }, default);
        Assert.Equal("verified", verified.Status);
        Assert.Equal(after.Id, verified.VerificationEvaluationId);
    }
}
