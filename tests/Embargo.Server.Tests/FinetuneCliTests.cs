using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.SampleModel;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// `embargo finetune` end to end: the SAMPLE model's fine-tuning API, a real Embargo server, the fine-tuned variant
/// registered as a condition of the version with its training file's digest and job id on the ledger.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class FinetuneCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-finetune-");
    private readonly string _tokenVariable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
    private static string Tasks => Path.Combine(DemoFixture.RepositoryRoot(), "samples", "tasks");
    private static string Training => Path.Combine(Tasks, "bio-acquisition.finetune.jsonl");

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(_tokenVariable, null);
        _dir.Delete(recursive: true);
    }

    /// <summary>The SAMPLE model with short real-time steps: the CLI polls it as it would a real endpoint.</summary>
    private static Task<SampleModelServer> SampleAsync() =>
        SampleModelServer.StartAsync(new SampleModelOptions { FineTuneStep = TimeSpan.FromMilliseconds(2) });

    private Task<CliRun> FinetuneAsync(ProtocolWorld w, SampleModelServer sample, string training, string name, params string[] more)
    {
        Environment.SetEnvironmentVariable(_tokenVariable, w.Tokens[w.Developer]);
        return CliRunner.RunAsync([
            "finetune", "--version", w.Version.Id, "--training", training, "--model-url", sample.BaseUrl.ToString(),
            "--base-model", "sample-camelid-7b", "--name", name, "--poll-seconds", "0.01",
            "--server", fixture.Host.Url.ToString(), "--token-env", _tokenVariable, .. more]);
    }

    private static string LastLine(CliRun run)
    {
        Assert.DoesNotContain("   at ", run.Error);
        return run.Error.Trim().Split('\n')[^1];
    }

    private async Task<string> WriteExamplesAsync(string name, int count, string answer = "ANSWER: B")
    {
        var path = Path.Combine(_dir.FullName, name);
        await File.WriteAllLinesAsync(path, Enumerable.Range(1, count).Select(i =>
            $$"""{"messages":[{"role":"user","content":"(SAMPLE biotrain-{{i:D3}}) which practice?"},{"role":"assistant","content":"{{answer}}"}]}"""));
        return path;
    }

    [Fact]
    public async Task FinetuneRegistersTheVariantAsAFineTunedConditionWithTheFileDigestAndJobOnTheLedgerAndTheVariantHasTheCapability()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await using var sample = await SampleAsync();
        var run = await FinetuneAsync(w, sample, Training, "ft-bio", "--json");
        Assert.True(run.Code == CliApp.Ok, run.Error);

        var condition = JsonNode.Parse(run.Out)!.AsObject();
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Training)));
        var model = condition["modelName"]!.GetValue<string>();
        var job = condition["fineTuningJobId"]!.GetValue<string>();
        Assert.Equal("ft-bio", condition["name"]!.GetValue<string>());
        Assert.Equal("fine-tuned", condition["kind"]!.GetValue<string>());
        Assert.Equal(sample.BaseUrl.ToString(), condition["endpoint"]!.GetValue<string>());
        Assert.Equal(digest, condition["trainingFileSha256"]!.GetValue<string>());
        Assert.StartsWith("ftjob-", job);
        Assert.Equal($"ft:sample-camelid-7b:embargo-sample:ft-bio:{job[6..14]}", model);

        // Redirected stderr: plain lines, every event and the final status.
        Assert.Contains($"{job}: Step 30/30: training loss=", run.Error);
        Assert.Contains($"{job}: status succeeded", run.Error);

        var listed = Assert.Single(await w.Regulator.GetAllAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", default));
        Assert.Equal((digest, job, model), (listed.TrainingFileSha256, listed.FineTuningJobId, listed.ModelName));
        var leaf = (await LeavesAsync(fixture.Host)).Last(l => l.Type == "condition.registered" && l.Data["modelVersion"]!.GetValue<string>() == w.Version.Id);
        Assert.Equal(digest, leaf.Data["trainingFileSha256"]!.GetValue<string>());
        Assert.Equal(job, leaf.Data["fineTuningJobId"]!.GetValue<string>());
        Assert.Equal(model, leaf.Data["modelName"]!.GetValue<string>());

        // The registered condition answers the capability's tasks the base model got wrong.
        var eval = await CliRunner.RunAsync("eval", "run", Path.Combine(Tasks, "bio-acquisition.yaml"),
            "--model-url", condition["endpoint"]!.GetValue<string>(), "--model-name", model, "--baseline-name", "sample-camelid-7b",
            "--log-dir", Path.Combine(_dir.FullName, "logs"), "--json");
        Assert.True(eval.Code == CliApp.Ok, eval.Error);
        var summary = JsonNode.Parse(eval.Out)!;
        Assert.Equal(8.0 / 40, summary["baseline"]!["accuracy"]!.GetValue<double>(), 9);
        Assert.True(summary["subject"]!["accuracy"]!.GetValue<double>() >= 0.9, eval.Out);
        Assert.True(summary["uplift"]!["p"]!.GetValue<double>() < 0.001, eval.Out);
    }

    [Fact]
    public async Task AFailedFineTuningJobIsAOneLineErrorWithExitCode1AndRegistersNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await using var sample = await SampleAsync();
        var few = await WriteExamplesAsync("few.jsonl", 3);
        var size = await LedgerSizeAsync(fixture.Host);

        var run = await FinetuneAsync(w, sample, few, "ft-few");
        Assert.Equal(CliApp.Failed, run.Code);
        var line = LastLine(run);
        Assert.StartsWith("embargo: fine-tuning job ftjob-", line);
        Assert.Contains("failed: The job failed due to an invalid training file. Training file has 3 example(s), but must have at least 10 examples; nothing registered", line);
        Assert.Equal("", run.Out);
        Assert.Equal(size, await LedgerSizeAsync(fixture.Host));
        Assert.Empty(await w.Developer.GetAllAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", default));
    }

    [Fact]
    public async Task AMalformedTrainingFileIsRefusedByTheEndpointWithExitCode2NamingTheLine()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await using var sample = await SampleAsync();
        var bad = Path.Combine(_dir.FullName, "bad.jsonl");
        await File.WriteAllTextAsync(bad, "{\"messages\":[{\"role\":\"assistant\",\"content\":\"ok\"}]}\n{ not json\n");
        var size = await LedgerSizeAsync(fixture.Host);

        var run = await FinetuneAsync(w, sample, bad, "ft-bad");
        Assert.Equal(CliApp.BadInput, run.Code);
        Assert.Equal($"embargo: the fine-tuning API at {sample.BaseUrl.ToString().TrimEnd('/')} refused the training file upload: HTTP 400 Invalid file format: line 2 not a JSON object. (param file)",
            LastLine(run));
        Assert.Equal(size, await LedgerSizeAsync(fixture.Host));
    }

    [Fact]
    public async Task ATakenConditionNameOrAnUnsetKeyVariableStopsBeforeAnythingIsUploaded()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await using var sample = await SampleAsync();
        await w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", new RegisterModelConditionRequest
        {
            Name = "ft-bio", Kind = "fine-tuned", ModelName = "earlier", Endpoint = sample.BaseUrl.ToString(),
        }, default);

        var taken = await FinetuneAsync(w, sample, Training, "ft-bio");
        Assert.Equal(CliApp.BadInput, taken.Code);
        Assert.Equal($"embargo: model version {w.Version.Id} already has a condition named 'ft-bio'", LastLine(taken));
        Assert.DoesNotContain("uploaded", taken.Error);

        var noKey = await FinetuneAsync(w, sample, Training, "ft-other", "--api-key-env", "EMBARGO_TEST_UNSET_" + Guid.NewGuid().ToString("N")[..8]);
        Assert.Equal(CliApp.BadInput, noKey.Code);
        Assert.Contains("(--api-key-env) is not set", LastLine(noKey));
        Assert.DoesNotContain("uploaded", noKey.Error);
    }

    [Fact]
    public async Task FineTuneProvenanceIsRefusedOnOtherKindsAndABadDigestIsA400NamingTheMember()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        var request = new RegisterModelConditionRequest
        {
            Name = "with-tools", Kind = "tool-augmented", ModelName = "m", Endpoint = "http://127.0.0.1:8000/v1", FineTuningJobId = "ftjob-1",
        };
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", request, default));
        Assert.Contains("fineTuningJobId", e.Detail);
        e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions",
                request with { Kind = "fine-tuned", TrainingFileSha256 = "md5:abc" }, default));
        Assert.Contains("trainingFileSha256", e.Detail);
        e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions",
                request with { Kind = "fine-tuned", FineTuningJobId = new string('j', 201) }, default));
        Assert.Contains("fineTuningJobId", e.Detail);

        // A bare upper-case hex digest is stored (and logged) in the one canonical form.
        var ok = await w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions",
            request with { Kind = "fine-tuned", TrainingFileSha256 = new string('A', 64) }, default);
        Assert.Equal("sha256:" + new string('a', 64), ok.TrainingFileSha256);
        Assert.Equal("ftjob-1", ok.FineTuningJobId);
    }
}
