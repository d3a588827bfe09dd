using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
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
        var tasks = new Argument<string[]>("task")
        {
            Description = "Task YAML files (their datasets lie beside them), or folders of them: several make an eval set (one progress display, one summary table).",
            Arity = ArgumentArity.ZeroOrMore,
        };
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
        var logDir = new Option<string>("--log-dir") { Description = "Folder for the run's JSON log (and an eval set's set file).", DefaultValueFactory = _ => "logs" };
        var resume = new Option<string>("--resume") { Description = "Resume a run from its log, or an eval set from its set file: answered samples are kept; samples not yet run and samples that ended in an error are asked again." };
        var retryErrors = new Option<string>("--retry-errors") { Description = "Ask again only the samples of this log (or set file) that ended in an error (and any not yet run)." };
        var maxErrors = new Option<string>("--max-errors") { Description = "Sample errors tolerated: a count (5) or a fraction of the run's calls (0.05). Default 0: one error ends the run with status 'error' and exit code 1.", DefaultValueFactory = _ => "0" };
        var margin = new Option<double?>("--margin") { Description = "δ, the smallest uplift that matters: 'not-novel' needs the one-sided 95% upper bound of the uplift below it (default: with --case, each capability's threat-model margin; else 0.05)." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON (the log's summary; an array for an eval set)." };
        var caseId = new Option<string>("--case") { Description = "Record the result on this case (needs --server). Checked before the first sample." };
        var mitigation = new Option<string>("--mitigation") { Description = "With --case: this run verifies that mitigation (run against the mitigated system)." };
        var condition = new Option<string>("--condition") { Description = "With --case: the registered condition of the version the subject ran as (e.g. a fine-tune)." };
        var cmd = new Command("run", "Run tasks against a subject and a baseline condition. Exit code 0: every run complete; 1: a run ended with status 'error' (more sample errors than --max-errors), an endpoint is unreachable, or the case refuses; 2: bad input, including a model name the endpoint does not serve.")
        {
            tasks, modelUrl, modelName, apiKeyEnv, baselineUrl, baselineName, baseline, referenceUrl, referenceName,
            epochs, concurrency, limit, logDir, resume, retryErrors, maxErrors, margin, json, caseId, mitigation, condition, Common.Server, Common.TokenEnv,
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
            var maxErrorsText = r.GetValue(maxErrors);
            if (!ErrorTolerance.TryParse(maxErrorsText, out var tolerance))
            {
                throw new UserInputException($"--max-errors '{maxErrorsText}' is not a count (e.g. 5) or a fraction below 1 (e.g. 0.05)");
            }
            var delta = r.GetValue(margin);
            if (delta is { } givenMargin && Embargo.Evaluation.Statistics.Verdicts.ValidateMargin(givenMargin) is { } badMargin)
            {
                throw new UserInputException("--margin: " + badMargin);
            }
            var id = r.GetValue(caseId);
            if (id is null && (r.GetValue(mitigation) is not null || r.GetValue(condition) is not null))
            {
                throw new UserInputException("--mitigation and --condition go with --case");
            }
            if (r.GetValue(resume) is not null && r.GetValue(retryErrors) is not null)
            {
                throw new UserInputException("--resume and --retry-errors do the same thing; give one");
            }
            var resumeFrom = r.GetValue(resume) ?? r.GetValue(retryErrors);
            var resumeOption = r.GetValue(resume) is not null ? "--resume" : "--retry-errors";
            if (resumeFrom is not null && !File.Exists(resumeFrom) && !File.Exists(EvalLog.JournalPath(resumeFrom)))
            {
                throw new UserInputException($"{resumeOption} {resumeFrom}: no such log or set file");
            }
            var plan = PlanTasks(r.GetValue(tasks) ?? [], resumeFrom, resumeOption);

            using var embargo = id is null ? null : Common.Client(r);
            IReadOnlyDictionary<string, double> caseMargins = new Dictionary<string, double>();
            if (embargo is not null)
            {
                // Before the first sample: the case exists, the caller may record there, it has a threat model for each
                // task's capability, and the mitigation and condition exist.
                caseMargins = await CheckCaseAsync(embargo, id!, plan.Capabilities, r.GetValue(mitigation), r.GetValue(condition), ct);
            }
            // δ: the one given, else (with --case) the margin of the task's threat model, which the server judges the run against.
            double MarginFor(string taskPath) => delta
                ?? (caseMargins.TryGetValue(Embargo.Evaluation.Data.TaskLoader.Load(taskPath).Capability, out var m) ? m : Embargo.Evaluation.Statistics.Verdicts.DefaultMargin);
            EvalRunRequest Request(string taskPath, string? from) => new()
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
                ResumeFrom = from,
                MaxErrors = tolerance,
                Margin = MarginFor(taskPath),
            };
            List<EvalSummary> summaries;
            string? setPath = null;
            if (plan.Set is null)
            {
                summaries = [await RunWithProgress(Request(plan.Tasks[0], resumeFrom), ct)];
            }
            else
            {
                (summaries, setPath) = await RunSetAsync(plan.Set, plan.SetPath, r.GetValue(logDir) ?? "logs", Request, ct);
            }
            if (embargo is not null)
            {
                foreach (var summary in summaries)
                {
                    if (summary.Status != EvalStatus.Complete)
                    {
                        Console.Error.WriteLine($"not recorded on case {id}: {summary.Task} ended with status {summary.Status} (not evidence)");
                        continue;
                    }
                    // The log goes first: the server records only what it recomputes from the log's per-sample records.
                    var recorded = await Embargo.Cli.Demo.EvalSubmission.UploadAndSubmitAsync(embargo, id!, summary, r.GetValue(mitigation), r.GetValue(condition), ct);
                    Console.Error.WriteLine($"recorded {summary.Task} on case {id} as {recorded.Id} (ledger index {recorded.LedgerIndex}; verdict: {summary.Verdict?.Verdict ?? "none"}"
                        + (recorded.FiredFindings.Count > 0 ? $"; commitments fired: {string.Join(", ", recorded.FiredFindings.Select(f => f.Id))})" : ")"));
                }
            }
            if (r.GetValue(json))
            {
                Console.WriteLine(plan.Set is null ? EvalLog.SummaryJson(summaries[0]) : EvalLog.SummaryJson(summaries));
            }
            else if (plan.Set is null)
            {
                RenderSummary(StdoutConsole(), summaries[0]);
            }
            else
            {
                RenderSet(StdoutConsole(), summaries, setPath!);
            }
            var failed = summaries.Where(s => s.Status != EvalStatus.Complete).ToList();
            if (failed.Count > 0)
            {
                var retry = setPath ?? failed[0].LogPath;
                throw new CommandFailedException(failed.Count == 1 && summaries.Count == 1
                    ? $"run ended with status error: {failed[0].StatusReason}; errored samples are in the log: ask them again with --retry-errors {retry}"
                    : $"{failed.Count} of {summaries.Count} runs ended with status error ({string.Join(", ", failed.Select(f => f.Task))}): first: {failed[0].StatusReason}; ask them again with --retry-errors {retry}");
            }
            return CliApp.Ok;
        });
        return cmd;
    }

    /// <summary>What to run: one task, or a set (new, or read back from its set file).</summary>
    private sealed record TaskPlan(IReadOnlyList<string> Tasks, IReadOnlyList<string> Capabilities, EvalSetLog? Set, string? SetPath);

    private static TaskPlan PlanTasks(string[] arguments, string? resumeFrom, string resumeOption)
    {
        try
        {
            EvalSetLog? set = null;
            string? setPath = null;
            IReadOnlyList<string> taskPaths;
            if (resumeFrom is not null && EvalSetLog.IsSet(resumeFrom))
            {
                setPath = Path.GetFullPath(resumeFrom);
                set = EvalSetLog.Read(resumeFrom);
                taskPaths = set.Tasks.Select(t => t.Task).ToList();
                if (arguments.Length > 0 && !EvalSetLog.ExpandTasks(arguments).SequenceEqual(taskPaths, StringComparer.Ordinal))
                {
                    throw new UserInputException($"the tasks named differ from those of the set {resumeFrom}; name none to resume the set as it was");
                }
            }
            else
            {
                if (arguments.Length == 0)
                {
                    throw new UserInputException("name a task file (or a folder of them), or a set file with --resume");
                }
                taskPaths = EvalSetLog.ExpandTasks(arguments);
                if (taskPaths.Count > 1)
                {
                    if (resumeFrom is not null)
                    {
                        throw new UserInputException($"{resumeOption} with a run's log resumes that one task; resume a set with its set file");
                    }
                    set = new EvalSetLog { SetId = "", StartedAt = default, Tasks = taskPaths.Select(t => new EvalSetEntry { Task = t }).ToList() };
                }
            }
            var capabilities = taskPaths.Select(t => Embargo.Evaluation.Data.TaskLoader.Load(t).Capability).Distinct(StringComparer.Ordinal).ToList();
            return new TaskPlan(taskPaths, capabilities, set, setPath);
        }
        catch (EvalInputException e)
        {
            throw new UserInputException(e.Message);
        }
    }

    /// <summary>Checks, with the caller's own token and GET calls only, that the result could be recorded on the case.</summary>
    private static async Task<IReadOnlyDictionary<string, double>> CheckCaseAsync(EmbargoClient client, string caseId, IReadOnlyList<string> capabilities, string? mitigationId, string? condition, CancellationToken ct)
    {
        var me = await client.Organisations.MeAsync(ct);
        var @case = await client.Cases.GetAsync(caseId, ct);
        var organisation = me["organisationId"]?.GetValue<object>()?.ToString() ?? "";
        var role = me["role"] switch
        {
            System.Text.Json.Nodes.JsonValue v when v.TryGetValue<int>(out var n) && Enum.IsDefined((Embargo.Protocol.Role)n) => Embargo.Protocol.Roles.Name((Embargo.Protocol.Role)n),
            System.Text.Json.Nodes.JsonValue v when v.TryGetValue<string>(out var text) => text.ToLowerInvariant(),
            _ => "",
        };
        var mayRecord = role switch
        {
            "developer" => organisation == @case.DeveloperOrganisationId,
            "evaluator" => @case.EvaluatorOrganisationIds.Contains(organisation),
            _ => false,
        };
        if (!mayRecord)
        {
            throw new CommandFailedException($"refused (separation-of-duties): a {role} of organisation {organisation} may not record evaluations on case {caseId}; only its developer and its assigned evaluators may");
        }
        var phaseOk = mitigationId is null ? @case.State is "testing" or "reflection" : @case.State is "disclosure";
        if (!phaseOk)
        {
            throw new CommandFailedException(mitigationId is null
                ? $"refused (case-phase): case {caseId} is in {@case.State}; evaluations are recorded in testing or reflection"
                : $"refused (case-phase): case {caseId} is in {@case.State}; verification runs are recorded in disclosure");
        }
        foreach (var capability in capabilities)
        {
            if (!@case.ThreatModels.Any(t => t.Capability == capability && t.Status == "accepted"))
            {
                var have = @case.ThreatModels.Where(t => t.Status == "accepted").Select(t => t.Capability).Distinct().ToList();
                throw new UserInputException($"case {caseId} has no accepted threat model for capability '{capability}'"
                    + (have.Count == 0 ? " (it has none)" : $" (it has: {string.Join(", ", have)})"));
            }
        }
        if (mitigationId is not null && !@case.Mitigations.Any(m => m.Id == mitigationId))
        {
            throw new UserInputException($"case {caseId} has no mitigation {mitigationId}");
        }
        if (condition is not null)
        {
            var conditions = await client.Models.ConditionsAsync(@case.ModelVersionId, ct);
            if (!conditions.Any(x => x.Name == condition))
            {
                throw new UserInputException($"model version {@case.ModelVersionId} has no registered condition '{condition}'"
                    + (conditions.Count == 0 ? "" : $" (it has: {string.Join(", ", conditions.Select(x => x.Name))})"));
            }
        }
        return @case.ThreatModels.Where(t => t.Status == "accepted").GroupBy(t => t.Capability, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Margin, StringComparer.Ordinal);
    }

    private static Uri ParseUrl(string text, string option) =>
        Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)
            ? u : throw new UserInputException($"{option} '{text}' is not an http(s) URL");

    private static async Task<EvalSummary> RunWithProgress(EvalRunRequest request, CancellationToken ct)
    {
        string? logPath = null;
        var runs = new[] { new PlannedRun(Path.GetFileName(request.TaskPath), request, null) };
        var results = await RunAllAsync(runs, (_, path) => logPath = path, () => logPath is null ? null : $"--resume {logPath}", ct);
        return results[0];
    }

    /// <summary>Runs (or resumes) each task of a set in turn under one progress display, keeping the set file current.</summary>
    private static async Task<(List<EvalSummary>, string)> RunSetAsync(EvalSetLog planned, string? existingPath, string logDir,
        Func<string, string?, EvalRunRequest> request, CancellationToken ct)
    {
        var set = planned;
        var setPath = existingPath;
        if (setPath is null)
        {
            Directory.CreateDirectory(logDir);
            var now = TimeProvider.System.GetUtcNow();
            var setId = now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
            setPath = Path.GetFullPath(Path.Combine(logDir, $"{setId}_set.json"));
            set = planned with { SetId = setId, StartedAt = now };
            set.Write(setPath);
        }
        var entries = set.Tasks.ToList();
        var gate = new Lock();
        var runs = new List<PlannedRun>();
        foreach (var entry in entries)
        {
            EvalSummary? done = null;
            if (entry.Log is { } log && File.Exists(log))
            {
                var read = ReadLog(log);
                done = read.Status == EvalStatus.Complete ? read.Summary : null;
            }
            var label = Path.GetFileName(entry.Task);
            runs.Add(done is not null ? new PlannedRun(label, null, done) : new PlannedRun(label, request(entry.Task, entry.Log is { } l && (File.Exists(l) || File.Exists(EvalLog.JournalPath(l))) ? l : null), null));
        }
        void Remember(int index, string logPath)
        {
            lock (gate)
            {
                if (entries[index].Log == logPath)
                {
                    return;
                }
                entries[index] = entries[index] with { Log = logPath };
                set = set with { Tasks = entries.ToList() };
                set.Write(setPath);
            }
        }
        Console.Error.WriteLine($"eval set: {setPath}");
        var summaries = await RunAllAsync(runs, Remember, () => $"--resume {setPath}", ct);
        return (summaries, setPath);
    }

    private static EvalLog ReadLog(string path)
    {
        try
        {
            return EvalLog.Read(path);
        }
        catch (EvalInputException e)
        {
            throw new UserInputException(e.Message);
        }
    }

    private sealed record PlannedRun(string Label, EvalRunRequest? Request, EvalSummary? Done);

    /// <summary>One progress display (a bar per task on a terminal, plain lines otherwise) over runs made one after another.</summary>
    private static async Task<List<EvalSummary>> RunAllAsync(IReadOnlyList<PlannedRun> runs, Action<int, string> logCreated, Func<string?> resumeHint, CancellationToken ct)
    {
        var results = new List<EvalSummary>();
        try
        {
            if (!Console.IsErrorRedirected)
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                await console.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        var bars = runs.Select(run => ctx.AddTask(Markup.Escape(run.Label), autoStart: false)).ToList();
                        for (var i = 0; i < runs.Count; i++)
                        {
                            var bar = bars[i];
                            if (runs[i].Done is { } done)
                            {
                                bar.MaxValue = 1;
                                bar.Value = 1;
                                bar.Description = Markup.Escape($"{runs[i].Label}: already complete");
                                results.Add(done);
                                continue;
                            }
                            bar.StartTask();
                            var index = i;
                            var label = runs[i].Label;
                            var progress = new Progress<EvalProgress>(p =>
                            {
                                if (p.LogPath is { } path)
                                {
                                    logCreated(index, path);
                                }
                                bar.MaxValue = p.Total;
                                bar.Value = p.Completed;
                                bar.Description = Markup.Escape($"{label}: {Describe(p)}");
                            });
                            var summary = await EvalRunner.RunAsync(runs[i].Request!, progress, ct);
                            logCreated(index, summary.LogPath);
                            bar.Value = bar.MaxValue;
                            bar.StopTask();
                            results.Add(summary);
                        }
                    });
                return results;
            }
            for (var i = 0; i < runs.Count; i++)
            {
                if (runs[i].Done is { } done)
                {
                    Console.Error.WriteLine($"{runs[i].Label}: already complete");
                    results.Add(done);
                    continue;
                }
                TimeSpan? last = null;
                var gate = new Lock();
                var index = i;
                var prefix = runs.Count > 1 ? runs[i].Label + ": " : "";
                var plain = new Progress<EvalProgress>(p =>
                {
                    lock (gate)
                    {
                        if (p.LogPath is { } path)
                        {
                            logCreated(index, path);
                        }
                        // one line a second at most, and the last one
                        if (p.Completed == p.Total || last is null || p.Elapsed - last.Value >= TimeSpan.FromSeconds(1))
                        {
                            last = p.Elapsed;
                            Console.Error.WriteLine(prefix + Describe(p));
                        }
                    }
                });
                var summary = await EvalRunner.RunAsync(runs[i].Request!, plain, ct);
                logCreated(index, summary.LogPath);
                results.Add(summary);
            }
            return results;
        }
        catch (EvalInputException e)
        {
            throw new UserInputException(e.Message);
        }
        catch (ModelNotAvailableException e)
        {
            throw new UserInputException(e.Message);
        }
        catch (ModelEndpointException e)
        {
            throw new CommandFailedException(e.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested && resumeHint() is { } hint)
        {
            throw new CommandFailedException($"cancelled; completed samples are kept: resume with {hint}");
        }
    }

    private static string Describe(EvalProgress p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Completed}/{p.Total} samples, {p.SamplesPerSecond:0.0} samples/s, subject accuracy {p.SubjectAccuracy:0.000}")
        + (p.BaselineAccuracy is { } b ? string.Create(CultureInfo.InvariantCulture, $", baseline {b:0.000}") : "")
        + (p.Errors > 0 ? string.Create(CultureInfo.InvariantCulture, $", {p.Errors} error(s)") : "");

    /// <summary>A console over the current stdout (not Spectre's process-wide one, which keeps the first writer it saw).</summary>
    private static IAnsiConsole StdoutConsole() => AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });

    private static string F(double d) => d.ToString("0.000", CultureInfo.InvariantCulture);

    private static void RenderSummary(IAnsiConsole console, EvalSummary s)
    {
        var table = new Table().Title(Markup.Escape($"{s.Task} ({s.Capability}), {s.Samples} samples × {s.Epochs} epoch(s)"))
            .AddColumns("condition", "model", "correct", "errors", "accuracy", "95% CI");
        table.AddRow("subject", Markup.Escape(s.Subject.Model), $"{s.Subject.Correct}/{s.Subject.Total}", s.Subject.Errors.ToString(CultureInfo.InvariantCulture),
            F(s.Subject.Accuracy), $"{F(s.Subject.Ci95Low)} – {F(s.Subject.Ci95High)}");
        if (s.Baseline is { } b)
        {
            table.AddRow("baseline", Markup.Escape(b.Model), $"{b.Correct}/{b.Total}", b.Errors.ToString(CultureInfo.InvariantCulture),
                F(b.Accuracy), $"{F(b.Ci95Low)} – {F(b.Ci95High)}");
        }
        console.Write(table);
        if (s.Uplift is { } u)
        {
            console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"uplift {u.Estimate:+0.000;-0.000} over {u.Pairs} samples both answered (95% CI {u.Ci95Low:0.000} to {u.Ci95High:0.000}, {u.Interval}), one-sided p = {u.P:G4} ({u.Test})")));
        }
        if (s.Verdict is { } v)
        {
            console.MarkupLine($"verdict: [bold]{Markup.Escape(v.Verdict)}[/] — {Markup.Escape(v.Reason)}");
        }
        if (s.Status != EvalStatus.Complete)
        {
            console.MarkupLine($"[red]status {Markup.Escape(s.Status)}: {Markup.Escape(s.StatusReason ?? "")}[/]");
        }
        else if (s.Errors > 0)
        {
            console.MarkupLine(Markup.Escape($"{s.Errors} of {s.Records} sample calls failed (tolerated: {s.MaxErrors}): kept in the log, not scored"));
        }
        console.MarkupLine("log: " + Markup.Escape(s.LogPath));
    }

    private static void RenderSet(IAnsiConsole console, IReadOnlyList<EvalSummary> summaries, string setPath)
    {
        var table = new Table().Title(Markup.Escape($"eval set: {summaries.Count} tasks"))
            .AddColumns("task", "capability", "status", "errors", "subject", "baseline", "uplift (95% CI)", "upper", "p", "verdict");
        foreach (var s in summaries)
        {
            table.AddRow(Markup.Escape(s.Task), Markup.Escape(s.Capability), Markup.Escape(s.Status), $"{s.Errors}/{s.Records}",
                F(s.Subject.Accuracy), s.Baseline is { } b ? F(b.Accuracy) : "–",
                s.Uplift is { } u ? $"{u.Estimate.ToString("+0.000;-0.000", CultureInfo.InvariantCulture)} ({F(u.Ci95Low)} – {F(u.Ci95High)})" : "–",
                s.Verdict is { } v ? F(v.Upper) : "–", s.Uplift is { } up ? up.P.ToString("G3", CultureInfo.InvariantCulture) : "–",
                Markup.Escape(s.Verdict?.Verdict ?? "–"));
        }
        console.Write(table);
        foreach (var s in summaries.Where(s => s.Verdict is { Verdict: Embargo.Evaluation.Statistics.Verdicts.Inconclusive }))
        {
            console.MarkupLine(Markup.Escape($"{s.Capability}: {s.Verdict!.Reason}"));
        }
        console.MarkupLine("set: " + Markup.Escape(setPath));
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
            var console = StdoutConsole();
            var records = log.Samples.Count > 0 ? log.Samples : EvalLog.ReadCompleted(r.GetValue(logArg)!, log);
            var table = new Table().Title(Markup.Escape($"{log.Task.Name} — run {log.RunId} ({log.Status})"))
                .AddColumns("condition", "sample", "epoch", "score", "answer", "explanation / error", "ms");
            var shown = r.GetValue(all) ? records : records.Take(50).ToList();
            foreach (var s in shown)
            {
                var why = s.Error ?? s.Explanation;
                table.AddRow(s.Condition, Markup.Escape(s.SampleId), s.Epoch.ToString(CultureInfo.InvariantCulture),
                    s.Score is { } score ? score.ToString("0.##", CultureInfo.InvariantCulture) : "error", Markup.Escape(s.Answer ?? ""),
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
