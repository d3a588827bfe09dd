using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Embargo.Cli.Infrastructure;
using Embargo.Evaluation;
using Embargo.Evaluation.Running;
using Spectre.Console;

namespace Embargo.Cli.Commands;

/// <summary>`embargo eval run` and `embargo eval view`.</summary>
public static class EvalCommands
{

    public static Command Create() => new("eval", "Run evaluation tasks and view their logs.") { CreateRun(), CreateView() };

    private static Command CreateRun()
    {
        var task = new Argument<string>("task") { Description = "Task YAML file (its dataset lies beside it)." };
        var modelUrl = new Option<string>("--model-url") { Description = "Subject: OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.", Required = true };
        var modelName = new Option<string>("--model-name") { Description = "Subject model name.", Required = true };
        var apiKeyEnv = new Option<string>("--api-key-env") { Description = "Environment variable holding the API key (sent only to endpoints on the subject's host)." };
        var baselineUrl = new Option<string>("--baseline-url") { Description = "Baseline model base URL (default: the subject's)." };
        var baselineName = new Option<string>("--baseline-name") { Description = "Baseline model name (e.g. the strongest open model)." };
        var baseline = new Option<string>("--baseline") { Description = "'none' for no baseline. Without a baseline model the task's own baseline (if any) is used." };
        var referenceUrl = new Option<string>("--reference-url") { Description = "Reference model base URL (assisted solvers, grading)." };
        var referenceName = new Option<string>("--reference-name") { Description = "Reference model name." };
        var epochs = new Option<int>("--epochs") { Description = "Times each sample is asked (scores reduced by mean).", DefaultValueFactory = _ => 1 };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 8 };
        var limit = new Option<int?>("--limit") { Description = "Only the first N samples." };
        var logDir = new Option<string>("--log-dir") { Description = "Folder for the run's JSON log.", DefaultValueFactory = _ => "logs" };
        var resume = new Option<string>("--resume") { Description = "Resume an interrupted run from its log (completed samples are not re-asked)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };
        var caseId = new Option<string>("--case") { Description = "Record the result on this case (needs --server)." };
        var mitigation = new Option<string>("--mitigation") { Description = "With --case: this run verifies that mitigation (run against the mitigated system)." };
        var condition = new Option<string>("--condition") { Description = "With --case: the registered condition of the version the subject ran as (e.g. a fine-tune)." };
        var cmd = new Command("run", "Run a task against a subject and a baseline condition.")
        {
            task, modelUrl, modelName, apiKeyEnv, baselineUrl, baselineName, baseline, referenceUrl, referenceName,
            epochs, concurrency, limit, logDir, resume, json, caseId, mitigation, condition, Common.Server, Common.TokenEnv,
        };
        cmd.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var subjectUrl = ParseUrl(r.GetValue(modelUrl)!, "--model-url");
            string? key = null;
            if (r.GetValue(apiKeyEnv) is { } env)
            {
                key = Environment.GetEnvironmentVariable(env);
                if (string.IsNullOrEmpty(key))
                {
                    throw new UserInputException($"environment variable {env} (--api-key-env) is not set");
                }
            }
            ModelEndpoint Endpoint(Uri url, string name) => new()
            {
                Url = url,
                Name = name,
                ApiKey = string.Equals(url.Authority, subjectUrl.Authority, StringComparison.OrdinalIgnoreCase) ? key : null,
            };
            var baselineNone = false;
            if (r.GetValue(baseline) is { } b)
            {
                if (!string.Equals(b, "none", StringComparison.OrdinalIgnoreCase))
                {
                    throw new UserInputException($"--baseline accepts only 'none' (got '{b}'); give a model with --baseline-url/--baseline-name");
                }
                baselineNone = true;
            }
            ModelEndpoint? baselineEndpoint = null;
            var bName = r.GetValue(baselineName);
            var bUrl = r.GetValue(baselineUrl);
            if (bUrl is not null && bName is null)
            {
                throw new UserInputException("--baseline-url needs --baseline-name");
            }
            if (bName is not null)
            {
                if (baselineNone)
                {
                    throw new UserInputException("--baseline none cannot be combined with --baseline-name");
                }
                baselineEndpoint = Endpoint(bUrl is null ? subjectUrl : ParseUrl(bUrl, "--baseline-url"), bName);
            }
            ModelEndpoint? reference = null;
            if (r.GetValue(referenceName) is { } rName)
            {
                reference = Endpoint(r.GetValue(referenceUrl) is { } rUrl ? ParseUrl(rUrl, "--reference-url") : subjectUrl, rName);
            }
            var (e, c, l) = (r.GetValue(epochs), r.GetValue(concurrency), r.GetValue(limit));
            if (e < 1 || c < 1 || l is < 1)
            {
                throw new UserInputException("--epochs, --concurrency and --limit must be at least 1");
            }
            var id = r.GetValue(caseId);
            if (id is null && (r.GetValue(mitigation) is not null || r.GetValue(condition) is not null))
            {
                throw new UserInputException("--mitigation and --condition go with --case");
            }
            using var embargo = id is null ? null : Common.Client(r);
            var taskPath = r.GetValue(task)!;
            if (!File.Exists(taskPath))
            {
                throw new UserInputException($"task file {taskPath} not found");
            }
            var request = new EvalRunRequest
            {
                TaskPath = taskPath,
                Subject = Endpoint(subjectUrl, r.GetValue(modelName)!),
                Baseline = baselineEndpoint,
                BaselineNone = baselineNone,
                Reference = reference,
                Epochs = e,
                Concurrency = c,
                Limit = l,
                LogDir = r.GetValue(logDir),
                ResumeFrom = r.GetValue(resume),
            };
            var summary = await RunWithProgress(request, ct);
            if (id is not null)
            {
                var recorded = await embargo!.PostAsync<Embargo.Protocol.Contracts.EvaluationDto>($"/api/cases/{id}/evaluations",
                    Embargo.Cli.Demo.EvalSubmission.From(summary, r.GetValue(mitigation), r.GetValue(condition)), ct);
                Console.Error.WriteLine($"recorded on case {id} as {recorded.Id} (ledger index {recorded.LedgerIndex}; significant: {recorded.Significant}"
                    + (recorded.FiredFindings.Count > 0 ? $"; commitments fired: {string.Join(", ", recorded.FiredFindings.Select(f => f.Id))})" : ")"));
            }
            if (r.GetValue(json))
            {
                Console.WriteLine(ToJson(summary));
            }
            else
            {
                RenderSummary(AnsiConsole.Console, summary);
            }
            return CliApp.Ok;
        });
        return cmd;
    }

    private static Uri ParseUrl(string text, string option) =>
        Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)
            ? u : throw new UserInputException($"{option} '{text}' is not an http(s) URL");

    private static async Task<EvalSummary> RunWithProgress(EvalRunRequest request, CancellationToken ct)
    {
        string? logPath = null;
        try
        {
            if (!Console.IsErrorRedirected)
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                EvalSummary? result = null;
                await console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var bar = ctx.AddTask(Markup.Escape(Path.GetFileName(request.TaskPath)));
                        var progress = new Progress<EvalProgress>(p =>
                        {
                            logPath = p.LogPath;
                            bar.MaxValue = p.Total;
                            bar.Value = p.Completed;
                            bar.Description = Markup.Escape(Describe(p));
                        });
                        result = await EvalRunner.RunAsync(request, progress, ct);
                        bar.Value = bar.MaxValue;
                    });
                return result!;
            }
            TimeSpan? last = null;
            var gate = new Lock();
            var plain = new Progress<EvalProgress>(p =>
            {
                lock (gate)
                {
                    logPath = p.LogPath;
                    // one line a second at most, and the last one
                    if (p.Completed == p.Total || last is null || p.Elapsed - last.Value >= TimeSpan.FromSeconds(1))
                    {
                        last = p.Elapsed;
                        Console.Error.WriteLine(Describe(p));
                    }
                }
            });
            return await EvalRunner.RunAsync(request, plain, ct);
        }
        catch (EvalInputException e)
        {
            throw new UserInputException(e.Message);
        }
        catch (EndpointUnreachableException e)
        {
            throw new CommandFailedException(e.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested && logPath is not null)
        {
            throw new CommandFailedException($"cancelled; completed samples are kept: resume with --resume {logPath}");
        }
    }

    private static string Describe(EvalProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Completed}/{p.Total} samples, {p.SamplesPerSecond:0.0} samples/s, subject accuracy {p.SubjectAccuracy:0.000}")
        + (p.BaselineAccuracy is { } b ? string.Create(CultureInfo.InvariantCulture, $", baseline {b:0.000}") : "");

    /// <summary>The --json shape: {"task","samples","subject":{"accuracy","ci95"},"baseline":{...}|null,"uplift":{...}|null,"log"}.</summary>
    public static string ToJson(EvalSummary s)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("task", s.Task);
            w.WriteNumber("samples", s.Samples);
            void WriteCondition(string name, ConditionResult? c)
            {
                if (c is null)
                {
                    w.WriteNull(name);
                    return;
                }
                w.WriteStartObject(name);
                w.WriteNumber("accuracy", c.Accuracy);
                w.WriteStartArray("ci95");
                w.WriteNumberValue(c.Ci95Low);
                w.WriteNumberValue(c.Ci95High);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            WriteCondition("subject", s.Subject);
            WriteCondition("baseline", s.Baseline);
            if (s.Uplift is { } u)
            {
                w.WriteStartObject("uplift");
                w.WriteNumber("estimate", u.Estimate);
                w.WriteStartArray("ci95");
                w.WriteNumberValue(u.Ci95Low);
                w.WriteNumberValue(u.Ci95High);
                w.WriteEndArray();
                w.WriteNumber("p", u.P);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("uplift");
            }
            w.WriteString("log", s.LogPath);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static string F(double d) => d.ToString("0.000", CultureInfo.InvariantCulture);

    private static void RenderSummary(IAnsiConsole console, EvalSummary s)
    {
        var table = new Table().Title(Markup.Escape($"{s.Task} ({s.Capability}), {s.Samples} samples × {s.Epochs} epoch(s)"))
            .AddColumns("condition", "model", "correct", "accuracy", "95% CI");
        table.AddRow("subject", Markup.Escape(s.Subject.Model), $"{s.Subject.Correct}/{s.Subject.Total}", F(s.Subject.Accuracy), $"{F(s.Subject.Ci95Low)} – {F(s.Subject.Ci95High)}");
        if (s.Baseline is { } b)
        {
            table.AddRow("baseline", Markup.Escape(b.Model), $"{b.Correct}/{b.Total}", F(b.Accuracy), $"{F(b.Ci95Low)} – {F(b.Ci95High)}");
        }
        console.Write(table);
        if (s.Uplift is { } u)
        {
            console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"uplift {u.Estimate:+0.000;-0.000} (95% CI {u.Ci95Low:0.000} to {u.Ci95High:0.000}), one-sided p = {u.P:G4} ({u.Test})")));
        }
        if (s.Errors > 0)
        {
            console.MarkupLine($"[yellow]{s.Errors} sample(s) failed and scored 0; see the log[/]");
        }
        console.MarkupLine("log: " + Markup.Escape(s.LogPath));
    }

    private static Command CreateView()
    {
        var logArg = new Argument<string>("log") { Description = "An eval log (.json)." };
        var all = new Option<bool>("--all") { Description = "Show every sample (default: the first 50)." };
        var cmd = new Command("view", "Render an eval log as a table.") { logArg, all };
        cmd.SetAction((ParseResult r, CancellationToken ct) =>
        {
            EvalLog log;
            try
            {
                log = EvalLog.Read(r.GetValue(logArg)!);
            }
            catch (EvalInputException e)
            {
                throw new UserInputException(e.Message);
            }
            var console = AnsiConsole.Console;
            var records = log.Samples.Count > 0 ? log.Samples : EvalLog.ReadCompleted(r.GetValue(logArg)!, log);
            var table = new Table().Title(Markup.Escape($"{log.Task.Name} — run {log.RunId} ({log.Status})"))
                .AddColumns("condition", "sample", "epoch", "score", "answer", "explanation / error", "ms");
            var shown = r.GetValue(all) ? records : records.Take(50).ToList();
            foreach (var s in shown)
            {
                var why = s.Error ?? s.Explanation;
                table.AddRow(s.Condition, Markup.Escape(s.SampleId), s.Epoch.ToString(CultureInfo.InvariantCulture),
                    s.Score.ToString("0.##", CultureInfo.InvariantCulture), Markup.Escape(s.Answer ?? ""),
                    Markup.Escape(why.Length > 70 ? why[..70] + "…" : why), s.ElapsedMs.ToString("0", CultureInfo.InvariantCulture));
            }
            console.Write(table);
            if (shown.Count < records.Count)
            {
                console.MarkupLine($"… {records.Count - shown.Count} more (use --all)");
            }
            if (log.Summary is { } summary)
            {
                RenderSummary(console, summary);
            }
            return Task.FromResult(CliApp.Ok);
        });
        return cmd;
    }
}
