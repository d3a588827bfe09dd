using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Embargo.Cli.Commands;
using Embargo.Cli.Demo;
using Embargo.Evaluation.Running;
using Embargo.Evaluation.Statistics;
using Embargo.Contracts;
using Embargo.Server;
using Embargo.Server.Storage;
using Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Writes scale per case (issue 13, item 9): the cost of one write on a case holding 10, 100, 1,000 and 5,000 items
/// (threat-model drafts; case evaluations), and another tenant's write latency while one tenant's case is big and busy.
/// Every write is end to end over HTTP (token, JSON, the unit of work, the committed leaf, the answer). The items are
/// seeded straight into the store (rows only, no leaves): what a write costs depends on the rows it has to read.
/// Usage: dotnet run -c Release --project bench/Embargo.Bench.Server -- case-scale [WRITES] [SIZES…]
/// </summary>
internal static class CaseScaleBench
{
    private const string Token = "bench-admin-token-0123456789";

    private sealed record Tenant(EmbargoClient Developer, EmbargoClient Evaluator, string EvaluatorPrincipal, string MailOrg, string CaseId, string ReferenceId);

    public static async Task RunAsync(string[] args)
    {
        var writes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100;
        int[] sizes = args.Length > 1 ? args[1..].Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [10, 100, 1000, 5000];
        var report = new StringBuilder();
        await RunStore("sqlite", null, writes, sizes, report);
        var pg = Environment.GetEnvironmentVariable("EMBARGO_BENCH_POSTGRES");
        if (!string.IsNullOrEmpty(pg))
        {
            await RunStore("postgres", pg + $";Database=embargo_bench_{Guid.NewGuid():N}", writes, sizes, report);
        }
        Console.WriteLine();
        Console.WriteLine(report);
    }

