using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Embargo.Evaluation.Running;
using Embargo.SampleModel;

namespace Embargo.Evaluation.Tests;

public class RunnerTests
{
    private static EvalRunRequest Request(TempTask t, SampleModelServer server, string subject = "sample-camelid-7b") => new()
    {
        TaskPath = t.TaskPath,
        Subject = Fixtures.Endpoint(server, subject),
        BaselineNone = true,
        LogDir = t.LogDir,
        Options = Fixtures.FastOptions,
    };

    [Fact]
    public async Task ScriptedAnswersGiveTheExpectedAccuracyAndWilsonInterval()
    {
        // 7 of 10 answered "yes": accuracy 0.7, Wilson 95% 0.396778 to 0.892209 (computed by hand with z = 1.959964).
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => SampleReply.Text(Fixtures.Num(r) <= 7 ? "yes" : "no"),
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions());
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(10, summary.Samples);
        Assert.Equal(7, summary.Subject.Correct);
        Assert.Equal(0.7, summary.Subject.Accuracy, 1e-12);
        Assert.Equal(0.396778, summary.Subject.Ci95Low, 0.000002);
        Assert.Equal(0.892209, summary.Subject.Ci95High, 0.000002);
        Assert.Null(summary.Baseline);
        Assert.Null(summary.Uplift);
        Assert.True(File.Exists(summary.LogPath));
    }

    [Fact]
    public async Task SubjectAgainstBaselineModelGivesPairedUpliftWithMcNemar()
    {
        // subject right on q-001..q-009 (9/10); baseline right on q-001..q-003 and q-010 (4/10).
        // Table: both 3, subject only 6, baseline only 1, neither 0. Uplift 0.5.
        // McNemar one-sided P(X ≥ 6 | Bin(7, ½)) = (7 + 1)/128 = 0.0625.
        // Newcombe paired method 10: ad − bc = −6 < 0 so φ = −6/√(9·1·4·6) = −0.408248; interval 0.003595 to 0.775734
        // (computed independently in Python from the published formula).
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r =>
            {
                var n = Fixtures.Num(r);
                var right = r.Model == "sample-camelid-7b" ? n <= 9 : n <= 3 || n == 10;
                return SampleReply.Text(right ? "yes" : "no");
            },
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions());
        var summary = await EvalRunner.RunAsync(Request(t, server) with
        {
            BaselineNone = false,
            Baseline = Fixtures.Endpoint(server, "sample-open-baseline"),
        }, null, CancellationToken.None);
        Assert.Equal(0.9, summary.Subject.Accuracy, 1e-12);
        Assert.Equal(0.4, summary.Baseline!.Accuracy, 1e-12);
        Assert.Equal(0.5, summary.Uplift!.Estimate, 1e-12);
        Assert.Equal("mcnemar-exact", summary.Uplift.Test);
        Assert.Equal(0.0625, summary.Uplift.P, 1e-12);
        Assert.Equal(0.003595, summary.Uplift.Ci95Low, 0.000002);
        Assert.Equal(0.775734, summary.Uplift.Ci95High, 0.000002);
    }

    [Fact]
    public async Task RetriesOn429And500ThenSucceeds()
    {
        var attempts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => attempts.AddOrUpdate(Fixtures.IdIn(r), 1, (_, v) => v + 1) switch
            {
                1 => SampleReply.Error(429),
                2 => SampleReply.Error(500),
                _ => SampleReply.Text("yes"),
            },
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(3));
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(1.0, summary.Subject.Accuracy);
        Assert.Equal(9, server.RequestCount);
        Assert.All(attempts.Values, v => Assert.Equal(3, v));
    }

    /// <summary>Records every timer of a second or more and fires it at once, so waits are checked, not waited for.</summary>
    private sealed class RecordingTime : TimeProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<TimeSpan> LongWaits { get; } = new();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime >= TimeSpan.FromSeconds(1))
            {
                LongWaits.Enqueue(dueTime);
                dueTime = TimeSpan.Zero;
            }
            return System.CreateTimer(callback, state, dueTime, period);
        }
    }

    [Fact]
    public async Task ARetryAfterHeaderIsWaitedForUpToTheLongestBackoff()
    {
        var attempts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => attempts.AddOrUpdate(Fixtures.IdIn(r), 1, (_, v) => v + 1) switch
            {
                1 => SampleReply.Error(429) with { RetryAfter = TimeSpan.FromSeconds(7) },
                2 => SampleReply.Error(503) with { RetryAfter = TimeSpan.FromSeconds(90) },
                _ => SampleReply.Text("yes"),
            },
        });
        var time = new RecordingTime();
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(1));
        var summary = await EvalRunner.RunAsync(Request(t, server) with
        {
            Options = Fixtures.FastOptions with { MaxBackoff = TimeSpan.FromSeconds(30), Preflight = false, Time = time },
        }, null, CancellationToken.None);
        Assert.Equal(1.0, summary.Subject.Accuracy);
        // The backoff alone would be milliseconds: the 7 s asked for is honoured, the 90 s is capped at the 30 s longest backoff.
        Assert.Equal([TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(30)], time.LongWaits.ToArray());
    }

    [Fact]
    public async Task RetriesGiveUpAndTheSampleIsKeptAsAnErrorNotScored()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions { Responder = _ => SampleReply.Error(503) });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(1));
        var summary = await EvalRunner.RunAsync(Request(t, server) with { Options = Fixtures.FastOptions with { MaxRetries = 2 } }, null, CancellationToken.None);
        Assert.Equal(0, summary.Subject.Total);
        Assert.Equal(1, summary.Errors);
        Assert.Equal(1, summary.Subject.Errors);
        Assert.Equal(EvalStatus.Error, summary.Status);
        Assert.Equal(3, server.RequestCount);
        var log = EvalLog.Read(summary.LogPath);
        Assert.Equal(EvalStatus.Error, log.Status);
        Assert.Contains("503", log.Samples[0].Error, StringComparison.Ordinal);
        Assert.Null(log.Samples[0].Score);
    }

    [Fact]
    public async Task ASlowModelTimesOutAndIsRetriedThenRecordedAsTimedOut()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = _ => new SampleReply { Content = "yes", Delay = TimeSpan.FromSeconds(30) },
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(1));
        var summary = await EvalRunner.RunAsync(Request(t, server) with
        {
            Options = Fixtures.FastOptions with { RequestTimeout = TimeSpan.FromMilliseconds(300), MaxRetries = 1 },
        }, null, CancellationToken.None);
        Assert.Equal(0.0, summary.Subject.Accuracy);
        Assert.Equal(2, server.RequestCount);
        var record = Assert.Single(EvalLog.Read(summary.LogPath).Samples);
        Assert.Contains("timed out", record.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GarbageOutputScoresZeroAndKeepsTheRawOutput()
    {
        const string garbage = "\u0007}{ <<<%%% not-an-answer %%%>>>";
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions { Responder = _ => SampleReply.Text(garbage) });
        using var t = new TempTask("""
            name: mc
            dataset: data.jsonl
            solver:
              multiple_choice: true
            scorer:
              type: choice
            """, [new { id = "m1", input = "Pick one", choices = new[] { "x", "y" }, target = "B" }]);
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(0, summary.Subject.Correct);
        Assert.Equal(0, summary.Errors);
        var record = Assert.Single(EvalLog.Read(summary.LogPath).Samples);
        Assert.Equal(garbage, record.Output);
        Assert.Equal(0, record.Score);
        Assert.Contains("no answer letter", record.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedDatasetLineIsReportedWithItsLineNumber()
    {
        await using var server = await SampleModelServer.StartAsync();
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(2));
        File.AppendAllText(Path.Combine(t.Dir, "data.jsonl"), "{\"id\": \"q-003\", \"input\": \n");
        var e = await Assert.ThrowsAsync<EvalInputException>(() => EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None));
        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("data.jsonl", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, server.RequestCount);
    }

    [Fact]
    public async Task AnUnreachableEndpointFailsFastNamingTheUrl()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var url = new Uri($"http://127.0.0.1:{port}/v1");
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(2));
        var e = await Assert.ThrowsAsync<EndpointUnreachableException>(() => EvalRunner.RunAsync(new EvalRunRequest
        {
            TaskPath = t.TaskPath,
            Subject = new ModelEndpoint { Url = url, Name = "nobody" },
            BaselineNone = true,
            LogDir = t.LogDir,
        }, null, CancellationToken.None));
        Assert.Contains(url.ToString(), e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(t.LogDir));
    }

    [Fact]
    public async Task ResumingAnInterruptedRunDoesNotReAskCompletedSamples()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions { Responder = r => SampleReply.Text(Fixtures.Num(r) % 2 == 0 ? "yes" : "no") });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(10));
        using var cts = new CancellationTokenSource();
        var request = Request(t, server) with { Concurrency = 1 };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => EvalRunner.RunAsync(request,
            new SyncProgress(p => { if (p.Completed == 4) { cts.Cancel(); } }), cts.Token));
        Assert.Equal(4, server.RequestCount);
        var logPath = Directory.GetFiles(t.LogDir, "*.json").Single();
        Assert.Equal("running", EvalLog.Read(logPath).Status);

        var summary = await EvalRunner.RunAsync(request with { ResumeFrom = logPath }, null, CancellationToken.None);
        Assert.Equal(10, server.RequestCount);
        var asked = server.Requests.Select(Fixtures.IdIn).ToList();
        Assert.Equal(10, asked.Distinct().Count());
        Assert.Equal(0.5, summary.Subject.Accuracy, 1e-12);
        Assert.Equal(logPath, summary.LogPath);
        var log = EvalLog.Read(logPath);
        Assert.Equal("complete", log.Status);
        Assert.Equal(10, log.Samples.Count);
    }

    [Fact]
    public async Task EpochsAreReducedPerSampleByMean()
    {
        // q-001 right in epoch 1 only (mean 0.5), q-002 always right (1.0), q-003 never (0). Accuracy = 0.5.
        var count = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r =>
            {
                var id = Fixtures.IdIn(r);
                var k = count.AddOrUpdate(id, 1, (_, v) => v + 1);
                return SampleReply.Text(id == "q-002" || (id == "q-001" && k == 1) ? "yes" : "no");
            },
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(3));
        var summary = await EvalRunner.RunAsync(Request(t, server) with { Epochs = 2, Concurrency = 1 }, null, CancellationToken.None);
        Assert.Equal(0.5, summary.Subject.Accuracy, 1e-12);
        Assert.Equal(2, summary.Subject.Correct); // q-001 (0.5 ≥ 0.5) and q-002
        Assert.Equal(6, server.RequestCount);
    }

    [Fact]
    public async Task TheModelGradedScorerUsesTheGraderVerdict()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model switch
            {
                "sample-frontier" => SampleReply.Text(r.LastUserMessage.Contains("Paris", StringComparison.Ordinal)
                    ? "The answer names Paris.\nGRADE: C" : "Wrong city.\nGRADE: I"),
                _ => SampleReply.Text(r.LastUserMessage.Contains("France", StringComparison.Ordinal) ? "It is Paris." : "It is Rome."),
            },
        });
        using var t = new TempTask("""
            name: graded
            dataset: data.jsonl
            scorer:
              type: model_graded
              rubric: Correct if it names the capital city given in the reference.
            """, [new { id = "g1", input = "Capital of France?", target = "Paris" }, new { id = "g2", input = "Capital of Spain?", target = "Madrid" }]);
        var summary = await EvalRunner.RunAsync(Request(t, server) with { Grader = Fixtures.Endpoint(server, "sample-frontier") }, null, CancellationToken.None);
        Assert.Equal(1, summary.Subject.Correct);
        var log = EvalLog.Read(summary.LogPath);
        Assert.Contains("GRADE: C", log.Samples.Single(s => s.SampleId == "g1").Explanation, StringComparison.Ordinal);
        Assert.Contains(server.Requests, r => r.Model == "sample-frontier" && r.LastUserMessage.Contains("Correct if it names the capital", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ToolUseRunsTheCalculatorThroughTheToolsApi()
    {
        // The bundled profile calls the calculator for "Compute:" prompts when tools are offered, then answers with the result.
        await using var server = await SampleModelServer.StartAsync();
        using var t = new TempTask("""
            name: arithmetic
            dataset: data.jsonl
            solver:
              tools: [calculator]
            scorer:
              type: numeric
              tolerance: 0.001
            """, [new { id = "c1", input = "Compute: (17 * 23) + 2^3", target = "399" }]);
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(1, summary.Subject.Correct);
        Assert.Equal(2, server.RequestCount);
        Assert.Contains("calculator", server.Requests[0].ToolNames);
        Assert.Equal("tool", server.Requests[1].LastMessage!.Role);
        Assert.Equal("399", server.Requests[1].LastMessage!.Content);
        var record = Assert.Single(EvalLog.Read(summary.LogPath).Samples);
        Assert.Contains(record.Messages, m => m.Content.Contains("[call calculator", StringComparison.Ordinal));
        Assert.Equal(2, record.ModelCalls);
    }

    [Fact]
    public async Task CsvDatasetsAndMultiTurnFollowUpsWork()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => SampleReply.Text(r.Messages.Count(m => m.Role == "user") == 2 ? "final: 42" : "thinking"),
        });
        var dir = Directory.CreateTempSubdirectory("embargo-csv-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "d.csv"), "id,input,target,topic\nx1,\"What is six, times seven?\",42,math\n");
            File.WriteAllText(Path.Combine(dir, "t.yaml"), "name: csvtask\ndataset: d.csv\nsolver:\n  turns: [\"Now give only the number.\"]\nscorer:\n  type: includes\n");
            var summary = await EvalRunner.RunAsync(new EvalRunRequest
            {
                TaskPath = Path.Combine(dir, "t.yaml"),
                Subject = Fixtures.Endpoint(server, "sample-camelid-7b"),
                BaselineNone = true,
                LogDir = Path.Combine(dir, "logs"),
                Options = Fixtures.FastOptions,
            }, null, CancellationToken.None);
            Assert.Equal(1, summary.Subject.Correct);
            Assert.Equal(2, server.RequestCount);
            Assert.Equal("What is six, times seven?", server.Requests[0].LastUserMessage);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task AChatMessageListInputIsSentAsIs()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions { Responder = _ => SampleReply.Text("yes") });
        using var t = new TempTask(Fixtures.ExactTask, [new
        {
            id = "m1",
            input = new object[] { new { role = "system", content = "Be terse." }, new { role = "user", content = "Hi" }, new { role = "assistant", content = "Hello" }, new { role = "user", content = "Say yes" } },
            target = new[] { "yes", "y" },
        }]);
        var summary = await EvalRunner.RunAsync(Request(t, server), null, CancellationToken.None);
        Assert.Equal(1, summary.Subject.Correct);
        Assert.Equal(["system", "user", "assistant", "user"], server.Requests[0].Messages.Select(m => m.Role));
    }
}

