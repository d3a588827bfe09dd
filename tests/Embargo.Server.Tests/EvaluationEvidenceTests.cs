using System.Net;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Errors are not answers: a run that did not complete within its error tolerance is never recorded as evidence.</summary>
public sealed class EvaluationEvidenceTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Theory]
    [InlineData("error")]
    [InlineData("cancelled")]
    [InlineData("running")]
    public async Task ARunThatDidNotCompleteIsRefusedAsEvidenceAndNothingIsRecorded(string status)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var run = ProtocolWorld.Significant(ProtocolWorld.Phishing) with { Status = status, Errors = 104, Records = 160 };
        var refused = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(run, w.Evaluator));
        Assert.StartsWith($"status: a run that ended '{status}' is not evidence", refused.Detail, StringComparison.Ordinal);
        Assert.Empty((await w.CaseAsync()).Evaluations);
    }

    [Fact]
    public async Task MoreErrorsThanRecordsIsRefusedAsImpossibleCounts()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var run = ProtocolWorld.Significant(ProtocolWorld.Phishing) with { Status = "complete", Errors = 161, Records = 160 };
        var refused = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(run, w.Evaluator));
        Assert.Contains("0 ≤ errors ≤ records", refused.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACompleteRunWithinItsToleranceIsRecorded()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var run = ProtocolWorld.Significant(ProtocolWorld.Phishing) with { Status = "complete", Errors = 0, Records = 400 };
        var recorded = await w.SubmitAsync(run, w.Evaluator);
        Assert.Equal(ProtocolWorld.Phishing, recorded.Capability);
        Assert.Contains((await w.CaseAsync()).Evaluations, e => e.Id == recorded.Id);
    }
}