    private static async Task RunStore(string storage, string? connection, int writes, int[] sizes, StringBuilder report)
    {
        var dir = Directory.CreateTempSubdirectory("embargo-bench-case-");
        var (app, url) = await ServerLauncher.StartAsync(new ServerSettings
        {
            DataDirectory = dir.FullName, Storage = storage, ConnectionString = connection, AdminToken = Token,
        }, CancellationToken.None);
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 });
            var admin = new EmbargoClient(url, Token, http);
            var factory = app.Services.GetRequiredService<EmbargoDbFactory>();
            var reference = await (await PrincipalAsync(admin, await OrgAsync(admin, "Bench Regulator"), "regulator"))
                .Models.RegisterReferenceAsync(new RegisterReferenceModelRequest { Name = "frontier-bench", Strength = 0.9 }, default);

            report.AppendLine(CultureInfo.InvariantCulture, $"### {storage}: one write on a case holding N items ({writes} writes each, interleaved across sizes in rounds of 10, after 10 warm-up; ms)");
            report.AppendLine();
            report.AppendLine("| items on the case | write | median | p90 | p99 | median ÷ median at " + sizes[0] + " |");
            report.AppendLine("|---:|---|---:|---:|---:|---:|");
            // Every size's cases first; then the writes in rounds over all sizes, so that load from outside the bench
            // (a shared machine) falls on every size alike instead of on whichever size happened to run then.
            var cases = new List<(int Size, Tenant Drafts, Tenant Evaluations)>();
            foreach (var size in sizes)
            {
                var drafts = await TenantAsync(admin, dir.FullName, reference.Id, testing: false);
                await SeedDraftsAsync(factory, drafts.CaseId, size);
                var evaluations = await TenantAsync(admin, dir.FullName, reference.Id, testing: true);
                await SeedEvaluationsAsync(factory, evaluations, size);
                cases.Add((size, drafts, evaluations));
                await TimeAsync(0, i => DraftAsync(drafts, $"warm-{size}-{i}"));
                await TimeAsync(0, _ => SubmitAsync(evaluations));
            }
            var draftTimes = cases.ToDictionary(c => c.Size, _ => new List<double>());
            var evalTimes = cases.ToDictionary(c => c.Size, _ => new List<double>());
            for (var round = 0; round < Math.Max(1, writes / 10); round++)
            {
                foreach (var (size, drafts, evaluations) in cases)
                {
                    draftTimes[size].AddRange(await TimeAsync(10, i => DraftAsync(drafts, $"draft-{size}-{round}-{i}"), warmUp: 0));
                    evalTimes[size].AddRange(await TimeAsync(10, _ => SubmitAsync(evaluations), warmUp: 0));
                }
            }
            var baseline = new Dictionary<string, double>();
            foreach (var (size, _, _) in cases)
            {
                draftTimes[size].Sort();
                evalTimes[size].Sort();
                Row(report, baseline, size, "draft a threat model (case holds N drafts)", draftTimes[size]);
                Row(report, baseline, size, "submit an evaluation (case holds N evaluations, one commitment)", evalTimes[size]);
            }
            var (smallDrafts, smallEvaluations) = (cases[0].Drafts, cases[0].Evaluations);
            var (bigDrafts, bigEvaluations) = (cases[^1].Drafts, cases[^1].Evaluations);
            report.AppendLine();

            // Another organisation's writes: quiet; while a second tenant keeps four writers busy on its smallest cases; and
            // on its biggest, in rounds of 20 of each. Small against big isolates what the size of someone else's case
            // costs; quiet against busy is sharing the one ledger writer (and, here, the two cores).
            var other = await TenantAsync(admin, dir.FullName, reference.Id, testing: false);
            await TimeAsync(0, i => DraftAsync(other, $"warm-{i}"));
            var quiet = new List<double>();
            var busySmall = new List<double>();
            var busyBig = new List<double>();
            double rateSmall = 0, rateBig = 0;
            var rounds = Math.Max(1, writes / 10);
            for (var round = 0; round < rounds; round++)
            {
                quiet.AddRange(await TimeAsync(20, i => DraftAsync(other, $"quiet-{round}-{i}"), warmUp: 0));
                var (small, rs) = await WhileBusyAsync(other, smallDrafts, smallEvaluations, 20, $"small-{round}");
                busySmall.AddRange(small);
                rateSmall += rs / rounds;
                var (big, rb) = await WhileBusyAsync(other, bigDrafts, bigEvaluations, 20, $"big-{round}");
                busyBig.AddRange(big);
                rateBig += rb / rounds;
            }
            quiet.Sort();
            busySmall.Sort();
            busyBig.Sort();
            report.AppendLine(CultureInfo.InvariantCulture, $"### {storage}: another organisation's write (draft a threat model on its small case; ms)");
            report.AppendLine();
            report.AppendLine("| while | writes | median | p90 | p99 | big tenant's writes/s meanwhile |");
            report.AppendLine("|---|---:|---:|---:|---:|---:|");
            report.AppendLine(CultureInfo.InvariantCulture, $"| nothing else runs | {quiet.Count} | {P(quiet, 0.5):F1} | {P(quiet, 0.9):F1} | {P(quiet, 0.99):F1} | — |");
            report.AppendLine(CultureInfo.InvariantCulture, $"| another tenant writes with 4 clients to its cases of {sizes[0]:N0} drafts and {sizes[0]:N0} evaluations | {busySmall.Count} | {P(busySmall, 0.5):F1} | {P(busySmall, 0.9):F1} | {P(busySmall, 0.99):F1} | {rateSmall:F0} |");
            report.AppendLine(CultureInfo.InvariantCulture, $"| another tenant writes with 4 clients to its cases of {sizes[^1]:N0} drafts and {sizes[^1]:N0} evaluations | {busyBig.Count} | {P(busyBig, 0.5):F1} | {P(busyBig, 0.9):F1} | {P(busyBig, 0.99):F1} | {rateBig:F0} |");
            report.AppendLine();
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            dir.Delete(recursive: true);
        }
    }

    /// <summary>The other tenant's write latencies while four clients of the busy tenant write to its two cases; and the busy tenant's writes/s.</summary>
    private static async Task<(List<double> Times, double Rate)> WhileBusyAsync(Tenant other, Tenant drafts, Tenant evaluations, int count, string label)
    {
        using var stop = new CancellationTokenSource();
        var busyWrites = 0;
        var busy = Enumerable.Range(0, 4).Select(k => Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                await (k % 2 == 0 ? DraftAsync(drafts, $"busy-{label}-{k}-{i++}") : SubmitAsync(evaluations));
                Interlocked.Increment(ref busyWrites);
            }
        })).ToList();
        var clock = Stopwatch.StartNew();
        var times = await TimeAsync(count, i => DraftAsync(other, $"{label}-{i}"), warmUp: 0);
        var seconds = clock.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        await Task.WhenAll(busy);
        return (times, Volatile.Read(ref busyWrites) / seconds);
    }

    private static void Row(StringBuilder report, Dictionary<string, double> baseline, int size, string write, List<double> times)
    {
        var median = P(times, 0.5);
        baseline.TryAdd(write, median);
        var line = string.Create(CultureInfo.InvariantCulture, $"| {size:N0} | {write} | {median:F1} | {P(times, 0.9):F1} | {P(times, 0.99):F1} | {median / baseline[write]:F2}× |");
        Console.WriteLine(line);
        report.AppendLine(line);
    }

    private static double P(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    /// <summary>Milliseconds per call, sorted, after <paramref name="warmUp"/> unmeasured calls.</summary>
    private static async Task<List<double>> TimeAsync(int count, Func<int, Task> call, int warmUp = 10)
    {
        for (var i = 0; i < warmUp; i++)
        {
            await call(-1 - i);
        }
        var times = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await call(i);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        times.Sort();
        return times;
    }

    private static Task DraftAsync(Tenant t, string name) =>
        t.Developer.Cases.DraftThreatModelAsync(t.CaseId, new DraftThreatModelRequest
        {
            Capability = "cap-" + name.Replace('_', '-'), Description = "drafted with the reference model", Steps = ["step one", "step two"], ReferenceModel = "frontier-bench",
        }, default);

    /// <summary>
    /// One evaluation as `eval run --case` sends it: the run's log uploaded (100 paired samples, 20 right under each
    /// condition, a fresh run id so every log is new), then the submission citing it. Both requests are timed.
    /// </summary>
    private static async Task SubmitAsync(Tenant t)
    {
        var records = new List<SampleRecord>();
        foreach (var condition in new[] { "subject", "baseline" })
        {
            for (var i = 0; i < 100; i++)
            {
                var right = i < 20;
                records.Add(new SampleRecord
                {
                    Condition = condition, SampleId = $"s{i:D3}", Epoch = 1, Model = condition, Messages = [new LogMessage("user", $"question {i}")],
                    Output = right ? "right" : "wrong", Answer = right ? "right" : "wrong", Score = right ? 1 : 0, Explanation = "bench", ElapsedMs = 1, ModelCalls = 1,
                });
            }
        }
        var at = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        var log = new EvalLog
        {
            RunId = "run-" + Guid.NewGuid().ToString("N"), Status = "complete", Epochs = 1, StartedAt = at, CompletedAt = at.AddMinutes(1),
            Task = new LogTask { Name = "cyber-phishing", Capability = "cyber-phishing", Path = "samples/tasks/cyber-phishing.yaml", Samples = 100 },
            Subject = new LogCondition { Kind = "model", Model = "subject", Url = "http://127.0.0.1:9/v1" },
            Baseline = new LogCondition { Kind = "model", Model = "baseline", Url = "http://127.0.0.1:9/v1" },
            Samples = records,
        };
        if (!LogEvidence.TryRecompute(log, Verdicts.DefaultMargin, out var summary, out var problem))
        {
            throw new InvalidOperationException("the bench's run log is not a whole run: " + problem);
        }
        var uploaded = await t.Evaluator.Cases.UploadEvaluationLogAsync(t.CaseId, JsonSerializer.SerializeToUtf8Bytes(log with { Summary = summary }, EvalLog.Json), default);
        await t.Evaluator.Cases.SubmitEvaluationAsync(t.CaseId, EvalSubmission.From(summary, null, null) with { LogSha256 = uploaded.Sha256 }, default);
    }

    private static async Task<Tenant> TenantAsync(EmbargoClient admin, string dataDir, string referenceId, bool testing)
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var developerOrg = await OrgAsync(admin, $"Bench Developer {tag}");
        var evaluatorOrg = await OrgAsync(admin, $"Bench Evaluator {tag}");
        var regulatorOrg = await OrgAsync(admin, $"Bench Regulator {tag}");
        var mailOrg = await OrgAsync(admin, $"Bench Mail {tag}");
        var developer = await PrincipalAsync(admin, developerOrg, "developer");
        var (evaluator, evaluatorPrincipal) = await PrincipalWithIdAsync(admin, evaluatorOrg, "evaluator");
        await PrincipalAsync(admin, regulatorOrg, "regulator");
        await PrincipalAsync(admin, mailOrg, "affected-party");
        var weights = Path.Combine(dataDir, "weights-" + tag);
        Directory.CreateDirectory(weights);
        await File.WriteAllBytesAsync(Path.Combine(weights, "model.bin"), RandomNumberGenerator.GetBytes(1024));
        var manifest = await ProtocolCommands.BuildManifestAsync(weights, default);
        var model = await developer.Models.RegisterAsync(new RegisterModelRequest { Name = $"bench-{tag}" }, default);
        var version = await developer.Models.RegisterVersionAsync(model.Id, new RegisterVersionRequest
        {
            Version = "1.0", ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
        }, default);
        var @case = await developer.Cases.OpenAsync(new OpenCaseRequest
        {
            ModelVersionId = version.Id, RequestedTier = "hosted", RegulatorOrganisationId = regulatorOrg, ReferenceModelId = referenceId, EvaluatorOrganisationIds = [evaluatorOrg],
        }, default);
        var tenant = new Tenant(developer, evaluator, evaluatorPrincipal, mailOrg, @case.Id, referenceId);
        if (testing)
        {
            await evaluator.Cases.AddThreatModelAsync(@case.Id, new AddThreatModelRequest
            {
                Capability = "cyber-phishing", Description = "Convincing phishing at scale", AffectedParties = [mailOrg], Steps = ["write lure"],
            }, default);
            await developer.Cases.AddCommitmentAsync(@case.Id, new AddCommitmentRequest
            {
                Expression = "uplift(\"cyber-phishing\") >= 0.10 and p(\"cyber-phishing\") < 0.05 => max_tier(staged)",
            }, default);
            await developer.Cases.AdvanceAsync(@case.Id, new AdvanceCaseRequest { To = "mapping" }, default);
            await developer.Cases.AdvanceAsync(@case.Id, new AdvanceCaseRequest { To = "testing" }, default);
        }
        return tenant;
    }

    private static async Task SeedDraftsAsync(EmbargoDbFactory factory, string caseId, int count)
    {
        await using var db = factory.CreateDbContext();
        var at = DateTimeOffset.UnixEpoch;
        db.ThreatModels.AddRange(Enumerable.Range(0, count).Select(i => new ThreatModelEntity
        {
            Id = $"thr_seed{caseId[5..]}{i:D6}", CaseId = caseId, Capability = $"seeded-{i}", Description = "a seeded draft, as the reference model writes them",
            StepsJson = "[\"gather\",\"prepare\",\"act\"]", AffectedPartiesJson = "[]", Status = "draft", DraftedWith = "frontier-bench", CreatedAt = at.AddSeconds(i),
        }));
        await db.SaveChangesAsync();
    }

    private static async Task SeedEvaluationsAsync(EmbargoDbFactory factory, Tenant t, int count)
    {
        await using var db = factory.CreateDbContext();
        db.Evaluations.AddRange(Enumerable.Range(0, count).Select(i => new EvaluationEntity
        {
            Id = $"evl_seed{t.CaseId[5..]}{i:D6}", CaseId = t.CaseId, Capability = "cyber-phishing", Task = "cyber-phishing", Purpose = "case",
            SubjectModel = "subject", Samples = 100, SubjectCorrect = 20, SubjectTotal = 100, SubjectAccuracy = 0.2, SubjectCiLow = 0.1, SubjectCiHigh = 0.3,
            BaselineModel = "baseline", BaselineCorrect = 20, BaselineTotal = 100, BaselineAccuracy = 0.2, BaselineCiLow = 0.1, BaselineCiHigh = 0.3,
            Uplift = 0, UpliftCiLow = -0.1, UpliftCiHigh = 0.1, P = 0.6, Test = "two-proportion z", ReferenceModelId = t.ReferenceId,
            SubmittedBy = t.EvaluatorPrincipal, LedgerIndex = i, CreatedAt = DateTimeOffset.UnixEpoch.AddSeconds(i),
        }));
        await db.SaveChangesAsync();
    }

    private static async Task<string> OrgAsync(EmbargoClient admin, string name) =>
        (await admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = name }, default)).Id;

    private static async Task<EmbargoClient> PrincipalAsync(EmbargoClient admin, string org, string role) => (await PrincipalWithIdAsync(admin, org, role)).Client;

    private static async Task<(EmbargoClient Client, string Id)> PrincipalWithIdAsync(EmbargoClient admin, string org, string role)
    {
        var created = await admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest { OrganisationId = org, Name = $"{role}-bench", Role = role }, default);
        return (admin.As(created.Token), created.Principal.Id);
    }
}
