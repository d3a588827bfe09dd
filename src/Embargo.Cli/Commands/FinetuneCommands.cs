using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Spectre.Console;
using static Embargo.Cli.Infrastructure.Common;

namespace Embargo.Cli.Commands;

/// <summary>
/// `embargo finetune`: drives an OpenAI-compatible fine-tuning API (upload the training file, create the job, follow
/// its events, wait for the fine-tuned model) and registers the result as a fine-tuned condition of a model version,
/// with the training file's sha256 and the job id on the ledger. Users of released weights can fine-tune; so must
/// the evaluators (rule 10).
/// </summary>
public static class FinetuneCommands
{
    private static readonly string[] Terminal = ["succeeded", "failed", "cancelled"];

    public static Command Create()
    {
        var version = Required("--version", "the model version the fine-tune becomes a condition of");
        var training = Required("--training", "training data: JSONL, one chat example {\"messages\": […]} per line");
        var modelUrl = Required("--model-url", "the OpenAI-compatible base URL of the fine-tuning API (and of the fine-tuned model), e.g. http://127.0.0.1:8000/v1");
        var baseModel = Required("--base-model", "the model to fine-tune at that endpoint");
        var name = Required("--name", "the condition to register, e.g. ft-bio");
        var suffix = new Option<string>("--suffix") { Description = "suffix of the fine-tuned model's name (default: derived from --name)" };
        var epochs = new Option<int?>("--epochs") { Description = "n_epochs, 1–50 (default: the endpoint's 'auto')" };
        var apiKeyEnv = new Option<string>("--api-key-env") { Description = "environment variable holding the fine-tuning endpoint's API key" };
        var poll = new Option<double>("--poll-seconds") { Description = "seconds between status checks", DefaultValueFactory = _ => 5 };
        var timeout = new Option<double>("--timeout-minutes") { Description = "give up waiting after this long (the job keeps running at the endpoint)", DefaultValueFactory = _ => 24 * 60 };
        return Verb("finetune",
            "fine-tune a model over an OpenAI-compatible fine-tuning API and register the result as a fine-tuned condition of a version (developer)",
            [version, training, modelUrl, baseModel, name, suffix, epochs, apiKeyEnv, poll, timeout],
            async (r, embargo, ct) =>
            {
                var url = r.GetValue(modelUrl)!;
                if (!Uri.TryCreate(url, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
                {
                    throw new UserInputException($"--model-url '{url}' is not an http(s) URL");
                }
                var (pollEvery, giveUpAfter) = (r.GetValue(poll), r.GetValue(timeout));
                if (!double.IsFinite(pollEvery) || pollEvery is < 0.01 or > 3600 || !double.IsFinite(giveUpAfter) || giveUpAfter <= 0)
                {
                    throw new UserInputException("--poll-seconds must be 0.01–3600 and --timeout-minutes positive");
                }
                if (r.GetValue(epochs) is { } e && e is < 1 or > 50)
                {
                    throw new UserInputException($"--epochs {e} must be 1–50");
                }
                string? key = null;
                if (r.GetValue(apiKeyEnv) is { } variable)
                {
                    key = Environment.GetEnvironmentVariable(variable);
                    if (string.IsNullOrWhiteSpace(key))
                    {
                        throw new UserInputException($"environment variable {variable} (--api-key-env) is not set");
                    }
                }
                return await RunAsync(embargo, new FinetuneRequest
                {
                    VersionId = r.GetValue(version)!, TrainingPath = r.GetValue(training)!, Endpoint = endpoint, BaseModel = r.GetValue(baseModel)!,
                    Name = r.GetValue(name)!, Suffix = r.GetValue(suffix), Epochs = r.GetValue(epochs), ApiKey = key,
                    Poll = TimeSpan.FromSeconds(pollEvery), Timeout = TimeSpan.FromMinutes(giveUpAfter),
                }, ct);
            });
    }

    /// <summary>
    /// Uploads the training file, creates the job, follows it to the end and registers the fine-tuned model as a condition
    /// of the version (as <paramref name="embargo"/>'s principal, the version's developer). Progress goes to stderr unless
    /// <see cref="FinetuneRequest.Quiet"/>. Failures are <see cref="UserInputException"/> or
    /// <see cref="CommandFailedException"/>; a failed job registers nothing. The demo calls this too.
    /// </summary>
    public static async Task<ModelConditionDto> RunAsync(EmbargoClient embargo, FinetuneRequest request, CancellationToken ct)
    {
        void Note(string line)
        {
            if (!request.Quiet)
            {
                Console.Error.WriteLine(line);
            }
        }
        var modelSuffix = request.Suffix ?? Suffix(request.Name);
        var sha256 = await Sha256Async(request.TrainingPath, ct);

        // Fail fast: the version exists and the name is free before anything is uploaded or trained.
        var versionPath = $"/api/model-versions/{Uri.EscapeDataString(request.VersionId)}";
        await embargo.GetAsync<ModelVersionDto>(versionPath, ct);
        var existing = await embargo.GetAllAsync<ModelConditionDto>(versionPath + "/conditions", ct);
        if (existing.Any(c => c.Name == request.Name))
        {
            throw new UserInputException($"model version {request.VersionId} already has a condition named '{request.Name}'");
        }

        using var api = new FineTuningApi(request.Endpoint, request.ApiKey);
        var file = await api.UploadAsync(request.TrainingPath, ct);
        var fileId = Text(file, "id", "the uploaded file");
        Note($"uploaded {Path.GetFileName(request.TrainingPath)} ({sha256}) as {fileId}");
        var job = await api.CreateJobAsync(fileId, request.BaseModel, modelSuffix, request.Epochs, ct);
        var jobId = Text(job, "id", "the fine-tuning job");
        Note($"created fine-tuning job {jobId} of {request.BaseModel}");

        job = await FollowAsync(api, jobId, request.Poll, request.Timeout, request.Quiet, ct);
        var status = Text(job, "status", $"job {jobId}");
        if (status != "succeeded")
        {
            var why = job["error"] is JsonObject err && err["message"] is JsonValue m && m.TryGetValue<string>(out var message) ? message : "no reason given";
            throw new CommandFailedException($"fine-tuning job {jobId} {status}: {why.ReplaceLineEndings(" ")}; nothing registered");
        }
        if (job["fine_tuned_model"] is not JsonValue ftm || !ftm.TryGetValue<string>(out var fineTuned) || string.IsNullOrWhiteSpace(fineTuned))
        {
            throw new CommandFailedException($"fine-tuning job {jobId} succeeded without a fine_tuned_model; nothing registered");
        }
        Note($"fine-tuned model {fineTuned}");
        return await embargo.PostAsync<ModelConditionDto>(versionPath + "/conditions", new RegisterModelConditionRequest
        {
            Name = request.Name,
            Kind = "fine-tuned",
            ModelName = fineTuned,
            Endpoint = request.Endpoint.ToString(),
            Description = $"fine-tune of {request.BaseModel} on {Path.GetFileName(request.TrainingPath)}",
            TrainingFileSha256 = sha256,
            FineTuningJobId = jobId,
        }, ct);
    }

    /// <summary>A fine-tuned model name suffix from a condition name: letters, digits, '-' and '_', at most 64.</summary>
    private static string Suffix(string conditionName)
    {
        var s = new string(conditionName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').ToArray()).Trim('-');
        return s.Length == 0 ? "ft" : s.Length > 64 ? s[..64] : s;
    }

    private static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        try
        {
            await using var stream = File.OpenRead(path);
            return "sha256:" + Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UserInputException($"cannot read training file '{path}': {e.Message}");
        }
    }

    private static string Text(JsonObject o, string member, string what) =>
        o[member] is JsonValue v && v.TryGetValue<string>(out var s) && s.Length > 0
            ? s
            : throw new CommandFailedException($"the fine-tuning API answered {what} without '{member}'");

    /// <summary>Polls the job and its events until it ends; a bar on a terminal, plain lines otherwise (stderr).</summary>
    private static async Task<JsonObject> FollowAsync(FineTuningApi api, string jobId, TimeSpan every, TimeSpan timeout, bool quiet, CancellationToken ct)
    {
        var started = TimeProvider.System.GetTimestamp();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        async Task<JsonObject> Loop(Action<string, IReadOnlyList<JsonObject>> report)
        {
            while (true)
            {
                var job = await api.GetJobAsync(jobId, ct);
                var status = Text(job, "status", $"job {jobId}");
                report(status, await api.NewEventsAsync(jobId, seen, ct));
                if (Terminal.Contains(status))
                {
                    return job;
                }
                if (TimeProvider.System.GetElapsedTime(started) > timeout)
                {
                    throw new CommandFailedException($"fine-tuning job {jobId} is still {status} after {timeout.TotalMinutes:0.#} minutes; nothing registered (the job keeps running at the endpoint)");
                }
                await Task.Delay(every, TimeProvider.System, ct);
            }
        }
        try
        {
            if (quiet)
            {
                return await Loop((_, _) => { });
            }
            if (Console.IsErrorRedirected)
            {
                var last = "";
                return await Loop((status, events) =>
                {
                    foreach (var e in events)
                    {
                        Console.Error.WriteLine($"{jobId}: {EventText(e)}");
                    }
                    if (status != last)
                    {
                        Console.Error.WriteLine($"{jobId}: status {status}");
                        last = status;
                    }
                });
            }
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            JsonObject? result = null;
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var bar = ctx.AddTask(Markup.Escape(jobId));
                    bar.MaxValue = 1;
                    result = await Loop((status, events) =>
                    {
                        foreach (var e in events)
                        {
                            if (e["data"] is JsonObject d && d["step"] is JsonValue s && s.TryGetValue<int>(out var step)
                                && d["total_steps"] is JsonValue t && t.TryGetValue<int>(out var total) && total > 0)
                            {
                                bar.MaxValue = total;
                                bar.Value = Math.Min(step, total);
                            }
                            else
                            {
                                console.MarkupLine(Markup.Escape(EventText(e)));
                            }
                        }
                        if (status == "succeeded")
                        {
                            bar.Value = bar.MaxValue;
                        }
                        bar.Description = Markup.Escape($"{jobId} {status}");
                    });
                });
            return result!;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw new CommandFailedException($"cancelled; fine-tuning job {jobId} keeps running at the endpoint; nothing registered");
        }
    }

