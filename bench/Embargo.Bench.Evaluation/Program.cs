using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Embargo.Evaluation;
using Embargo.SampleModel;

// Usage:
//   dotnet run -c Release --project bench/Embargo.Bench.Evaluation [-- --samples 10000 --concurrency 256 --latency-ms 50 --out RESULTS.md]
//   (internal) ... serve --latency-ms 50     runs the SAMPLE server and prints its base URL
var opts = Args.Parse(args);
if (opts.Serve && opts.Minimal)
{
    return await MinimalEndpoint.RunAsync(opts.LatencyMs);
}
if (opts.Serve)
{
    await using var server = await SampleModelServer.StartAsync(new SampleModelOptions
    {
        Latency = TimeSpan.FromMilliseconds(opts.LatencyMs),
        RecordRequests = false,
        Responder = _ => SampleReply.Text("ANSWER: yes"),
    });
    Console.WriteLine(server.BaseUrl);
    await Console.In.ReadLineAsync(); // the parent closes stdin to stop us
    return 0;
}

// The server runs in a child process so this process's CPU time is the engine's alone.
var self = typeof(Args).Assembly.Location;
string[] serveArgs = [self, "serve", "--latency-ms", opts.LatencyMs.ToString(CultureInfo.InvariantCulture), .. opts.Minimal ? new[] { "--minimal" } : []];
var psi = new ProcessStartInfo("dotnet", serveArgs)
{
    RedirectStandardOutput = true,
    RedirectStandardInput = true,
    UseShellExecute = false,
};
using var child = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the server process");
var baseUrl = new Uri((await child.StandardOutput.ReadLineAsync())!.Trim());

