using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Embargo.SampleModel;

/// <summary>An OpenAI-shaped API error: HTTP status, message, the request member it concerns and a code.</summary>
public sealed record SampleApiError(int Status, string Message, string? Param = null, string? Code = null);

/// <summary>An uploaded training file (purpose fine-tune), already checked line by line.</summary>
internal sealed record SampleTrainingFile(string Id, string Filename, long Bytes, long CreatedAt, int Examples, int Tokens, IReadOnlyList<string> CorrectItems);

/// <summary>
/// The SAMPLE model's fine-tuning: files and jobs in memory, in the shapes of the OpenAI fine-tuning API. A job's
/// progress is a pure function of the server's <see cref="TimeProvider"/>: it moves one stage per
/// <see cref="SampleModelOptions.FineTuneStep"/> (validating_files → queued → running, one training step per step →
/// succeeded), so tests drive it with a fake clock. Training is not real: the variant learns what
/// <see cref="CapabilityProfile.Learn"/> says its correctly labelled training items teach.
/// </summary>
internal sealed class SampleFineTuning(CapabilityProfile profile, SampleModelOptions options)
{
    public const int MinExamples = 10;
    public const int MaxStoredFiles = 1000;
    public const int MaxStoredJobs = 1000;
    public const int MaxSteps = 1000;
    private const int MaxMessagesPerExample = 64;
    private const int MaxJsonDepth = 16;
    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];

    private readonly ConcurrentDictionary<string, SampleTrainingFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Job> _jobs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Job> _byModel = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private TimeProvider Time => options.Time;

    private sealed record Job
    {
        public required string Id { get; init; }
        public required string Model { get; init; }
        public required string TrainingFile { get; init; }
        public required string? Suffix { get; init; }
        public required DateTimeOffset Created { get; init; }
        public required int Epochs { get; init; }
        public required int BatchSize { get; init; }
        public required double LearningRateMultiplier { get; init; }
        public required long Seed { get; init; }
        public required int TotalSteps { get; init; }
        public required int TrainedTokens { get; init; }
        /// <summary>Why validation fails (revealed one step after creation), or null.</summary>
        public required string? Failure { get; init; }
        public required FineTunedVariant Variant { get; init; }
    }

    private enum Stage { ValidatingFiles, Queued, Running, Succeeded, Failed }

    /// <summary>A succeeded fine-tune served under <paramref name="model"/>, or null.</summary>
    public FineTunedVariant? Variant(string model) =>
        _byModel.TryGetValue(model, out var job) && StageOf(job, out _) == Stage.Succeeded ? job.Variant : null;

    /// <summary>The succeeded fine-tunes, in creation order.</summary>
    public IEnumerable<FineTunedVariant> Variants() =>
        _jobs.Values.OrderBy(j => j.Created).ThenBy(j => j.Id, StringComparer.Ordinal)
            .Where(j => StageOf(j, out _) == Stage.Succeeded).Select(j => j.Variant);

    // ---------------------------------------------------------------- files

    public (JsonObject? File, SampleApiError? Error) Upload(string? purpose, string? filename, byte[] content)
    {
        if (purpose != "fine-tune")
        {
            return (null, new SampleApiError(400, $"'{purpose}' is not a supported purpose on this SAMPLE server; use 'fine-tune'.", "purpose"));
        }
        if (content.LongLength > options.MaxTrainingFileBytes)
        {
            return (null, new SampleApiError(413, $"The file is {content.LongLength} bytes; this SAMPLE server accepts at most {options.MaxTrainingFileBytes}.", "file"));
        }
        var (parsed, error) = ParseTrainingFile(content);
        if (error is not null)
        {
            return (null, error);
        }
        var name = string.IsNullOrWhiteSpace(filename) ? "training.jsonl" : Path.GetFileName(filename);
        if (name.Length > 255)
        {
            name = name[..255];
        }
        lock (_gate)
        {
            if (_files.Count >= MaxStoredFiles)
            {
                return (null, new SampleApiError(400, $"This SAMPLE server keeps at most {MaxStoredFiles} files.", "file", "file_limit_reached"));
            }
            var file = new SampleTrainingFile("file-" + RandomNumberGenerator.GetHexString(24, lowercase: true), name, content.LongLength,
                Time.GetUtcNow().ToUnixTimeSeconds(), parsed!.Value.Examples, parsed.Value.Tokens, parsed.Value.CorrectItems);
            _files[file.Id] = file;
            return (FileJson(file), null);
        }
    }

    public JsonObject? GetFile(string id) => _files.TryGetValue(id, out var f) ? FileJson(f) : null;

    private static JsonObject FileJson(SampleTrainingFile f) => new()
    {
        ["id"] = f.Id, ["object"] = "file", ["bytes"] = f.Bytes, ["created_at"] = f.CreatedAt, ["filename"] = f.Filename,
        ["purpose"] = "fine-tune", ["status"] = "processed", ["status_details"] = null,
    };

    /// <summary>Checks the chat-format JSONL line by line (bounded) and notes which training items are labelled correctly.</summary>
    private (( int Examples, int Tokens, List<string> CorrectItems)? Parsed, SampleApiError? Error) ParseTrainingFile(byte[] content)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            return (null, new SampleApiError(400, "Invalid file format: the file is not UTF-8 text.", "file", "invalid_file_format"));
        }
        var lines = text.Split('\n');
        var count = lines.Length;
        while (count > 0 && string.IsNullOrWhiteSpace(lines[count - 1]))
        {
            count--;
        }
        if (count > options.MaxTrainingLines)
        {
            return (null, new SampleApiError(400, $"The file has {count} lines; this SAMPLE server accepts at most {options.MaxTrainingLines}.", "file", "invalid_file_format"));
        }
        var (examples, tokens) = (0, 0);
        var correct = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                return (null, Bad(i, "empty line"));
            }
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line, documentOptions: new JsonDocumentOptions { MaxDepth = MaxJsonDepth });
            }
            catch (JsonException)
            {
                return (null, Bad(i, "not a JSON object"));
            }
            if (node is not JsonObject example || example["messages"] is not JsonArray messages || messages.Count == 0)
            {
                return (null, Bad(i, "needs a non-empty 'messages' array"));
            }
            if (messages.Count > MaxMessagesPerExample)
            {
                return (null, Bad(i, $"has more than {MaxMessagesPerExample} messages"));
            }
            string? item = null;
            string? answer = null;
            foreach (var m in messages)
            {
                if (m is not JsonObject message
                    || message["role"] is not JsonValue r || !r.TryGetValue<string>(out var role) || !Roles.Contains(role)
                    || message["content"] is not JsonValue c || !c.TryGetValue<string>(out var messageContent))
                {
                    return (null, Bad(i, "every message needs a role (system, user, assistant, tool) and string content"));
                }
                tokens += messageContent.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;
                if (role == "user")
                {
                    item ??= CapabilityProfile.SampleId(messageContent);
                }
                else if (role == "assistant")
                {
                    answer = messageContent;
                }
            }
            if (answer is null)
            {
                return (null, Bad(i, "needs at least one assistant message"));
            }
            examples++;
            if (item is not null && profile.Training.TryGetValue(item, out var training) && Letter(answer) == training.Correct)
            {
                correct.Add(item);
            }
        }
        return ((examples, tokens, correct), null);

        static SampleApiError Bad(int index, string why) =>
            new(400, string.Create(CultureInfo.InvariantCulture, $"Invalid file format: line {index + 1} {why}."), "file", "invalid_file_format");
    }

    /// <summary>"ANSWER: B" or "B" → "B".</summary>
    private static string Letter(string answer)
    {
        var a = answer.Trim();
        if (a.StartsWith("ANSWER:", StringComparison.OrdinalIgnoreCase))
        {
            a = a["ANSWER:".Length..].Trim();
        }
        return a.ToUpperInvariant();
    }

    // ---------------------------------------------------------------- jobs

    public (JsonObject? Job, SampleApiError? Error) Create(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            return (null, new SampleApiError(400, "The request body must be a JSON object.", null));
        }
        if (!body.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(m.GetString()))
        {
            return (null, new SampleApiError(400, "'model' is required.", "model"));
        }
        var model = m.GetString()!;
        var parent = Variant(model);
        if (parent is null && !profile.Models.Any(x => x.Id == model))
        {
            return (null, new SampleApiError(400, $"Model {model} is not available for fine-tuning or does not exist.", "model", "model_not_available"));
        }
        if (!body.TryGetProperty("training_file", out var tf) || tf.ValueKind != JsonValueKind.String)
        {
            return (null, new SampleApiError(400, "'training_file' is required.", "training_file"));
        }
        if (!_files.TryGetValue(tf.GetString()!, out var file))
        {
            return (null, new SampleApiError(400, $"invalid training_file: {tf.GetString()}", "training_file", "invalid_training_file"));
        }
        string? suffix = null;
        if (body.TryGetProperty("suffix", out var sx) && sx.ValueKind != JsonValueKind.Null)
        {
            suffix = sx.ValueKind == JsonValueKind.String ? sx.GetString() : null;
            if (suffix is null || suffix.Length is 0 or > 64 || !suffix.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
            {
                return (null, new SampleApiError(400, "'suffix' must be 1–64 characters of letters, digits, '-' and '_'.", "suffix"));
            }
        }
        var hp = body.TryGetProperty("hyperparameters", out var h) && h.ValueKind == JsonValueKind.Object ? h : default;
        if (!Hyper(hp, "n_epochs", 1, 50, out var epochs) || !Hyper(hp, "batch_size", 1, 256, out var batch))
        {
            return (null, new SampleApiError(400, "hyperparameters.n_epochs must be 'auto' or 1–50, hyperparameters.batch_size 'auto' or 1–256.", "hyperparameters"));
        }
        var lrm = 1.0;
        if (hp.ValueKind == JsonValueKind.Object && hp.TryGetProperty("learning_rate_multiplier", out var l) && !(l.ValueKind == JsonValueKind.String && l.GetString() == "auto"))
        {
            if (l.ValueKind != JsonValueKind.Number || !l.TryGetDouble(out lrm) || !double.IsFinite(lrm) || lrm <= 0 || lrm > 10)
            {
                return (null, new SampleApiError(400, "hyperparameters.learning_rate_multiplier must be 'auto' or in (0, 10].", "hyperparameters"));
            }
        }
        long seed = 42;
        if (body.TryGetProperty("seed", out var sd) && sd.ValueKind != JsonValueKind.Null && !sd.TryGetInt64(out seed))
        {
            return (null, new SampleApiError(400, "'seed' must be an integer.", "seed"));
        }
        var n = epochs ?? 3;
        var b = batch ?? Math.Max(1, (file.Examples + 9) / 10);
        // Capped so that a job's event list (one metrics event per step) stays small.
        var steps = Math.Clamp(n * ((file.Examples + b - 1) / b), 1, MaxSteps);
        var failure = file.Examples < MinExamples
            ? $"Training file has {file.Examples} example(s), but must have at least {MinExamples} examples"
            : null;
        lock (_gate)
        {
            if (_jobs.Count >= MaxStoredJobs)
            {
                return (null, new SampleApiError(400, $"This SAMPLE server keeps at most {MaxStoredJobs} fine-tuning jobs.", null, "job_limit_reached"));
            }
            var id = "ftjob-" + RandomNumberGenerator.GetHexString(24, lowercase: true);
            var root = parent?.BaseModel ?? model;
            var name = $"ft:{root}:{SampleModelServer.Owner}:{suffix}:{id[6..14]}";
            var learned = new HashSet<string>(parent?.Learned ?? new HashSet<string>(), StringComparer.Ordinal);
            learned.UnionWith(profile.Learn(file.CorrectItems));
            var job = new Job
            {
                Id = id, Model = model, TrainingFile = file.Id, Suffix = suffix, Created = Time.GetUtcNow(), Epochs = n, BatchSize = b,
                LearningRateMultiplier = lrm, Seed = seed, TotalSteps = steps, TrainedTokens = file.Tokens * n, Failure = failure,
                Variant = new FineTunedVariant(name, root, learned),
            };
            _jobs[id] = job;
            if (failure is null)
            {
                _byModel[name] = job;
            }
            return (JobJson(job), null);
        }
    }

    private static bool Hyper(JsonElement hp, string name, int min, int max, out int? value)
    {
        value = null;
        if (hp.ValueKind != JsonValueKind.Object || !hp.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null
            || (v.ValueKind == JsonValueKind.String && v.GetString() == "auto"))
        {
            return true;
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i >= min && i <= max)
        {
            value = i;
            return true;
        }
        return false;
    }

    public JsonObject? Get(string id) => _jobs.TryGetValue(id, out var job) ? JobJson(job) : null;

    /// <summary>The job's events so far, newest first, paged as the OpenAI API does (after = the last id of the previous page).</summary>
    public JsonObject? Events(string id, string? after, int limit)
    {
        if (!_jobs.TryGetValue(id, out var job))
        {
            return null;
        }
        StageOf(job, out var elapsed);
        var all = Timeline(job).Where(e => e.Offset <= elapsed).Reverse().ToList();
        var start = 0;
        if (after is not null)
        {
            var index = all.FindIndex(e => e.Id == after);
            start = index < 0 ? all.Count : index + 1;
        }
        var page = all.Skip(start).Take(limit).ToList();
        var data = new JsonArray();
        foreach (var e in page)
        {
            data.Add(new JsonObject
            {
                ["object"] = "fine_tuning.job.event", ["id"] = e.Id, ["created_at"] = At(job, e.Offset), ["level"] = e.Level,
                ["message"] = e.Message, ["data"] = e.Data ?? new JsonObject(), ["type"] = e.Data is null ? "message" : "metrics",
            });
        }
        return new JsonObject { ["object"] = "list", ["data"] = data, ["has_more"] = start + page.Count < all.Count };
    }

    private sealed record Event(string Id, long Offset, string Level, string Message, JsonObject? Data);

    private static IEnumerable<Event> Timeline(Job job)
    {
        var n = 0;
        Event E(long offset, string level, string message, JsonObject? data = null) =>
            new($"ftevent-{job.Id[6..]}-{n++:D3}", offset, level, message, data);
        yield return E(0, "info", $"Created fine-tuning job: {job.Id}");
        yield return E(0, "info", $"Validating training file: {job.TrainingFile}");
        if (job.Failure is not null)
        {
            yield return E(1, "error", $"Training file validation failed: {job.Failure}");
            yield break;
        }
        yield return E(1, "info", "Files validated, moving job to queued state");
        yield return E(2, "info", "Fine-tuning job started (SAMPLE: no real training happens)");
        for (var k = 1; k <= job.TotalSteps; k++)
        {
            var loss = Math.Round(0.15 + 1.85 * Math.Exp(-3.0 * k / job.TotalSteps), 4);
            yield return E(2 + k, "info", string.Create(CultureInfo.InvariantCulture, $"Step {k}/{job.TotalSteps}: training loss={loss:0.0000}"), new JsonObject
            {
                ["step"] = k, ["total_steps"] = job.TotalSteps, ["train_loss"] = loss,
                ["train_mean_token_accuracy"] = Math.Round(1 - loss / 2.5, 4),
            });
        }
        yield return E(3 + job.TotalSteps, "info", $"New fine-tuned model created: {job.Variant.Name}");
        yield return E(3 + job.TotalSteps, "info", "The job has successfully completed");
    }

    private long Done(Job job) => job.Failure is null ? 3 + job.TotalSteps : 1;

    private Stage StageOf(Job job, out long elapsed)
    {
        var step = options.FineTuneStep;
        var since = Time.GetUtcNow() - job.Created;
        elapsed = step <= TimeSpan.Zero ? long.MaxValue : since < TimeSpan.Zero ? 0 : since.Ticks / step.Ticks;
        if (elapsed >= Done(job))
        {
            return job.Failure is null ? Stage.Succeeded : Stage.Failed;
        }
        return elapsed switch { < 1 => Stage.ValidatingFiles, < 2 => Stage.Queued, _ => Stage.Running };
    }

    private long At(Job job, long offset)
    {
        var step = options.FineTuneStep <= TimeSpan.Zero ? TimeSpan.Zero : options.FineTuneStep;
        return (job.Created + step * offset).ToUnixTimeSeconds();
    }

    private JsonObject JobJson(Job job)
    {
        var stage = StageOf(job, out _);
        var finished = stage is Stage.Succeeded or Stage.Failed;
        return new JsonObject
        {
            ["object"] = "fine_tuning.job",
            ["id"] = job.Id,
            ["model"] = job.Model,
            ["created_at"] = job.Created.ToUnixTimeSeconds(),
            ["finished_at"] = finished ? At(job, Done(job)) : null,
            ["fine_tuned_model"] = stage == Stage.Succeeded ? job.Variant.Name : null,
            ["organization_id"] = "org-" + SampleModelServer.Owner,
            ["result_files"] = new JsonArray(),
            ["status"] = stage switch
            {
                Stage.ValidatingFiles => "validating_files", Stage.Queued => "queued", Stage.Running => "running",
                Stage.Succeeded => "succeeded", _ => "failed",
            },
            ["validation_file"] = null,
            ["training_file"] = job.TrainingFile,
            ["hyperparameters"] = new JsonObject
            {
                ["n_epochs"] = job.Epochs, ["batch_size"] = job.BatchSize, ["learning_rate_multiplier"] = job.LearningRateMultiplier,
            },
            ["trained_tokens"] = stage == Stage.Succeeded ? job.TrainedTokens : null,
            ["error"] = stage == Stage.Failed
                ? new JsonObject { ["code"] = "invalid_training_file", ["message"] = "The job failed due to an invalid training file. " + job.Failure, ["param"] = "training_file" }
                : null,
            ["user_provided_suffix"] = job.Suffix,
            ["seed"] = job.Seed,
            ["estimated_finish"] = stage is Stage.Queued or Stage.Running ? At(job, Done(job)) : null,
            ["integrations"] = new JsonArray(),
            ["method"] = new JsonObject
            {
                ["type"] = "supervised",
                ["supervised"] = new JsonObject
                {
                    ["hyperparameters"] = new JsonObject
                    {
                        ["n_epochs"] = job.Epochs, ["batch_size"] = job.BatchSize, ["learning_rate_multiplier"] = job.LearningRateMultiplier,
                    },
                },
            },
        };
    }
}
