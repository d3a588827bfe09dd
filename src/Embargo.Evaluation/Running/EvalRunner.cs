using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Embargo.Evaluation.Data;
using Embargo.Evaluation.Scoring;
using Embargo.Evaluation.Solving;
using Embargo.Evaluation.Statistics;
using Microsoft.Extensions.AI;
using Embargo.Text;

namespace Embargo.Evaluation.Running;

internal sealed class Condition
{
    public required string Name { get; init; }
    public required LogCondition Info { get; init; }
    public ModelClient? Client { get; init; }
    public IReadOnlyDictionary<string, string>? Replay { get; init; }
}

internal sealed class ConditionCounter
{
    private long _done;
    private double _scoreSum;
    private readonly Lock _lock = new();

    /// <summary>An answered record adds its score; an errored one (null) is not an answer and adds nothing.</summary>
    public void Add(double? score)
    {
        if (score is not { } value)
        {
            return;
        }
        lock (_lock)
        {
            _done++;
            _scoreSum += value;
        }
    }

    public double? Accuracy
    {
        get
        {
            lock (_lock)
            {
                return _done == 0 ? null : _scoreSum / _done;
            }
        }
    }
}

/// <summary>Runs a task against the subject and baseline conditions and summarises the results.</summary>
internal static class EvalRunnerCore
{
    public static async Task<EvalSummary> RunAsync(EvalRunRequest request, IProgress<EvalProgress>? progress, CancellationToken ct)
    {
        if (request.Epochs < 1 || request.Concurrency < 1 || request.Limit is < 1)
        {
            throw new EvalInputException("epochs, concurrency and limit must be at least 1");
        }
        if (Verdicts.ValidateMargin(request.Margin) is { } badMargin)
        {
            throw new EvalInputException(badMargin);
        }
        if (request.MaxErrors.Value < 0 || !double.IsFinite(request.MaxErrors.Value) || request.MaxErrors.IsFraction && request.MaxErrors.Value >= 1)
        {
            throw new EvalInputException("max errors must be a count of 0 or more, or a fraction from 0 up to (not including) 1");
        }
        var options = request.Options;
        var task = TaskLoader.Load(request.TaskPath);
        var samples = request.Limit is { } limit ? task.Samples.Take(limit).ToList() : task.Samples.ToList();

        var clients = new Dictionary<(Uri, string), ModelClient>();
        ModelClient Client(ModelEndpoint e)
        {
            if (!clients.TryGetValue((e.Url, e.Name), out var c))
            {
                c = new ModelClient(e, options);
                clients[(e.Url, e.Name)] = c;
            }
            return c;
        }
        try
        {
            var subject = new Condition
            {
                Name = "subject",
                Info = new LogCondition { Kind = "model", Model = request.Subject.Name, Url = request.Subject.Url.ToString() },
                Client = Client(request.Subject),
            };
            var baseline = BuildBaseline(request, task, Client);
            var reference = request.Reference is null ? null : Client(request.Reference);
            IGenerate? grader = request.Grader is not null ? Client(request.Grader) : reference ?? (IGenerate?)subject.Client;
            var solver = SolverFactory.Build(task, reference, options.MaxToolRounds);
            var scorer = ScorerFactory.Build(task.Spec.Scorer, grader);

            if (options.Preflight)
            {
                // Before the first sample: every endpoint answers and serves its model (a misspelt name costs nothing).
                foreach (var c in clients.Values)
                {
                    await c.CheckModelAsync(ct);
                }
            }

            // The log: reuse (resume) or create.
            string logPath;
            EvalLog log;
            List<SampleRecord> done;
            if (request.ResumeFrom is { } resume)
            {
                logPath = resume.EndsWith(".journal.jsonl", StringComparison.Ordinal) ? resume[..^".journal.jsonl".Length] : resume;
                log = EvalLog.Read(logPath);
                if (log.Task.Name != task.Name || log.Epochs != request.Epochs || log.Subject.Model != subject.Info.Model
                    || log.Baseline.Kind != baseline?.Info.Kind && !(baseline is null && log.Baseline.Kind == "none")
                    || log.Baseline.Model != baseline?.Info.Model)
                {
                    throw new EvalInputException($"cannot resume {logPath}: it is a run of {log.Task.Name} with other conditions or epochs");
                }
                // Answers are kept; samples not yet run and samples that ended in an error are asked again.
                done = EvalLog.ReadCompleted(logPath, log).Where(r => r.Error is null).ToList();
            }
            else
            {
                var dir = request.LogDir ?? "logs";
                Directory.CreateDirectory(dir);
                var now = options.Time.GetUtcNow();
                var runId = now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
                logPath = Path.GetFullPath(Path.Combine(dir, $"{runId}_{task.Name}.json"));
                log = new EvalLog
                {
                    RunId = runId,
                    Status = "running",
                    Task = new LogTask { Name = task.Name, Capability = task.Capability, Path = task.Path, Samples = samples.Count },
                    Subject = subject.Info,
                    Baseline = baseline?.Info ?? new LogCondition { Kind = "none" },
                    Epochs = request.Epochs,
                    Limit = request.Limit,
                    StartedAt = now,
                };
                await File.WriteAllTextAsync(logPath, EvalLog.Serialize(log), ct);
                done = [];
            }

            var conditions = baseline is null ? new[] { subject } : [subject, baseline];
            var completedKeys = done.Select(r => (r.Condition, r.SampleId, r.Epoch)).ToHashSet();
            var work = (from c in conditions
                        from s in samples
                        from e in Enumerable.Range(1, request.Epochs)
                        where !completedKeys.Contains((c.Name, s.Id, e))
                        select (c, s, e)).ToList();
            var total = conditions.Length * samples.Count * request.Epochs;
            var order = samples.Select((s, i) => (s.Id, i)).ToDictionary(x => x.Id, x => x.i);
            var records = new List<SampleRecord>(done.Where(r => order.ContainsKey(r.SampleId)));
            var counters = conditions.ToDictionary(c => c.Name, _ => new ConditionCounter());
            foreach (var r in records)
            {
                counters[r.Condition].Add(r.Score);
            }
            var completed = records.Count;
            var errors = 0;
            var started = Stopwatch.StartNew();
            var recordsLock = new Lock();
            long lastFlush = 0;

            // Records are serialised straight to UTF-8 (no UTF-16 string, no re-encoding) and appended through one buffer.
            var newline = System.Text.Encoding.UTF8.GetBytes(Environment.NewLine);
            var subjectCounter = counters["subject"];
            var baselineCounter = baseline is null ? null : counters["baseline"];
            await using (var journal = new FileStream(EvalLog.JournalPath(logPath), FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 1 << 16))
            {
                try
                {
                    await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = request.Concurrency, CancellationToken = ct },
                        async (item, token) =>
                        {
                            var record = await RunSampleAsync(item.c, item.s, item.e, solver, scorer, token);
                            var line = EvalLog.SerializeRecordUtf8(record);
                            int n;
                            lock (recordsLock)
                            {
                                records.Add(record);
                                journal.Write(line);
                                journal.Write(newline);
                                // Flush at most every 100 ms (and on exit): an interruption loses at most the last
                                // 100 ms of results, which resumption simply asks again.
                                var now = started.ElapsedMilliseconds;
                                if (now - lastFlush >= 100)
                                {
                                    journal.Flush();
                                    lastFlush = now;
                                }
                                n = ++completed;
                                if (record.Error is not null)
                                {
                                    errors++;
                                }
                            }
                            (ReferenceEquals(item.c, subject) ? subjectCounter : baselineCounter!).Add(record.Score);
                            if (progress is not null)
                            {
                                var elapsed = started.Elapsed;
                                progress.Report(new EvalProgress
                                {
                                    Completed = n,
                                    Total = total,
                                    Elapsed = elapsed,
                                    SamplesPerSecond = (n - done.Count) / Math.Max(elapsed.TotalSeconds, 1e-3),
                                    SubjectAccuracy = subjectCounter.Accuracy ?? 0,
                                    BaselineAccuracy = baselineCounter?.Accuracy,
                                    Errors = Volatile.Read(ref errors),
                                    LogPath = logPath,
                                });
                            }
                        });
                }
                catch (OperationCanceledException)
                {
                    // The journal keeps what completed; resume with ResumeFrom = the log path.
                    throw;
                }
            }