    private static string EventText(JsonObject e) =>
        (e["level"] is JsonValue l && l.TryGetValue<string>(out var level) && level != "info" ? level + ": " : "")
        + (e["message"] is JsonValue m && m.TryGetValue<string>(out var message) ? message.ReplaceLineEndings(" ") : "(event without a message)");

    /// <summary>The few calls of the OpenAI fine-tuning API this verb needs; errors become one-line CLI errors naming the URL.</summary>
    private sealed class FineTuningApi : IDisposable
    {
        private const int MaxEventPages = 50;
        private readonly HttpClient _http;
        private readonly string _base;

        public FineTuningApi(Uri baseUrl, string? key)
        {
            _base = baseUrl.ToString().TrimEnd('/');
            _http = new HttpClient { Timeout = TimeSpan.FromSeconds(100), MaxResponseContentBufferSize = 4 * 1024 * 1024 };
            if (key is not null)
            {
                _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Trim());
            }
        }

        public void Dispose() => _http.Dispose();

        public async Task<JsonObject> UploadAsync(string path, CancellationToken ct)
        {
            Stream stream;
            try
            {
                stream = File.OpenRead(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                throw new UserInputException($"cannot read training file '{path}': {e.Message}");
            }
            await using (stream)
            {
                using var form = new MultipartFormDataContent
                {
                    { new StringContent("fine-tune"), "purpose" },
                    { new StreamContent(stream), "file", Path.GetFileName(path) },
                };
                return await SendAsync(HttpMethod.Post, "/files", form, "the training file upload", ct);
            }
        }

        public Task<JsonObject> CreateJobAsync(string fileId, string model, string suffix, int? epochs, CancellationToken ct)
        {
            var body = new JsonObject { ["training_file"] = fileId, ["model"] = model, ["suffix"] = suffix };
            if (epochs is { } n)
            {
                body["hyperparameters"] = new JsonObject { ["n_epochs"] = n };
            }
            return SendAsync(HttpMethod.Post, "/fine_tuning/jobs", JsonContent.Create(body), "the fine-tuning job", ct);
        }

        public Task<JsonObject> GetJobAsync(string jobId, CancellationToken ct) =>
            SendAsync(HttpMethod.Get, $"/fine_tuning/jobs/{Uri.EscapeDataString(jobId)}", null, $"job {jobId}", ct);

        /// <summary>Events not seen before, oldest first. The API lists newest first; page back until a seen one.</summary>
        public async Task<IReadOnlyList<JsonObject>> NewEventsAsync(string jobId, HashSet<string> seen, CancellationToken ct)
        {
            var fresh = new List<JsonObject>();
            string? after = null;
            for (var page = 0; page < MaxEventPages; page++)
            {
                var query = "?limit=100" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after));
                var list = await SendAsync(HttpMethod.Get, $"/fine_tuning/jobs/{Uri.EscapeDataString(jobId)}/events{query}", null, $"the events of job {jobId}", ct);
                if (list["data"] is not JsonArray data)
                {
                    throw new CommandFailedException($"the fine-tuning API at {_base} answered the events of job {jobId} without a 'data' list");
                }
                var reachedSeen = false;
                foreach (var e in data.OfType<JsonObject>())
                {
                    var id = Text(e, "id", "an event");
                    if (seen.Contains(id))
                    {
                        reachedSeen = true;
                        break;
                    }
                    fresh.Add(e);
                    after = id;
                }
                if (reachedSeen || data.Count == 0 || list["has_more"] is not JsonValue more || !more.TryGetValue<bool>(out var hasMore) || !hasMore)
                {
                    break;
                }
            }
            fresh.Reverse();
            foreach (var e in fresh)
            {
                seen.Add(Text(e, "id", "an event"));
            }
            return fresh;
        }

        private async Task<JsonObject> SendAsync(HttpMethod method, string path, HttpContent? content, string what, CancellationToken ct)
        {
            using var request = new HttpRequestMessage(method, new Uri(_base + path)) { Content = content };
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, ct);
            }
            catch (HttpRequestException e)
            {
                throw new CommandFailedException($"cannot reach the fine-tuning API at {_base}: {e.Message.ReplaceLineEndings(" ")}");
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new CommandFailedException($"the fine-tuning API at {_base} did not answer {what} within {_http.Timeout.TotalSeconds:0} s");
            }
            using (response)
            {
                JsonNode? body;
                try
                {
                    body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
                }
                catch (Exception e) when (e is JsonException or HttpRequestException)
                {
                    body = null;
                }
                if (!response.IsSuccessStatusCode)
                {
                    var error = body?["error"] as JsonObject;
                    var message = error?["message"] is JsonValue m && m.TryGetValue<string>(out var text) ? text.ReplaceLineEndings(" ") : response.ReasonPhrase ?? "";
                    var param = error?["param"] is JsonValue p && p.TryGetValue<string>(out var name) ? $" (param {name})" : "";
                    var line = string.Create(CultureInfo.InvariantCulture, $"the fine-tuning API at {_base} refused {what}: HTTP {(int)response.StatusCode} {message}{param}");
                    // The caller's request was wrong (bad file, unknown model, bad key): exit 2; the endpoint failed: exit 1.
                    throw (int)response.StatusCode is >= 400 and < 500 ? new UserInputException(line) : (Exception)new CommandFailedException(line);
                }
                return body as JsonObject
                    ?? throw new CommandFailedException($"the fine-tuning API at {_base} answered {what} with something that is not a JSON object");
            }
        }
    }
}

/// <summary>What `embargo finetune` does, for callers other than the command line (the demo).</summary>
public sealed record FinetuneRequest
{
    public required string VersionId { get; init; }
    /// <summary>JSONL training file, one chat example {"messages": […]} per line.</summary>
    public required string TrainingPath { get; init; }
    /// <summary>OpenAI-compatible base URL of the fine-tuning API, where the fine-tuned model is then served.</summary>
    public required Uri Endpoint { get; init; }
    public required string BaseModel { get; init; }
    /// <summary>The condition to register, e.g. "ft-bio".</summary>
    public required string Name { get; init; }
    /// <summary>Suffix of the fine-tuned model's name; null = derived from <see cref="Name"/>.</summary>
    public string? Suffix { get; init; }
    public int? Epochs { get; init; }
    public string? ApiKey { get; init; }
    public TimeSpan Poll { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromDays(1);
    /// <summary>No progress on stderr.</summary>
    public bool Quiet { get; init; }
}
