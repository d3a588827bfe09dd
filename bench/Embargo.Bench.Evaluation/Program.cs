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

    if (opts.Raw)
    {
        // Floor: the same number of calls straight through Microsoft.Extensions.AI + the OpenAI SDK, no engine.
        var ep = new ModelEndpoint { Url = baseUrl, Name = "sample-camelid-7b" };
        using var raw = new Embargo.Evaluation.Running.ModelClient(ep, new EvalRunnerOptions());
        async Task Calls(int n) => await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = opts.Concurrency },
            async (i, ct) => await raw.GenerateAsync([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, $"Bench question {i}: reply yes.")], null, ct));
        await Calls(2000);
        var p0 = Process.GetCurrentProcess().TotalProcessorTime;
        var t0 = Stopwatch.StartNew();
        await Calls(opts.Samples);
        var cpuRaw = Process.GetCurrentProcess().TotalProcessorTime - p0;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raw client: wall {t0.Elapsed.TotalSeconds:0.000} s, CPU {cpuRaw.TotalMilliseconds * 1000 / opts.Samples:0} us/call"));
        return 0;
    }

    // Warm-up (JIT, connection pool) with a smaller run, not measured.
    await EvalRunner.RunAsync(Request(WriteTask("warmup", Math.Min(2000, opts.Samples))), null, CancellationToken.None);

    var task = WriteTask("bench", opts.Samples);
    var me = Process.GetCurrentProcess();
    child.Refresh();
    var serverCpu0 = child.TotalProcessorTime;
    me.Refresh();
    var cpu0 = me.TotalProcessorTime;
    var gc0 = GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2);
    var sw = Stopwatch.StartNew();
    double firstDone = 0, allDone = 0;
    var progress = new SyncProgress(p =>
    {
        if (p.Completed == 1) { firstDone = sw.Elapsed.TotalSeconds; }
        if (p.Completed == p.Total) { allDone = sw.Elapsed.TotalSeconds; }
    });
    var summary = await EvalRunner.RunAsync(Request(task), progress, CancellationToken.None);
    sw.Stop();
    me.Refresh();
    child.Refresh();
    var engineCpu = me.TotalProcessorTime - cpu0;
    var serverCpu = child.TotalProcessorTime - serverCpu0;
    var gcs = GC.CollectionCount(0) + GC.CollectionCount(1) + GC.CollectionCount(2) - gc0;

    var ideal = opts.Samples * (opts.LatencyMs / 1000.0) / opts.Concurrency;
    var wall = sw.Elapsed.TotalSeconds;
    var ratio = wall / ideal;
    var cpuPerSampleUs = engineCpu.TotalMilliseconds * 1000 / opts.Samples;
    var inv = CultureInfo.InvariantCulture;
    Console.WriteLine(string.Create(inv, $"samples {opts.Samples}, concurrency {opts.Concurrency}, latency {opts.LatencyMs} ms"));
    Console.WriteLine(string.Create(inv, $"wall {wall:0.000} s, ideal {ideal:0.000} s, ratio {ratio:0.000}x (target <= 1.15x)"));
    Console.WriteLine(string.Create(inv, $"engine CPU {engineCpu.TotalSeconds:0.000} s = {cpuPerSampleUs:0} us/sample ({engineCpu.TotalSeconds / wall:0.00} cores); server CPU {serverCpu.TotalSeconds:0.000} s; GCs {gcs}"));
    Console.WriteLine(string.Create(inv, $"accuracy {summary.Subject.Accuracy:0.000}, errors {summary.Errors}"));
    Console.WriteLine(string.Create(inv, $"phases: first sample done at {firstDone:0.000} s, last at {allDone:0.000} s, log written by {wall:0.000} s"));

    if (opts.Out is { } outPath)
    {
        var cpuName = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
            : "?";
        var md = string.Create(inv, $"""
            # Evaluation engine benchmark

            `dotnet run -c Release --project bench/Embargo.Bench.Evaluation -- --out bench/Embargo.Bench.Evaluation/RESULTS.md`

            {opts.Samples} single-turn samples (exact-match scorer), concurrency {opts.Concurrency}, against the SAMPLE model
            server with {opts.LatencyMs} ms injected latency per request. The server runs in a **child process**, so the engine's
            CPU is this process's `Process.TotalProcessorTime` delta over the measured run (the server's is read from the child
            process and reported separately). A warm-up run of {Math.Min(2000, opts.Samples)} samples precedes the measurement.
            Wall time includes loading the task, the preflight check, the per-sample journal and writing the final JSON log.

            | metric | value |
            |---|---|
            | samples | {opts.Samples} |
            | concurrency | {opts.Concurrency} |
            | latency per request | {opts.LatencyMs} ms |
            | ideal wall time (samples × latency / concurrency) | {ideal:0.000} s |
            | measured wall time | {wall:0.000} s |
            | **ratio to ideal** | **{ratio:0.000}×** (target ≤ 1.15×) |
            | engine CPU (this process) | {engineCpu.TotalSeconds:0.000} s |
            | **engine CPU per sample** | **{cpuPerSampleUs:0} µs** |
            | engine CPU / wall (cores busy) | {engineCpu.TotalSeconds / wall:0.00} |
            | server CPU (child process) | {serverCpu.TotalSeconds:0.000} s |
            | GC collections during the run | {gcs} |
            | accuracy / errors | {summary.Subject.Accuracy:0.000} / {summary.Errors} |

            Machine: {Environment.ProcessorCount} logical cores ({cpuName}), {RuntimeInformation.OSDescription}, .NET {Environment.Version}.
            Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC. Engine and server share the same {Environment.ProcessorCount} cores.

            """);
        File.WriteAllText(outPath, md);
        Console.WriteLine($"wrote {outPath}");
    }
    return ratio <= 1.15 ? 0 : 1;
}
finally
{
    child.StandardInput.Close();
    await child.WaitForExitAsync();
    Directory.Delete(dir, true);
}

internal sealed class SyncProgress(Action<EvalProgress> action) : IProgress<EvalProgress>
{
    public void Report(EvalProgress value) => action(value);
}

internal sealed record Args
{
    public bool Serve { get; init; }
    public bool Raw { get; init; }
    public bool Minimal { get; init; }
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
                "--raw" => a with { Raw = true },
                "--minimal" => a with { Minimal = true },
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