var dir = Directory.CreateTempSubdirectory("embargo-bench-").FullName;
try
{
    string WriteTask(string name, int n)
    {
        var data = Path.Combine(dir, name + ".jsonl");
        File.WriteAllLines(data, Enumerable.Range(1, n).Select(i =>
            JsonSerializer.Serialize(new { id = $"s{i}", input = $"Bench question {i}: reply yes.", target = "yes" })));
        var yaml = Path.Combine(dir, name + ".yaml");
        File.WriteAllText(yaml, $"name: {name}\ncapability: bench\ndataset: {name}.jsonl\nscorer:\n  type: exact\n");
        return yaml;
    }

    EvalRunRequest Request(string task) => new()
    {
        TaskPath = task,
        Subject = new ModelEndpoint { Url = baseUrl, Name = "sample-camelid-7b" },
        BaselineNone = true,
        Concurrency = opts.Concurrency,
        LogDir = Path.Combine(dir, "logs"),
        Options = new EvalRunnerOptions { RequestTimeout = TimeSpan.FromSeconds(30) },
    };

    // Floor: the same calls straight through Microsoft.Extensions.AI + the OpenAI SDK (the engine's ModelClient), no engine.
    async Task<(double Wall, double CpuUs)> RawAsync(int n)
    {
        var ep = new ModelEndpoint { Url = baseUrl, Name = "sample-camelid-7b" };
        using var raw = new Embargo.Evaluation.Running.ModelClient(ep, new EvalRunnerOptions());
        var p0 = Process.GetCurrentProcess().TotalProcessorTime;
        var t0 = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = opts.Concurrency },
            async (i, ct) => await raw.GenerateAsync([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, $"Bench question {i}: reply yes.")], null, ct));
        return (t0.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - p0).TotalMilliseconds * 1000 / n);
    }

    // Warm-up (JIT tiering, connection pool): five runs of up to 5,000 samples, not measured.
    var warm = WriteTask("warmup", Math.Min(5000, opts.Samples));
    for (var i = 0; i < 5; i++)
    {
        await EvalRunner.RunAsync(Request(warm), null, CancellationToken.None);
    }

    var task = WriteTask("bench", opts.Samples);
    var ideal = opts.Samples * (opts.LatencyMs / 1000.0) / opts.Concurrency;
    var inv = CultureInfo.InvariantCulture;
    var runs = new List<Measurement>();
    for (var run = 1; run <= opts.Runs; run++)
    {
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        var me = Process.GetCurrentProcess();
        child.Refresh();
        var serverCpu0 = child.TotalProcessorTime;
        me.Refresh();
        var cpu0 = me.TotalProcessorTime;
        var gc0 = GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2);
        var sw = Stopwatch.StartNew();
        double allDone = 0;
        var progress = new SyncProgress(p =>
        {
            if (p.Completed == p.Total) { allDone = sw.Elapsed.TotalSeconds; }
        });
        var summary = await EvalRunner.RunAsync(Request(task), progress, CancellationToken.None);
        sw.Stop();
        me.Refresh();
        child.Refresh();
        var m = new Measurement(run, load, sw.Elapsed.TotalSeconds, allDone, (me.TotalProcessorTime - cpu0).TotalSeconds,
            (child.TotalProcessorTime - serverCpu0).TotalSeconds,
            GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2) - gc0, summary.Errors, summary.Subject.Accuracy);
        runs.Add(m);
        Console.WriteLine(string.Create(inv, $"run {run}: wall {m.Wall:0.000} s (samples done at {m.LoopDone:0.000} s), ideal {ideal:0.000} s, ratio {m.Wall / ideal:0.000}x, engine CPU {m.EngineCpu * 1e6 / opts.Samples:0} us/sample, server CPU {m.ServerCpu * 1e6 / opts.Samples:0} us/request, GCs {m.Gcs}, errors {m.Errors}, load {load}"));
    }
    var rawRuns = new List<(double Wall, double CpuUs)>();
    for (var i = 0; i < 3; i++)
    {
        rawRuns.Add(await RawAsync(opts.Samples));
        Console.WriteLine(string.Create(inv, $"raw client run {i + 1}: wall {rawRuns[^1].Wall:0.000} s = {rawRuns[^1].Wall / ideal:0.000}x, CPU {rawRuns[^1].CpuUs:0} us/call"));
    }
    var rawMedian = rawRuns.OrderBy(r => r.Wall).ElementAt(1);
    var median = runs.OrderBy(r => r.Wall).ElementAt(runs.Count / 2);
    var medianCpuUs = runs.Select(r => r.EngineCpu * 1e6 / opts.Samples).Order().ElementAt(runs.Count / 2);
    var best = runs.MinBy(r => r.Wall)!;
    Console.WriteLine(string.Create(inv, $"median wall {median.Wall:0.000} s = {median.Wall / ideal:0.000}x ideal; best {best.Wall / ideal:0.000}x; engine CPU median {medianCpuUs:0} us/sample"));

    if (opts.Out is { } outPath)
    {
        var cpuName = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : "?";
        var rows = string.Join("\n", runs.Select(r => string.Create(inv,
            $"| {r.Run} | {r.Wall:0.000} s | {r.Wall / ideal:0.000}× | {r.EngineCpu * 1e6 / opts.Samples:0} µs | {r.EngineCpu / r.Wall:0.00} | {r.ServerCpu * 1e6 / opts.Samples:0} µs | {r.Gcs} | {r.Errors} | {r.Load} |")));
        var server = opts.Minimal ? "a minimal Kestrel endpoint (canned answer)" : "the SAMPLE model server (`SampleModelServer`)";
        var md = string.Create(inv, $"""
            # Evaluation engine benchmark

            `dotnet run -c Release --project bench/Embargo.Bench.Evaluation -- --runs {opts.Runs}{(opts.Minimal ? " --minimal" : "")} --out bench/Embargo.Bench.Evaluation/RESULTS.md`

            {opts.Samples} single-turn samples (exact-match scorer, no baseline), concurrency {opts.Concurrency}, against {server}
            with {opts.LatencyMs} ms injected latency per request. The server runs in a **child process**, so the engine's CPU is
            this process's `Process.TotalProcessorTime` delta over a measured run; the server's CPU is read from the child process
            and shown separately. Five unmeasured warm-up runs of {Math.Min(5000, opts.Samples)} samples come first (JIT tiering,
            connection pool). Wall time is the whole `EvalRunner.RunAsync` call: loading the task, the preflight check, every
            request through Microsoft.Extensions.AI + the OpenAI SDK, scoring, the per-sample journal and the final JSON log.

            Ideal wall time = samples × latency / concurrency = {ideal:0.000} s.

            | run | wall | ratio to ideal | engine CPU / sample | engine cores busy | server CPU / request | GCs | errors | load avg (1 min) before |
            |---|---|---|---|---|---|---|---|---|
            {rows}

            **Median: {median.Wall:0.000} s = {median.Wall / ideal:0.000}× ideal (target ≤ 1.15×); best {best.Wall / ideal:0.000}×. Engine CPU: median {medianCpuUs:0} µs per sample.**

            Floor for comparison, measured right after in the same process against the same server: the same {opts.Samples} calls
            at concurrency {opts.Concurrency} made directly through the chat client (no task, solver, scorer, journal or log),
            median of 3: **{rawMedian.Wall:0.000} s = {rawMedian.Wall / ideal:0.000}× ideal**, {rawMedian.CpuUs:0} µs CPU per call.
            The engine's own cost is the difference.

            Machine: {Environment.ProcessorCount} logical cores ({cpuName}), {RuntimeInformation.OSDescription}, .NET {Environment.Version}.
            Engine and server share these {Environment.ProcessorCount} cores, and other work on the machine (see the load column) competes too.
            Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC.

            """);
        File.WriteAllText(outPath, md);
        Console.WriteLine($"wrote {outPath}");
    }
    return median.Wall / ideal <= 1.15 ? 0 : 1;
}
finally
{
    child.StandardInput.Close();
    await child.WaitForExitAsync();
    Directory.Delete(dir, true);
}

internal sealed record Measurement(int Run, string Load, double Wall, double LoopDone, double EngineCpu, double ServerCpu, int Gcs, int Errors, double Accuracy);

internal sealed class SyncProgress(Action<EvalProgress> action) : IProgress<EvalProgress>
{
    public void Report(EvalProgress value) => action(value);
}

internal sealed record Args
{
    public bool Serve { get; init; }
    public bool Minimal { get; init; }
    public int Runs { get; init; } = 5;
    public int Samples { get; init; } = 10_000;
    public int Concurrency { get; init; } = 256;
    public int LatencyMs { get; init; } = 50;
    public string? Out { get; init; }

    public static Args Parse(string[] args)
    {
        var a = new Args();
        for (var i = 0; i < args.Length; i++)
        {
            a = args[i] switch
            {
                "serve" => a with { Serve = true },
                "--minimal" => a with { Minimal = true },
                "--runs" => a with { Runs = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--samples" => a with { Samples = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--concurrency" => a with { Concurrency = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--latency-ms" => a with { LatencyMs = int.Parse(args[++i], CultureInfo.InvariantCulture) },
                "--out" => a with { Out = args[++i] },
                _ => throw new ArgumentException($"unknown argument {args[i]}"),
            };
        }
        return a;
    }
}
