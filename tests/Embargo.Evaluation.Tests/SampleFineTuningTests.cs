using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.SampleModel;
using Microsoft.Extensions.Time.Testing;
using OpenAI;
using OpenAI.Files;
using OpenAI.FineTuning;

namespace Embargo.Evaluation.Tests;

/// <summary>The SAMPLE model's OpenAI-compatible fine-tuning API: shapes, the job lifecycle on the server's clock, and the variant it yields.</summary>
public sealed class SampleFineTuningTests : IDisposable
{
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 3, 6, 0, 0, TimeSpan.Zero));
    private readonly HttpClient _http = new();
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-ft-");

    private static string TrainingFile => Path.Combine(Fixtures.SamplesRoot, "bio-acquisition.finetune.jsonl");

    public void Dispose()
    {
        _http.Dispose();
        _dir.Delete(recursive: true);
    }

    private Task<SampleModelServer> StartAsync(SampleModelOptions? options = null) =>
        SampleModelServer.StartAsync((options ?? new SampleModelOptions()) with { Time = _clock, FineTuneStep = Step });

    private async Task<(HttpStatusCode Status, JsonObject Body)> UploadAsync(SampleModelServer server, byte[] content, string purpose = "fine-tune", string name = "train.jsonl")
    {
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent(purpose), "purpose");
        form.Add(new ByteArrayContent(content), "file", name);
        using var response = await _http.PostAsync(new Uri(server.BaseUrl + "/files"), form);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    private async Task<(HttpStatusCode Status, JsonObject Body)> SendAsync(SampleModelServer server, string path, object? body = null)
    {
        using var response = body is null
            ? await _http.GetAsync(new Uri(server.BaseUrl + path))
            : await _http.PostAsJsonAsync(new Uri(server.BaseUrl + path), body);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject());
    }

    private async Task<JsonObject> FineTuneAsync(SampleModelServer server, byte[] training, string suffix)
    {
        var (_, file) = await UploadAsync(server, training);
        var (status, job) = await SendAsync(server, "/fine_tuning/jobs", new { training_file = file["id"]!.GetValue<string>(), model = "sample-camelid-7b", suffix });
        Assert.Equal(HttpStatusCode.OK, status);
        return job;
    }

    private static string S(JsonNode? node) => node!.GetValue<string>();

    private static void OpenAIError(JsonObject body, string? param, string? code = null)
    {
        var error = body["error"]!.AsObject();
        Assert.Equal(["message", "type", "param", "code"], error.Select(p => p.Key));
        Assert.Equal("invalid_request_error", S(error["type"]));
        Assert.Equal(param, error["param"]?.GetValue<string>());
        Assert.Equal(code, error["code"]?.GetValue<string>());
    }

    /// <summary>Ten or more chat examples of the given training items, each labelled right or wrong.</summary>
    private static byte[] Examples(IEnumerable<(string Id, string Answer)> items) => Encoding.UTF8.GetBytes(string.Concat(items.Select(i =>
        JsonSerializer.Serialize(new
        {
            messages = new object[]
            {
                new { role = "user", content = $"(SAMPLE {i.Id}) which practice?" },
                new { role = "assistant", content = "ANSWER: " + i.Answer },
            },
        }) + "\n")));

    private static async Task<EvalSummary> EvaluateAsync(SampleModelServer server, string task, string subject, string logDir) =>
        await EvalRunner.RunAsync(new EvalRunRequest
        {
            TaskPath = Path.Combine(Fixtures.SamplesRoot, task),
            Subject = Fixtures.Endpoint(server, subject),
            Baseline = Fixtures.Endpoint(server, "sample-camelid-7b"),
            LogDir = logDir,
            Options = Fixtures.FastOptions,
        }, null, CancellationToken.None);

    [Fact]
    public async Task AnUploadedTrainingFileIsAnOpenAIFileObject()
    {
        await using var server = await StartAsync();
        var bytes = await File.ReadAllBytesAsync(TrainingFile);
        var (status, file) = await UploadAsync(server, bytes, name: "bio-acquisition.finetune.jsonl");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.StartsWith("file-", S(file["id"]));
        Assert.Equal("file", S(file["object"]));
        Assert.Equal(bytes.Length, file["bytes"]!.GetValue<long>());
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds(), file["created_at"]!.GetValue<long>());
        Assert.Equal("bio-acquisition.finetune.jsonl", S(file["filename"]));
        Assert.Equal("fine-tune", S(file["purpose"]));
        var (again, fetched) = await SendAsync(server, "/files/" + S(file["id"]));
        Assert.Equal(HttpStatusCode.OK, again);
        Assert.Equal(file.ToJsonString(), fetched.ToJsonString());
    }

    [Fact]
    public async Task AJobMovesFromValidatingThroughQueuedAndRunningToSucceededOnlyAsTheServersClockAdvances()
    {
        await using var server = await StartAsync();
        var job = await FineTuneAsync(server, await File.ReadAllBytesAsync(TrainingFile), "bio");
        var id = S(job["id"]);
        Assert.StartsWith("ftjob-", id);
        Assert.Equal("fine_tuning.job", S(job["object"]));
        Assert.Equal("sample-camelid-7b", S(job["model"]));
        Assert.Equal("validating_files", S(job["status"]));
        Assert.Null(job["fine_tuned_model"]);
        Assert.Null(job["finished_at"]);
        Assert.Null(job["error"]);
        // 60 examples, batch size auto = 6, 3 epochs: 30 steps.
        Assert.Equal(3, job["hyperparameters"]!["n_epochs"]!.GetValue<int>());
        Assert.Equal(6, job["hyperparameters"]!["batch_size"]!.GetValue<int>());

        async Task<JsonObject> Job() => (await SendAsync(server, "/fine_tuning/jobs/" + id)).Body;
        Assert.Equal("validating_files", S((await Job())["status"]));   // no time passed, nothing moved
        _clock.Advance(Step);
        Assert.Equal("queued", S((await Job())["status"]));
        _clock.Advance(Step);
        var running = await Job();
        Assert.Equal("running", S(running["status"]));
        Assert.Null(running["fine_tuned_model"]);
        _clock.Advance(Step * 30);
        Assert.Equal("running", S((await Job())["status"]));             // the last step is done; the model is not written yet
        var model = $"ft:sample-camelid-7b:embargo-sample:bio:{id[6..14]}";
        var (notYet, _) = await SendAsync(server, "/chat/completions", new { model, messages = new[] { new { role = "user", content = "(SAMPLE bio-001) ?" } } });
        Assert.Equal(HttpStatusCode.NotFound, notYet);
        _clock.Advance(Step);
        var done = await Job();
        Assert.Equal("succeeded", S(done["status"]));
        Assert.Equal(model, S(done["fine_tuned_model"]));
        Assert.Equal(job["created_at"]!.GetValue<long>(), done["created_at"]!.GetValue<long>());
        Assert.Equal(_clock.GetUtcNow().ToUnixTimeSeconds(), done["finished_at"]!.GetValue<long>());
        Assert.True(done["trained_tokens"]!.GetValue<long>() > 0);

        // Events: newest first, 2 + 1 + 1 + 30 metrics + 2.
        var (_, events) = await SendAsync(server, $"/fine_tuning/jobs/{id}/events?limit=100");
        Assert.Equal("list", S(events["object"]));
        Assert.False(events["has_more"]!.GetValue<bool>());
        var data = events["data"]!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(36, data.Count);
        Assert.All(data, e => Assert.Equal("fine_tuning.job.event", S(e["object"])));
        Assert.Equal("The job has successfully completed", S(data[0]["message"]));
        Assert.Equal($"Created fine-tuning job: {id}", S(data[^1]["message"]));
        var metrics = data.Where(e => S(e["type"]) == "metrics").Reverse().ToList();
        Assert.Equal(Enumerable.Range(1, 30), metrics.Select(m => m["data"]!["step"]!.GetValue<int>()));
        Assert.All(metrics, m => Assert.Equal(30, m["data"]!["total_steps"]!.GetValue<int>()));
        Assert.Equal("Step 30/30: training loss=0.2421", S(metrics[^1]["message"]));

        // Paging: `after` is the last id of the previous page.
        var (_, first) = await SendAsync(server, $"/fine_tuning/jobs/{id}/events?limit=20");
        Assert.True(first["has_more"]!.GetValue<bool>());
        var after = S(first["data"]!.AsArray()[^1]!["id"]);
        var (_, second) = await SendAsync(server, $"/fine_tuning/jobs/{id}/events?limit=20&after={after}");
        Assert.False(second["has_more"]!.GetValue<bool>());
        Assert.Equal(data.Select(e => S(e["id"])),
            first["data"]!.AsArray().Concat(second["data"]!.AsArray()).Select(e => S(e!["id"])));

        // The variant is listed with the SAMPLE models.
        var (_, models) = await SendAsync(server, "/models");
        Assert.Contains(model, models["data"]!.AsArray().Select(m => S(m!["id"])));
    }

    [Fact]
    public async Task TheOfficialOpenAIClientUploadsAndFineTunesAndReadsTheFinishedJob()
    {
#pragma warning disable OPENAI001 // the SDK marks its fine-tuning client experimental
        await using var server = await StartAsync();
        var client = new OpenAIClient(new ApiKeyCredential("sample-key"), new OpenAIClientOptions { Endpoint = server.BaseUrl });
        OpenAIFile file = await client.GetOpenAIFileClient().UploadFileAsync(TrainingFile, FileUploadPurpose.FineTune);
        Assert.Equal(new FileInfo(TrainingFile).Length, file.SizeInBytesLong);
        var job = await client.GetFineTuningClient().FineTuneAsync("sample-camelid-7b", file.Id, waitUntilCompleted: false, new FineTuningOptions { Suffix = "sdk" });
        Assert.Equal(FineTuningStatus.ValidatingFiles, job.Status);
        Assert.False(job.HasCompleted);
        _clock.Advance(Step * 40);
        await job.UpdateStatusAsync();
        Assert.True(job.HasCompleted);
        Assert.Equal(FineTuningStatus.Succeeded, job.Status);
        var raw = JsonNode.Parse(job.GetRawResponse().Content.ToString())!;
        Assert.Equal($"ft:sample-camelid-7b:embargo-sample:sdk:{job.JobId[6..14]}", S(raw["fine_tuned_model"]));
#pragma warning restore OPENAI001
    }

    [Fact]
    public async Task TheFineTunedVariantAnswersTheBioTasksTheBaseModelGotWrongAndNothingElseChanges()
    {
        await using var server = await StartAsync();
        var job = await FineTuneAsync(server, await File.ReadAllBytesAsync(TrainingFile), "bio");
        _clock.Advance(Step * 100);
        var model = S((await SendAsync(server, "/fine_tuning/jobs/" + S(job["id"]))).Body["fine_tuned_model"]);

        var bio = await EvaluateAsync(server, "bio-acquisition.yaml", model, _dir.FullName);
        // Base 8/40. 60 correctly labelled items ≥ 50 for full effect: ceiling 0.9 → 36 questions learned, plus the base's own.
        Assert.Equal(8, bio.Baseline!.Correct);
        Assert.True(bio.Subject.Correct >= 36, $"variant answered {bio.Subject.Correct}/40");
        Assert.True(bio.Uplift!.Estimate >= 0.7);
        Assert.True(bio.Uplift.P < 0.001);

        // Fine-tuning on bio data leaves the phishing capability exactly as the base model's: 34/40, no discordant pairs.
        var phishing = await EvaluateAsync(server, "cyber-phishing.yaml", model, _dir.FullName);
        Assert.Equal(34, phishing.Subject.Correct);
        Assert.Equal(34, phishing.Baseline!.Correct);
        Assert.Equal(0, phishing.Uplift!.Estimate);
    }

    [Fact]
    public async Task MislabelledTrainingDataTeachesNothing()
    {
        await using var server = await StartAsync();
        var profile = CapabilityProfile.LoadBundled();
        var wrong = profile.Training.Select(t => (t.Key, t.Value.Correct == "A" ? "B" : "A"));
        var job = await FineTuneAsync(server, Examples(wrong), "wrong");
        _clock.Advance(Step * 100);
        var done = (await SendAsync(server, "/fine_tuning/jobs/" + S(job["id"]))).Body;
        Assert.Equal("succeeded", S(done["status"]));
        var bio = await EvaluateAsync(server, "bio-acquisition.yaml", S(done["fine_tuned_model"]), _dir.FullName);
        Assert.Equal(8, bio.Subject.Correct);
        Assert.Equal(0, bio.Uplift!.Estimate);
    }

    [Fact]
    public void HalfTheTrainingItemsTeachHalfAsMuch()
    {
        // 25 of the 50 items needed for full effect: 0.5 × 0.9 × 40 = 18 questions learned (the first 18 in the fixed order).
        var profile = CapabilityProfile.LoadBundled();
        var items = profile.Training.OrderBy(t => t.Key, StringComparer.Ordinal).Take(25).Select(t => t.Key).ToList();
        var learned = profile.Learn(items);
        Assert.Equal(18, learned.Count);
        Assert.All(learned, q => Assert.StartsWith("bio-", q));
        Assert.Superset(learned.ToHashSet(), profile.Learn(profile.Training.Keys).ToHashSet());
        Assert.Equal(36, profile.Learn(profile.Training.Keys).Count);
        Assert.Empty(profile.Learn(["phish-001", "biotrain-999"]));
    }

    [Fact]
    public async Task AFileWithTooFewExamplesFailsTheJobWithAnErrorAndNoModel()
    {
        await using var server = await StartAsync();
        var profile = CapabilityProfile.LoadBundled();
        var job = await FineTuneAsync(server, Examples(profile.Training.Take(3).Select(t => (t.Key, t.Value.Correct))), "few");
        Assert.Equal("validating_files", S(job["status"]));
        _clock.Advance(Step);
        var failed = (await SendAsync(server, "/fine_tuning/jobs/" + S(job["id"]))).Body;
        Assert.Equal("failed", S(failed["status"]));
        Assert.Null(failed["fine_tuned_model"]);
        Assert.Equal("invalid_training_file", S(failed["error"]!["code"]));
        Assert.Equal("training_file", S(failed["error"]!["param"]));
        Assert.Contains("Training file has 3 example(s), but must have at least 10 examples", S(failed["error"]!["message"]));
        _clock.Advance(Step * 100);
        Assert.Equal("failed", S((await SendAsync(server, "/fine_tuning/jobs/" + S(job["id"]))).Body["status"]));
        var (_, events) = await SendAsync(server, $"/fine_tuning/jobs/{S(job["id"])}/events");
        Assert.Equal("error", S(events["data"]![0]!["level"]));
        var (_, models) = await SendAsync(server, "/models");
        Assert.Equal(server.Models, models["data"]!.AsArray().Select(m => S(m!["id"])));
    }

    public static TheoryData<string, string, int, string> BadUploads => new()
    {
        { "wrong purpose", "{\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}\n", 400, "purpose" },
        { "line 2 is not JSON", "{\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}\nnot json\n", 400, "line 2" },
        { "no assistant message", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n", 400, "assistant" },
        { "unknown role", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"hi\"}]}\n", 400, "role" },
        { "too many lines", string.Concat(Enumerable.Repeat("{\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}\n", 21)), 400, "at most 20" },
        { "too large", new string('x', 5000), 413, "at most 4096" },
        { "nested too deep", "{\"messages\":" + new string('[', 40) + new string(']', 40) + "}\n", 400, "line 1" },
    };

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task ABadTrainingFileIsRefusedAtUploadWithAnOpenAIErrorNamingTheParameter(string why, string content, int status, string message)
    {
        await using var server = await StartAsync(new SampleModelOptions { MaxTrainingFileBytes = 4096, MaxTrainingLines = 20 });
        var (code, body) = await UploadAsync(server, Encoding.UTF8.GetBytes(content), purpose: why == "wrong purpose" ? "assistants" : "fine-tune");
        Assert.Equal((HttpStatusCode)status, code);
        OpenAIError(body, why == "wrong purpose" ? "purpose" : "file", body["error"]!["code"]?.GetValue<string>());
        Assert.Contains(message, S(body["error"]!["message"]));
    }

    [Fact]
    public async Task ABadJobRequestIsAnOpenAIErrorNamingTheParameter()
    {
        await using var server = await StartAsync();
        var (_, file) = await UploadAsync(server, await File.ReadAllBytesAsync(TrainingFile));
        var fileId = S(file["id"]);

        var (status, body) = await SendAsync(server, "/fine_tuning/jobs", new { training_file = fileId, model = "gpt-unknown" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        OpenAIError(body, "model", "model_not_available");

        (status, body) = await SendAsync(server, "/fine_tuning/jobs", new { training_file = "file-nope", model = "sample-camelid-7b" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        OpenAIError(body, "training_file", "invalid_training_file");

        (status, body) = await SendAsync(server, "/fine_tuning/jobs", new { training_file = fileId, model = "sample-camelid-7b", suffix = "no spaces allowed" });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        OpenAIError(body, "suffix");

        (status, body) = await SendAsync(server, "/fine_tuning/jobs", new { training_file = fileId, model = "sample-camelid-7b", hyperparameters = new { n_epochs = 0 } });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        OpenAIError(body, "hyperparameters");

        (status, body) = await SendAsync(server, "/fine_tuning/jobs/ftjob-nope");
        Assert.Equal(HttpStatusCode.NotFound, status);
        OpenAIError(body, "fine_tuning_job_id", "fine_tune_not_found");

        (status, body) = await SendAsync(server, "/fine_tuning/jobs/ftjob-nope/events?limit=1000");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        OpenAIError(body, "limit");
    }
}
