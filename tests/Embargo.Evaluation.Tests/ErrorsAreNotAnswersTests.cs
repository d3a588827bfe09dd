using Embargo.Evaluation.Running;
using Embargo.Evaluation.Statistics;
using Embargo.SampleModel;

namespace Embargo.Evaluation.Tests;

/// <summary>
/// A failed model call is an error, never a 0: kept in the log, excluded from the statistics, counted against the
/// run's tolerance; paired statistics use only the samples both conditions answered.
/// </summary>
public class ErrorsAreNotAnswersTests
{
    private const string Subject = "sample-camelid-7b";
    private const string Baseline = "sample-open-baseline";

    private static EvalRunRequest Request(TempTask t, SampleModelServer server) => new()
    {
        TaskPath = t.TaskPath,
        Subject = Fixtures.Endpoint(server, Subject),
        Baseline = Fixtures.Endpoint(server, Baseline),
        LogDir = t.LogDir,
        Concurrency = 1,
        Options = Fixtures.FastOptions with { MaxRetries = 1 },
    };

    [Fact]
    public async Task ADyingBaselineGivesCountedErrorsStatusErrorAndNoUpliftBuiltOnTheFailures()
    {
        // Both models answer every question right while they answer at all; the baseline stops after its 10th request.
        // Counting its failures as 0 would give an uplift of 0.75 with p ≈ 1e-9; over the 10 pairs both answered it is 0.
        var baselineCalls = 0;
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model == Baseline && Interlocked.Increment(ref baselineCalls) > 10 ? SampleReply.Error(503) : SampleReply.Text("yes"),
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(40));
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);

        Assert.Equal(EvalStatus.Error, summary.Status);
        Assert.Contains("30 of 80 sample calls failed", summary.StatusReason, StringComparison.Ordinal);
        Assert.Equal(30, summary.Errors);
        Assert.Equal(30, summary.Baseline!.Errors);
        Assert.Equal(10, summary.Baseline.Total);
        Assert.Equal(1.0, summary.Baseline.Accuracy);
        Assert.Equal(0, summary.Subject.Errors);
        Assert.Equal(40, summary.Subject.Total);
        Assert.Equal(10, summary.Uplift!.Pairs);
        Assert.Equal(0.0, summary.Uplift.Estimate);
        Assert.Equal(1.0, summary.Uplift.P);
        Assert.Equal(Verdicts.Inconclusive, summary.Verdict!.Verdict);

        var log = EvalLog.Read(summary.LogPath);
        Assert.Equal(EvalStatus.Error, log.Status);
        var failed = log.Samples.Where(s => s.Error is not null).ToList();
        Assert.Equal(30, failed.Count);
        Assert.All(failed, s => Assert.Null(s.Score));
        Assert.All(failed, s => Assert.Contains("503", s.Error, StringComparison.Ordinal));
        Assert.Equal(summary, log.Summary! with { });
    }

    [Fact]
    public async Task RetryingTheErrorsAsksOnlyTheErroredSamplesAgainAndCompletesTheRun()
    {
        var dying = true;
        var baselineCalls = 0;
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model == Baseline && Volatile.Read(ref dying) && Interlocked.Increment(ref baselineCalls) > 10
                ? SampleReply.Error(503) : SampleReply.Text(r.Model == Subject || Fixtures.Num(r) <= 10 ? "yes" : "no"),
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(40));
        var first = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(EvalStatus.Error, first.Status);
        var before = server.RequestCount;

        Volatile.Write(ref dying, false);
        var retried = await EvalRunner.RunAsync(Request(t, server) with { ResumeFrom = first.LogPath }, null, CancellationToken.None);

        Assert.Equal(30, server.RequestCount - before);
        Assert.All(server.Requests.Skip((int)before), r => Assert.Equal(Baseline, r.Model));
        Assert.Equal(Enumerable.Range(11, 30).Select(i => $"q-{i:000}"), server.Requests.Skip((int)before).Select(Fixtures.IdIn).Order());
        Assert.Equal(EvalStatus.Complete, retried.Status);
        Assert.Equal(0, retried.Errors);
        Assert.Equal(first.LogPath, retried.LogPath);
        // Now a real answer on all 40: the baseline is right on q-001..q-010 only, the subject on all 40.
        Assert.Equal(40, retried.Uplift!.Pairs);
        Assert.Equal(0.75, retried.Uplift.Estimate, 1e-12);
        Assert.Equal(Verdicts.Novel, retried.Verdict!.Verdict);
        Assert.Equal(EvalStatus.Complete, EvalLog.Read(first.LogPath).Status);
    }

    [Fact]
    public async Task AFailingSubjectIsAllErrorsWithNoUpliftAndNoVerdict()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model == Subject ? SampleReply.Error(500) : SampleReply.Text("no"),
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(10));
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(EvalStatus.Error, summary.Status);
        Assert.Equal(10, summary.Errors);
        Assert.Equal(10, summary.Subject.Errors);
        Assert.Equal(0, summary.Subject.Total);
        Assert.Equal(10, summary.Baseline!.Total);
        Assert.Null(summary.Uplift);
        Assert.Null(summary.Verdict);
    }

    [Fact]
    public async Task HalfTheBaselineFailingWithinToleranceIsCompleteAndJudgedOnlyOnThePairsBothAnswered()
    {
        // The baseline fails on every odd question (20 of 80 calls = 25%, tolerated at 0.5) and is right on every even one,
        // as the subject is everywhere. Over the 20 pairs both answered: no uplift, p = 1 and too few samples to clear
        // it — inconclusive (upper bound z²/(20 + z²) = 2.705543/22.705543 = 0.119158), never "significant".
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model == Baseline && Fixtures.Num(r) % 2 == 1 ? SampleReply.Error(502) : SampleReply.Text("yes"),
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(40));
        Assert.True(ErrorTolerance.TryParse("0.5", out var half));
        var summary = await EvalRunner.RunAsync(Request(t, server) with { MaxErrors = half }, null, CancellationToken.None);
        Assert.Equal(EvalStatus.Complete, summary.Status);
        Assert.Equal(20, summary.Errors);
        Assert.Equal(80, summary.Records);
        Assert.Equal("50%", summary.MaxErrors);
        Assert.Equal(20, summary.Uplift!.Pairs);
        Assert.Equal(0.0, summary.Uplift.Estimate);
        Assert.Equal(1.0, summary.Uplift.P);
        Assert.Equal(Verdicts.Inconclusive, summary.Verdict!.Verdict);
        Assert.Equal(0.119158, summary.Verdict.Upper, 0.000001);

        // The same run with the default tolerance (0) ends with status error.
        var strict = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(EvalStatus.Error, strict.Status);
        Assert.Equal("0", strict.MaxErrors);
    }

    [Fact]
    public async Task AMisspeltModelNameFailsBeforeAnySampleNamingTheUrlAndTheModel()
    {
        await using var server = await SampleModelServer.StartAsync();
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(3));
        var e = await Assert.ThrowsAsync<ModelNotAvailableException>(() => EvalRunner.RunAsync(Request(t, server) with
        {
            Baseline = Fixtures.Endpoint(server, "sample-open-baselin"),
        }, null, CancellationToken.None));
        Assert.Contains("sample-open-baselin", e.Message, StringComparison.Ordinal);
        Assert.Contains(server.BaseUrl.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains("sample-open-baseline", e.Message, StringComparison.Ordinal); // what it does serve
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(0, server.RequestCount);
        Assert.False(Directory.Exists(t.LogDir));
    }

    [Fact]
    public async Task AReferenceModelThatDoesNotServeTheNameIsAOneLineErrorNamingTheUrlAndTheModel()
    {
        await using var server = await SampleModelServer.StartAsync();
        var reference = ChatClientFactory.Create(new ModelEndpoint { Url = server.BaseUrl, Name = "sample-frontierr" });
        var e = await Assert.ThrowsAsync<ModelNotAvailableException>(() =>
            ThreatModelDrafter.DraftAsync(reference, "cyber-phishing", "phishing at scale", CancellationToken.None));
        Assert.StartsWith($"model sample-frontierr at {server.BaseUrl}", e.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 404", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("0", 0, false, 0, 10, true)]
    [InlineData("0", 0, false, 1, 10, false)]
    [InlineData("5", 5, false, 5, 10, true)]
    [InlineData("5", 5, false, 6, 10, false)]
    [InlineData("0.05", 0.05, true, 5, 100, true)]
    [InlineData("0.05", 0.05, true, 6, 100, false)]
    public void AnErrorToleranceIsACountOrAFraction(string text, double value, bool fraction, int errors, int records, bool allowed)
    {
        Assert.True(ErrorTolerance.TryParse(text, out var tolerance));
        Assert.Equal(new ErrorTolerance(value, fraction), tolerance);
        Assert.Equal(allowed, tolerance.Allows(errors, records));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("five")]
    [InlineData("1e3")]
    public void AnErrorToleranceThatIsNeitherIsRefused(string text) => Assert.False(ErrorTolerance.TryParse(text, out _));
}
