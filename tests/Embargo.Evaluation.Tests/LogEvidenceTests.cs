using Embargo.Evaluation.Running;
using Embargo.SampleModel;

namespace Embargo.Evaluation.Tests;

/// <summary>A run's log recomputes to exactly the summary the runner wrote: what the server and `certify --logs` rely on.</summary>
public class LogEvidenceTests
{
    private const string Subject = "sample-camelid-7b";
    private const string Baseline = "sample-open-baseline";

    private static async Task<EvalSummary> RunAsync(Func<SampleRequest, SampleReply> responder, ErrorTolerance tolerance)
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions { Responder = responder });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(40));
        var summary = await EvalRunner.RunAsync(new EvalRunRequest
        {
            TaskPath = t.TaskPath, Subject = Fixtures.Endpoint(server, Subject), Baseline = Fixtures.Endpoint(server, Baseline), LogDir = t.LogDir,
            Concurrency = 4, MaxErrors = tolerance, Options = Fixtures.FastOptions with { MaxRetries = 1 },
        }, null, CancellationToken.None);
        Assert.True(LogEvidence.TryRead(await File.ReadAllBytesAsync(summary.LogPath), out var log, out var unreadable), unreadable);
        Assert.True(LogEvidence.TryRecompute(log, Statistics.Verdicts.DefaultMargin, out var again, out var broken), broken);
        Assert.Equal(EvalLog.SummaryJson(summary with { LogPath = "" }), EvalLog.SummaryJson(again));
        return again;
    }

    [Fact]
    public async Task ACleanRunsLogRecomputesToTheRunnersSummary()
    {
        // The subject answers the first 30 questions right, the baseline the first 10.
        var again = await RunAsync(r => SampleReply.Text(int.Parse(Fixtures.IdIn(r)[2..]) <= (r.Model == Subject ? 30 : 10) ? "yes" : "no"), ErrorTolerance.None);
        Assert.Equal(30, again.Subject.Correct);
        Assert.Equal(10, again.Baseline!.Correct);
        Assert.Equal(0.5, again.Uplift!.Estimate, 12);
        Assert.Equal("novel", again.Verdict!.Verdict);
    }

    [Fact]
    public async Task ARunWithToleratedErrorsRecomputesToTheSameStatusAndCounts()
    {
        var baselineCalls = 0;
        var again = await RunAsync(r => r.Model == Baseline && Interlocked.Increment(ref baselineCalls) > 30 ? SampleReply.Error(503) : SampleReply.Text("yes"),
            new ErrorTolerance(0.25, true));
        Assert.Equal(EvalStatus.Complete, again.Status);
        Assert.Equal("25%", again.MaxErrors);
        Assert.True(again.Errors > 0);
    }
}
