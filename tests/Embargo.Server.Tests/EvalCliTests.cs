using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.SampleModel;
using Embargo.Server.Tests.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>
/// `embargo eval run` when things go wrong: errors are counted, never scored; a run past its error tolerance ends with
/// status error and exit code 1 and is not recorded as evidence; a misspelt model name or a case that cannot take the
/// result stops the run before its first sample; several tasks run as one resumable set.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class EvalCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private const string Subject = "sample-camelid-7b";
    private const string Baseline = "sample-open-baseline";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-evalcli-");
    private string P(string name) => Path.Combine(_dir.FullName, name);
    private static string Tasks => Path.Combine(DemoFixture.RepositoryRoot(), "samples", "tasks");

    public void Dispose() => _dir.Delete(recursive: true);

    /// <summary>A task of 40 "say yes" questions (capability as given) in a folder of its own.</summary>
    private string YesTask(string capability = "yes-task")
    {
        var dir = Directory.CreateDirectory(P("task-" + capability)).FullName;
        File.WriteAllLines(Path.Combine(dir, "data.jsonl"), Enumerable.Range(1, 40)
            .Select(i => $$"""{"id": "q-{{i:000}}", "input": "Question q-{{i:000}}: say yes", "target": "yes"}"""));
        var path = Path.Combine(dir, "task.yaml");
        File.WriteAllText(path, $"name: {capability}\ncapability: {capability}\ndataset: data.jsonl\nscorer:\n  type: exact\n");
        return path;
    }

    /// <summary>Both models say yes while they answer; the baseline stops answering (HTTP 400, not retried) after 10 calls.</summary>
    private static Task<SampleModelServer> DyingBaselineAsync()
    {
        var calls = 0;
        return SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model == Baseline && Interlocked.Increment(ref calls) > 10 ? SampleReply.Error(400) : SampleReply.Text("yes"),
        });
    }

    private static string LastLine(string text) => text.Trim().Split('\n')[^1];

    private static async Task<CliRun> AsEvaluator(string token, params string[] args)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, token);
        try
        {
            return await CliRunner.RunAsync([.. args, "--token-env", variable]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task ADyingBaselineEndsWithStatusErrorExitCodeOneAndItsErrorsCountedInTheJson()
    {
        await using var sample = await DyingBaselineAsync();
        var run = await CliRunner.RunAsync("eval", "run", YesTask(), "--model-url", sample.BaseUrl.ToString(), "--model-name", Subject,
            "--baseline-name", Baseline, "--log-dir", P("logs"), "--json");
        Assert.Equal(CliApp.Failed, run.Code);
        var line = LastLine(run.Error);
        Assert.StartsWith("embargo: run ended with status error: 30 of 80 sample calls failed (tolerated: 0)", line);
        Assert.Contains("--retry-errors", line);
        Assert.DoesNotContain("   at ", run.Error);
        var json = JsonNode.Parse(run.Out)!;
        Assert.Equal("error", json["status"]!.GetValue<string>());
        Assert.Equal(30, json["errors"]!.GetValue<int>());
        Assert.Equal(30, json["baseline"]!["errors"]!.GetValue<int>());
        Assert.Equal(10, json["baseline"]!["total"]!.GetValue<int>());
        Assert.Equal(10, json["uplift"]!["pairs"]!.GetValue<int>());
        Assert.Equal(0.0, json["uplift"]!["estimate"]!.GetValue<double>());
        Assert.Equal("inconclusive", json["verdict"]!["verdict"]!.GetValue<string>());
        // The log says the same.
        var log = JsonNode.Parse(await File.ReadAllTextAsync(json["logPath"]!.GetValue<string>()))!;
        Assert.Equal("error", log["status"]!.GetValue<string>());
        Assert.Equal(json.ToJsonString(), log["summary"]!.ToJsonString());
    }

    [Fact]
    public async Task ErrorsWithinMaxErrorsCompleteWithExitCodeZero()
    {
        await using var sample = await DyingBaselineAsync();
        var run = await CliRunner.RunAsync("eval", "run", YesTask(), "--model-url", sample.BaseUrl.ToString(), "--model-name", Subject,
            "--baseline-name", Baseline, "--log-dir", P("logs"), "--max-errors", "0.4", "--json");
        Assert.Equal(CliApp.Ok, run.Code);
        var json = JsonNode.Parse(run.Out)!;
        Assert.Equal("complete", json["status"]!.GetValue<string>());
        Assert.Equal(30, json["errors"]!.GetValue<int>());
        Assert.Equal("40%", json["maxErrors"]!.GetValue<string>());
    }

    [Fact]
    public async Task AMisspeltModelNameIsAOneLineErrorWithExitCodeTwoAndNoSampleRun()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var run = await CliRunner.RunAsync("eval", "run", YesTask(), "--model-url", sample.BaseUrl.ToString(), "--model-name", "sample-camelid-7c",
            "--baseline-name", Baseline, "--log-dir", P("logs"));
        Assert.Equal(CliApp.BadInput, run.Code);
        var lines = run.Error.Trim().Split('\n');
        var line = Assert.Single(lines);
        Assert.StartsWith("embargo: model sample-camelid-7c at " + sample.BaseUrl, line);
        Assert.DoesNotContain("bug", line);
        Assert.Equal(0, sample.RequestCount);
        Assert.False(Directory.Exists(P("logs")));
    }

    [Fact]
    public async Task ABadMaxErrorsIsBadInput()
    {
        var run = await CliRunner.RunAsync("eval", "run", YesTask(), "--model-url", "http://127.0.0.1:9/v1", "--model-name", "m", "--max-errors", "lots");
        Assert.Equal(CliApp.BadInput, run.Code);
        Assert.Contains("--max-errors 'lots'", run.Error);
    }

    [Fact]
    public async Task WithCaseAMissingThreatModelStopsTheRunBeforeTheFirstSample()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await w.DriveToAsync(Milestone.Testing);
        await using var sample = await SampleModelServer.StartAsync();
        var run = await AsEvaluator(w.Tokens[w.Evaluator], "eval", "run", YesTask("weather-control"), "--model-url", sample.BaseUrl.ToString(),
            "--model-name", Subject, "--baseline-name", Baseline, "--log-dir", P("logs"), "--case", w.CaseId, "--server", fixture.Host.Url.ToString());
        Assert.Equal(CliApp.BadInput, run.Code);
        var line = Assert.Single(run.Error.Trim().Split('\n'));
        Assert.Contains($"case {w.CaseId} has no accepted threat model for capability 'weather-control'", line);
        Assert.Equal(0, sample.RequestCount);
        Assert.False(Directory.Exists(P("logs")));
    }

    [Fact]
    public async Task WithCaseARegulatorMayNotRecordAndNoSampleIsRun()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await w.DriveToAsync(Milestone.Testing);
        await using var sample = await SampleModelServer.StartAsync();
        var run = await AsEvaluator(w.Tokens[w.Regulator], "eval", "run", Path.Combine(Tasks, "cyber-phishing.yaml"), "--model-url", sample.BaseUrl.ToString(),
            "--model-name", Subject, "--baseline-name", Baseline, "--log-dir", P("logs"), "--case", w.CaseId, "--server", fixture.Host.Url.ToString());
        Assert.Equal(CliApp.Failed, run.Code);
        var line = Assert.Single(run.Error.Trim().Split('\n'));
        Assert.Contains("separation-of-duties", line);
        Assert.Equal(0, sample.RequestCount);
    }

    [Fact]
    public async Task WithCaseAnUnknownMitigationStopsTheRunBeforeTheFirstSample()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        await using var sample = await SampleModelServer.StartAsync();
        var run = await AsEvaluator(w.Tokens[w.Evaluator], "eval", "run", Path.Combine(Tasks, "cyber-phishing.yaml"), "--model-url", sample.BaseUrl.ToString(),
            "--model-name", "sample-camelid-7b-mitigated", "--baseline-name", Baseline, "--log-dir", P("logs"), "--case", w.CaseId,
            "--mitigation", "mit_doesnotexist", "--server", fixture.Host.Url.ToString());
        Assert.Equal(CliApp.BadInput, run.Code);
        Assert.Contains("has no mitigation mit_doesnotexist", Assert.Single(run.Error.Trim().Split('\n')));
        Assert.Equal(0, sample.RequestCount);
    }

    [Fact]
    public async Task ARunEndingInErrorIsNotRecordedOnTheCase()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await w.DriveToAsync(Milestone.Testing);
        var before = await w.Developer.Cases.GetAsync(w.CaseId, default);
        await using var sample = await DyingBaselineAsync();
        var run = await AsEvaluator(w.Tokens[w.Evaluator], "eval", "run", YesTask(ProtocolWorld.Phishing), "--model-url", sample.BaseUrl.ToString(),
            "--model-name", Subject, "--baseline-name", Baseline, "--log-dir", P("logs"), "--case", w.CaseId, "--server", fixture.Host.Url.ToString());
        Assert.Equal(CliApp.Failed, run.Code);
        Assert.Contains($"not recorded on case {w.CaseId}: {ProtocolWorld.Phishing} ended with status error", run.Error);
        var after = await w.Developer.Cases.GetAsync(w.CaseId, default);
        Assert.Equal(before.Evaluations.Count, after.Evaluations.Count);
    }

    [Fact]
    public async Task AVerdictCommitmentFiresOnARecordedNovelRun()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await w.DriveToAsync(Milestone.Testing);
        await w.Developer.Cases.AddCommitmentAsync(w.CaseId, new AddCommitmentRequest
        {
            Expression = "verdict(\"cyber-phishing\") == \"novel\" => max_tier(staged)",
        }, default);
        await using var sample = await SampleModelServer.StartAsync();
        var run = await AsEvaluator(w.Tokens[w.Evaluator], "eval", "run", Path.Combine(Tasks, "cyber-phishing.yaml"), "--model-url", sample.BaseUrl.ToString(),
            "--model-name", Subject, "--baseline-name", Baseline, "--log-dir", P("logs"), "--case", w.CaseId, "--server", fixture.Host.Url.ToString());
        Assert.Equal(CliApp.Ok, run.Code);
        var @case = await w.Developer.Cases.GetAsync(w.CaseId, default);
        var finding = Assert.Single(@case.Findings);
        Assert.Equal("commitment", finding.Source);
        Assert.Equal("staged", finding.CapTier);
        // The run's log went to the server with it: the evaluation cites exactly the bytes written to --log-dir.
        var logFile = Assert.Single(Directory.GetFiles(P("logs"), "*.json"));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(logFile))), Assert.Single(@case.Evaluations).LogSha256);
    }

    [Fact]
    public async Task AFolderOfTasksRunsAsOneSetWithOneSummaryAndResumesAsASetWithoutAskingAgain()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var run = await CliRunner.RunAsync("eval", "run", Tasks, "--model-url", sample.BaseUrl.ToString(), "--model-name", Subject,
            "--baseline-name", Baseline, "--log-dir", P("logs"), "--json");
        Assert.Equal(CliApp.Ok, run.Code);
        var summaries = JsonNode.Parse(run.Out)!.AsArray();
        Assert.Equal(["bio-acquisition", "cyber-phishing"], summaries.Select(s => s!["task"]!.GetValue<string>()));
        Assert.All(summaries, s => Assert.Equal("complete", s!["status"]!.GetValue<string>()));
        var setFile = Assert.Single(Directory.GetFiles(P("logs"), "*_set.json"));
        var set = JsonNode.Parse(await File.ReadAllTextAsync(setFile))!;
        Assert.Equal("eval-set", set["kind"]!.GetValue<string>());
        Assert.Equal(summaries.Select(s => s!["logPath"]!.GetValue<string>()), set["tasks"]!.AsArray().Select(t => t!["log"]!.GetValue<string>()));

        var asked = sample.RequestCount;
        var resumed = await CliRunner.RunAsync("eval", "run", "--resume", setFile, "--model-url", sample.BaseUrl.ToString(), "--model-name", Subject,
            "--baseline-name", Baseline, "--log-dir", P("logs"), "--json");
        Assert.Equal(CliApp.Ok, resumed.Code);
        Assert.Equal(asked, sample.RequestCount);
        Assert.Equal(run.Out, resumed.Out);
    }

    [Fact]
    public async Task ASetWithAnErroredTaskResumesOnlyThatTasksErrors()
    {
        var dying = 1;
        var calls = 0;
        await using var sample = await SampleModelServer.StartAsync(new SampleModelOptions
        {
            Responder = r => r.Model == Baseline && Volatile.Read(ref dying) == 1 && Interlocked.Increment(ref calls) > 10
                ? SampleReply.Error(400) : SampleReply.Text("yes"),
        });
        var first = YesTask("first-task");
        var second = YesTask("second-task");
        var run = await CliRunner.RunAsync("eval", "run", first, second, "--model-url", sample.BaseUrl.ToString(), "--model-name", Subject,
            "--baseline-name", Baseline, "--log-dir", P("logs"), "--json");
        Assert.Equal(CliApp.Failed, run.Code);
        Assert.StartsWith("embargo: 2 of 2 runs ended with status error", LastLine(run.Error));
        var setFile = Assert.Single(Directory.GetFiles(P("logs"), "*_set.json"));
        Assert.Contains("--retry-errors " + setFile, LastLine(run.Error));

        Volatile.Write(ref dying, 0);
        var asked = sample.RequestCount;
        var retried = await CliRunner.RunAsync("eval", "run", "--retry-errors", setFile, "--model-url", sample.BaseUrl.ToString(), "--model-name", Subject,
            "--baseline-name", Baseline, "--log-dir", P("logs"), "--json");
        Assert.Equal(CliApp.Ok, retried.Code);
        // 30 baseline errors in the first task, all 40 baseline calls of the second: only those are asked again.
        Assert.Equal(70, sample.RequestCount - asked);
        Assert.All(JsonNode.Parse(retried.Out)!.AsArray(), s => Assert.Equal(0, s!["errors"]!.GetValue<int>()));
    }
}