public class MalformedResponseTests
{
    [Fact]
    public async Task AnUnreadableResponseBodyIsAnErrorThatKeepsTheRawBodyAndTheRunGoesOn()
    {
        const string body = "{\"this is\": not a chat completion";
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => Fixtures.Num(r) == 1 ? new SampleReply { RawBody = body } : SampleReply.Text("yes"),
        });
        using var t = new TempTask(Fixtures.ExactTask, Fixtures.YesQuestions(3));
        var summary = await EvalRunner.RunAsync(new EvalRunRequest
        {
            TaskPath = t.TaskPath,
            Subject = Fixtures.Endpoint(server, "sample-camelid-7b"),
            BaselineNone = true,
            LogDir = t.LogDir,
            Options = Fixtures.FastOptions,
        }, null, CancellationToken.None);
        Assert.Equal(2, summary.Subject.Correct);
        Assert.Equal(2, summary.Subject.Total);   // the error is not an answer: 2 of 2 answered, not 2 of 3
        Assert.Equal(1.0, summary.Subject.Accuracy);
        Assert.Equal(1, summary.Errors);
        Assert.Equal(EvalStatus.Error, summary.Status);
        Assert.Equal(3, server.RequestCount); // not retried
        var record = EvalLog.Read(summary.LogPath).Samples.Single(s => s.SampleId == "q-001");
        Assert.Equal(body, record.Output);
        Assert.Null(record.Score);
        Assert.Contains("unreadable response", record.Error, StringComparison.Ordinal);
    }
}