            var ordered = records.OrderBy(r => r.Condition == "subject" ? 0 : 1)
                .ThenBy(r => order[r.SampleId]).ThenBy(r => r.Epoch).ToList();
            var summary = Summarise(task, samples.Count, request.Epochs, subject, baseline, ordered, logPath, request.MaxErrors, request.Margin);
            var final = log with
            {
                Status = summary.Status,
                CompletedAt = options.Time.GetUtcNow(),
                Samples = ordered,
                Summary = summary,
            };
            var tmp = logPath + ".tmp";
            await EvalLog.WriteAsync(tmp, final);
            File.Move(tmp, logPath, overwrite: true);
            File.Delete(EvalLog.JournalPath(logPath)); // the final log now holds every record
            return summary;
        }
        finally
        {
            foreach (var c in clients.Values)
            {
                c.Dispose();
            }
        }
    }

    private static Condition? BuildBaseline(EvalRunRequest request, EvalTaskDefinition task, Func<ModelEndpoint, ModelClient> client)
    {
        if (request.BaselineNone)
        {
            return null;
        }
        if (request.Baseline is { } b)
        {
            return new Condition
            {
                Name = "baseline",
                Info = new LogCondition { Kind = "model", Model = b.Name, Url = b.Url.ToString() },
                Client = client(b),
            };
        }
        if (task.Spec.Baseline?.InternetOnly is { Answers: { } answers } inet)
        {
            var path = task.Resolve(answers);
            var replay = new Dictionary<string, string>();
            var lineNo = 0;
            foreach (var line in File.Exists(path) ? File.ReadLines(path) : throw new EvalInputException($"baseline answers {path} not found"))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    replay[doc.RootElement.GetProperty("id").ToString()] = doc.RootElement.GetProperty("output").GetString() ?? "";
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    throw new EvalInputException($"baseline answers {path} line {lineNo}: {(e is JsonException json ? JsonErrorText.Describe(json) : e.Message)}", e);
                }
            }
            return new Condition
            {
                Name = "baseline",
                Info = new LogCondition { Kind = "internet-only", Model = "internet-only", Description = inet.Description },
                Replay = replay,
            };
        }
        return null;
    }

    private static async Task<SampleRecord> RunSampleAsync(Condition condition, EvalSample sample, int epoch, ISolver solver, IScorer scorer, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var state = new TaskState(sample, epoch);
        Score? score = null;
        string? error = null;
        try
        {
            if (condition.Replay is { } replay)
            {
                if (!replay.TryGetValue(sample.Id, out var answer))
                {
                    throw new ModelCallException($"no recorded internet-only answer for sample {sample.Id}");
                }
                state.Output = answer;
                state.Messages.Add(new ChatMessage(ChatRole.Assistant, answer));
            }
            else
            {
                await solver.SolveAsync(state, condition.Client!, ct);
            }
            score = await scorer.ScoreAsync(state, sample.Target, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (e is ModelCallException { RawOutput: { } raw })
            {
                state.Output = raw;
            }
            // An error is not an answer: no score, kept with its error, excluded from the statistics and counted.
            error = e.Message.ReplaceLineEndings(" ");
        }
        return new SampleRecord
        {
            Condition = condition.Name,
            SampleId = sample.Id,
            Epoch = epoch,
            Model = condition.Info.Model ?? condition.Info.Kind,
            Messages = ToLog(state.Messages),
            Output = state.Output,
            Answer = score?.Answer,
            Score = score?.Value,
            Explanation = score?.Explanation ?? "error: " + error,
            Error = error,
            ElapsedMs = sw.Elapsed.TotalMilliseconds,
            ModelCalls = state.ModelCalls,
        };
    }

    private static List<LogMessage> ToLog(List<ChatMessage> messages)
    {
        var log = new List<LogMessage>(messages.Count);
        foreach (var m in messages)
        {
            log.Add(ToLog(m));
        }
        return log;
    }

    private static LogMessage ToLog(ChatMessage m)
    {
        if (m.Contents is [TextContent only])
        {
            // The common case (one text part): what string.Join over one part gives, without the enumerators.
            return new LogMessage(m.Role.Value, only.Text ?? "");
        }
        var parts = m.Contents.Select(c => c switch
        {
            TextContent t => t.Text,
            FunctionCallContent f => $"[call {f.Name}({JsonSerializer.Serialize(f.Arguments)}) id={f.CallId}]",
            FunctionResultContent r => $"[result id={r.CallId}] {r.Result}",
            _ => c.ToString() ?? "",
        });
        return new LogMessage(m.Role.Value, string.Join("\n", parts));
    }

    /// <summary>
    /// Per-sample reduction over epochs is the mean; a sample counts as correct when its mean ≥ 0.5. A sample a
    /// condition did not answer in every epoch (an error) is excluded from that condition's statistics; the uplift and
    /// the verdict use only the samples both conditions answered. Errors are counted against the tolerance.
    /// </summary>
    internal static EvalSummary Summarise(EvalTaskDefinition task, int sampleCount, int epochs, Condition subject, Condition? baseline,
        IReadOnlyList<SampleRecord> records, string logPath, ErrorTolerance maxErrors = default, double margin = Verdicts.DefaultMargin) =>
        Summarise(task.Name, task.Capability, sampleCount, epochs, subject.Info, baseline?.Info, records, logPath, maxErrors, margin);

    /// <summary>The same summary from a log's own members (what <see cref="LogEvidence"/> recomputes from).</summary>
    internal static EvalSummary Summarise(string taskName, string capability, int sampleCount, int epochs, LogCondition subject, LogCondition? baseline,
        IReadOnlyList<SampleRecord> records, string logPath, ErrorTolerance maxErrors = default, double margin = Verdicts.DefaultMargin)
    {
        Dictionary<string, double> PerSample(string condition) => records.Where(r => r.Condition == condition)
            .GroupBy(r => r.SampleId)
            .Where(g => g.Count() == epochs && g.All(r => r.Error is null && r.Score is not null))
            .ToDictionary(g => g.Key, g => g.Average(r => r.Score!.Value));
        int ErrorsOf(string condition) => records.Count(r => r.Condition == condition && r.Error is not null);

        ConditionResult Result(Dictionary<string, double> perSample, string model, int errors)
        {
            var n = perSample.Count;
            var sum = perSample.Values.Sum();
            var ci = Stats.Wilson(sum, n);
            return new ConditionResult
            {
                Accuracy = n == 0 ? 0 : sum / n,
                Ci95Low = ci.Low,
                Ci95High = ci.High,
                Correct = perSample.Values.Count(v => v >= 0.5),
                Total = n,
                Model = model,
                Errors = errors,
            };
        }

        var s = PerSample("subject");
        var subjectResult = Result(s, subject.Model!, ErrorsOf("subject"));
        ConditionResult? baselineResult = null;
        UpliftResult? uplift = null;
        VerdictResult? verdict = null;
        if (baseline is not null)
        {
            var b = PerSample("baseline");
            baselineResult = Result(b, baseline.Model ?? baseline.Kind, ErrorsOf("baseline"));
            var pairedS = s.Where(kv => b.ContainsKey(kv.Key)).ToDictionary();
            var pairedB = b.Where(kv => s.ContainsKey(kv.Key)).ToDictionary();
            (uplift, var counts) = Uplift(pairedS, pairedB);
            verdict = counts is { } c ? Verdicts.Decide(c, margin) : null;
        }
        var errors = records.Count(r => r.Error is not null);
        var conditions = baseline is null ? 1 : 2;
        var planned = sampleCount * epochs * conditions;
        var ok = maxErrors.Allows(errors, planned);
        var firstError = records.FirstOrDefault(r => r.Error is not null);
        return new EvalSummary
        {
            Task = taskName,
            Capability = capability,
            Samples = sampleCount,
            Status = ok ? EvalStatus.Complete : EvalStatus.Error,
            StatusReason = ok ? null : string.Create(CultureInfo.InvariantCulture,
                $"{errors} of {planned} sample calls failed (tolerated: {maxErrors}); first: {firstError?.Condition} {firstError?.SampleId}: {Cut(firstError?.Error)}"),
            Subject = subjectResult,
            Baseline = baselineResult,
            Uplift = uplift,
            Verdict = verdict,
            LogPath = logPath,
            Epochs = epochs,
            Errors = errors,
            Records = planned,
            MaxErrors = maxErrors.ToString(),
        };
    }

    private static string Cut(string? text) => text is null ? "" : text.Length > 160 ? text[..160] + "…" : text;

    /// <summary>Paired (McNemar exact, Newcombe paired method 10) over the samples both conditions answered (same ids);
    /// one-sided p for subject &gt; baseline. Null when no sample was answered by both.</summary>
    internal static (UpliftResult?, UpliftCounts?) Uplift(Dictionary<string, double> s, Dictionary<string, double> b)
    {
        if (s.Count == 0 || s.Count != b.Count || !s.Keys.All(b.ContainsKey))
        {
            return (null, null);
        }
        int both = 0, subjectOnly = 0, baselineOnly = 0, neither = 0;
        foreach (var (id, sv) in s)
        {
            bool x = sv >= 0.5, y = b[id] >= 0.5;
            if (x && y) { both++; }
            else if (x) { subjectOnly++; }
            else if (y) { baselineOnly++; }
            else { neither++; }
        }
        var counts = UpliftCounts.PairedTable(both, subjectOnly, baselineOnly, neither);
        var ci = Stats.NewcombePaired(both, subjectOnly, baselineOnly, neither);
        return (new UpliftResult
        {
            Estimate = s.Values.Average() - b.Values.Average(),
            Ci95Low = ci.Low,
            Ci95High = ci.High,
            P = Stats.McNemarExactOneSided(subjectOnly, baselineOnly),
            Test = "mcnemar-exact",
            Interval = "newcombe-paired-10",
            Pairs = s.Count,
        }, counts);
    }
}
