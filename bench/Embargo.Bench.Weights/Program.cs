// Weights benchmark: ManifestBuilder vs sha256sum, seal vs openssl, unseal; peak memory at two sizes.
// Usage: dotnet run -c Release --project bench/Embargo.Bench.Weights -- [TOTAL_GIB=4] [--files N=4] [--small-gib G=TOTAL/4] [--dir TMPROOT]
//        dotnet run -c Release --project bench/Embargo.Bench.Weights -- fingerprint [GIB=2] [--runs N=5] [--dir TMPROOT]
//        (tensor fingerprinting vs `weights inspect` on the same generated safetensors; see FingerprintBench.cs)
// Each measured operation runs in a fresh child process (this program with "child ...") so that its peak
// resident memory (VmHWM) is its own. Data is pseudo-random, written to a temp dir and deleted afterwards.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Embargo.Weights;

if (args.Length > 0 && args[0] == "child")
{
    return await Child.RunAsync(args[1..]);
}
if (args.Length > 0 && args[0] == "fingerprint")
{
    return await FingerprintBench.RunAsync(args[1..]);
}

var inv = CultureInfo.InvariantCulture;
double totalGib = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? double.Parse(args[0], inv) : 4;
var files = Arg("--files") is { } f ? int.Parse(f, inv) : 4;
var smallGib = Arg("--small-gib") is { } s ? double.Parse(s, inv) : totalGib / 4;
var tmpRoot = Arg("--dir") ?? Path.GetTempPath();
var resultsPath = Path.Combine(FindBenchDir(), "RESULTS.md");

string? Arg(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

var rows = new List<Row>();
foreach (var gib in new[] { smallGib, totalGib }.Distinct())
{
    rows.Add(await RunSize(gib, files, tmpRoot));
}

var fsType = Shell($"stat -f -c %T {Quote([tmpRoot])}").Trim();
var append = args.Contains("--append") && File.Exists(resultsPath);
var md = Report(rows, files, $"{tmpRoot} ({fsType})", includeTitle: !append);
if (append)
{
    File.AppendAllText(resultsPath, "\n" + md);
}
else
{
    File.WriteAllText(resultsPath, md);
}
Console.WriteLine(md);
Console.WriteLine($"written to {resultsPath}");
return 0;

static async Task<Row> RunSize(double gib, int files, string tmpRoot)
{
    var bytes = (long)(gib * 1024 * 1024 * 1024);
    var root = Path.Combine(tmpRoot, $"embargo-bench-weights-{Environment.ProcessId}-{bytes}");
    var model = Path.Combine(root, "model");
    Directory.CreateDirectory(model);
    try
    {
        Console.Error.WriteLine($"== {Fmt(bytes)} in {files} files under {root}");
        var paths = Generate(model, bytes, files);
        Shell($"cat {Quote(paths)} > /dev/null"); // warm the page cache

        var sha256sum = Best(2, () => Time($"sha256sum {Quote(paths)} > /dev/null"));
        var sha256sumParallel = Best(2, () => Time($"printf '%s\\0' {Quote(paths)} | xargs -0 -P {Environment.ProcessorCount} -n 1 sha256sum > /dev/null"));
        var openSslDgst = Best(2, () => Time($"openssl dgst -sha256 {Quote(paths)} > /dev/null"));
        var inspect = Best(2, () => ChildRun("inspect", model));
        var inspect1 = Best(2, () => ChildRun("inspect1", model));
        Console.Error.WriteLine($"   inspect {inspect.Seconds:F2}s, sha256sum {sha256sum.Seconds:F2}s");

        var keyName = Path.Combine(root, "grantee");
        if (!KeyFiles.Generate(keyName).IsOk) throw new InvalidOperationException("keygen failed");
        var sealedDir = Path.Combine(root, "sealed");
        Shell("sync"); // flush earlier writes so each write-heavy phase starts from a clean page cache
        var seal = Best(2, () =>
        {
            if (Directory.Exists(sealedDir)) Directory.Delete(sealedDir, true);
            Shell("sync");
            return ChildRun("seal", model, sealedDir, keyName + ".pub");
        });
        Console.Error.WriteLine($"   seal {seal.Seconds:F2}s");
        var ctrDir = Path.Combine(root, "ctr");
        Directory.CreateDirectory(ctrDir);
        Shell("sync");
        var opensslCtr = Best(2, () =>
        {
            Shell("sync");
            return Time(string.Join("; ", paths.Select((p, i) =>
                $"openssl enc -aes-256-ctr -K {new string('1', 64)} -iv {new string('2', 32)} -in {Quote([p])} -out {Quote([Path.Combine(ctrDir, i.ToString(CultureInfo.InvariantCulture))])}")));
        });
        Directory.Delete(ctrDir, true);
        var restored = Path.Combine(root, "restored");
        Shell("sync");
        var unseal = Best(2, () =>
        {
            if (Directory.Exists(restored)) Directory.Delete(restored, true);
            Shell("sync");
            return ChildRun("unseal", sealedDir, keyName + ".key", restored);
        });
        Console.Error.WriteLine($"   unseal {unseal.Seconds:F2}s, openssl ctr {opensslCtr.Seconds:F2}s");
        // Byte-identical round trip, checked by coreutils (cmp), not by the code under test.
        Shell($"diff -rq {Quote([model])} {Quote([restored])} && for f in {Quote(paths)}; do cmp \"$f\" {Quote([restored])}/\"$(basename \"$f\")\"; done");
        Console.Error.WriteLine($"   restored files are byte-identical (diff -r, cmp) at {bytes / (1024.0 * 1024 * 1024):F0} GiB");
        Directory.Delete(restored, true);
        Directory.Delete(sealedDir, true);
        return new Row(bytes, sha256sum.Seconds, sha256sumParallel.Seconds, openSslDgst.Seconds, inspect, inspect1, seal, opensslCtr.Seconds, unseal);
    }
    finally
    {
        Directory.Delete(root, true);
    }
}

static string Report(List<Row> rows, int files, string where, bool includeTitle)
{
    var inv = CultureInfo.InvariantCulture;
    var gcm = OpenSslSpeedGcm();
    var sb = new StringBuilder();
    if (includeTitle)
    {
        sb.AppendLine("# Weights benchmark");
        sb.AppendLine();
    }
    sb.AppendLine(inv, $"## Data in {where}");
    sb.AppendLine();
    sb.AppendLine(inv, $"- date: {TimeProvider.System.GetUtcNow():yyyy-MM-dd HH:mm} UTC");
    sb.AppendLine(inv, $"- machine: {CpuModel()}, {Environment.ProcessorCount} cores, {MemTotal()} RAM, Linux {Shell("uname -r").Trim()}");
    sb.AppendLine(inv, $"- runtime: {RuntimeInformation.FrameworkDescription}; {Shell("sha256sum --version | sed -n 1p").Trim()}; {Shell("openssl version").Trim()}");
    sb.AppendLine(inv, $"- data: {files} pseudo-random safetensors files (one U8 tensor each) per size, page cache warm; every unseal's output was compared with the originals by `diff -r` and `cmp` (byte-identical, or the run stops); best of 2 runs for every figure (`sync` before each write-heavy run; seal, unseal and `openssl enc` include writing their output)");
    sb.AppendLine(inv, $"- load average when the report was written: {File.ReadAllText("/proc/loadavg").Trim()} (the machine is shared; other builds and tests ran during the benchmark, so absolute times are noisy — the ratios come from the same run)");
    sb.AppendLine("- each Embargo operation runs in its own process; memory is that process's peak RSS (VmHWM)");
    sb.AppendLine("- `openssl enc` refuses AEAD ciphers (\"AEAD ciphers not supported\"), so the file-to-file stand-in is `openssl enc -aes-256-ctr` run over the same files one after another; raw AES-256-GCM throughput from `openssl speed -evp aes-256-gcm -bytes 1048576` is given too");
    sb.AppendLine();
    sb.AppendLine("| size | operation | seconds | GiB/s | peak RSS | reference | reference s | ratio (ours / reference) |");
    sb.AppendLine("|---|---|---:|---:|---:|---|---:|---:|");
    foreach (var r in rows)
    {
        string G(double s) => (r.Bytes / s / (1 << 30)).ToString("F2", inv);
        var size = Fmt(r.Bytes);
        sb.AppendLine(inv, $"| {size} | inspect (ManifestBuilder, {Environment.ProcessorCount} threads) | {r.Inspect.Seconds:F2} | {G(r.Inspect.Seconds)} | {Mib(r.Inspect.PeakKib)} | `sha256sum` (sequential) | {r.Sha256sum:F2} | **{r.Inspect.Seconds / r.Sha256sum:F2}x** |");
        sb.AppendLine(inv, $"| {size} | inspect | | | | `xargs -P{Environment.ProcessorCount} sha256sum` | {r.Sha256sumParallel:F2} | {r.Inspect.Seconds / r.Sha256sumParallel:F2}x |");
        sb.AppendLine(inv, $"| {size} | inspect | | | | `openssl dgst -sha256` | {r.OpenSslDgst:F2} | {r.Inspect.Seconds / r.OpenSslDgst:F2}x |");
        sb.AppendLine(inv, $"| {size} | inspect, 1 thread (same work as `sha256sum`) | {r.Inspect1.Seconds:F2} | {G(r.Inspect1.Seconds)} | {Mib(r.Inspect1.PeakKib)} | `sha256sum` (sequential) | {r.Sha256sum:F2} | {r.Inspect1.Seconds / r.Sha256sum:F2}x |");
        sb.AppendLine(inv, $"| {size} | inspect, 1 thread | | | | `openssl dgst -sha256` | {r.OpenSslDgst:F2} | {r.Inspect1.Seconds / r.OpenSslDgst:F2}x |");
        sb.AppendLine(inv, $"| {size} | seal (AES-256-GCM, 1 MiB chunks, write) | {r.Seal.Seconds:F2} | {G(r.Seal.Seconds)} | {Mib(r.Seal.PeakKib)} | `openssl enc -aes-256-ctr` files | {r.OpenSslCtr:F2} | **{r.Seal.Seconds / r.OpenSslCtr:F2}x** |");
        sb.AppendLine(inv, $"| {size} | unseal (decrypt, verify, write, move) | {r.Unseal.Seconds:F2} | {G(r.Unseal.Seconds)} | {Mib(r.Unseal.PeakKib)} | `openssl enc -aes-256-ctr` files | {r.OpenSslCtr:F2} | {r.Unseal.Seconds / r.OpenSslCtr:F2}x |");
    }
    sb.AppendLine();
    sb.AppendLine(inv, $"`openssl speed -evp aes-256-gcm -bytes 1048576` (one core, in memory): {gcm}.");
    if (rows.Count == 2)
    {
        sb.AppendLine();
        sb.AppendLine(inv, $"Memory is flat in file size: from {Fmt(rows[0].Bytes)} to {Fmt(rows[1].Bytes)} ({(double)rows[1].Bytes / rows[0].Bytes:F0}x the data) peak RSS went " +
            $"{Mib(rows[0].Inspect.PeakKib)} → {Mib(rows[1].Inspect.PeakKib)} (inspect), {Mib(rows[0].Seal.PeakKib)} → {Mib(rows[1].Seal.PeakKib)} (seal), " +
            $"{Mib(rows[0].Unseal.PeakKib)} → {Mib(rows[1].Unseal.PeakKib)} (unseal).");
    }
    sb.AppendLine();
    sb.AppendLine("Reproduce: `dotnet run -c Release --project bench/Embargo.Bench.Weights -- 4` (total GiB; `--files N`, `--small-gib G`, `--dir TMP`, `--append` to add a section instead of replacing the file).");
    return sb.ToString();
}

static string[] Generate(string dir, long total, int files)
{
    var per = total / files;
    var paths = new List<string>();
    var buffer = new byte[1 << 20];
    for (var i = 0; i < files; i++)
    {
        var path = Path.Combine(dir, $"model-{i + 1:D5}-of-{files:D5}.safetensors");
        var header = Encoding.UTF8.GetBytes("{\"__metadata__\":{\"note\":\"benchmark filler\"},\"w\":{\"dtype\":\"U8\",\"shape\":[" + (per - 8 - 128) + "],\"data_offsets\":[0," + (per - 8 - 128) + "]}}");
        var padded = new byte[128];
        Array.Fill(padded, (byte)' ');
        header.CopyTo(padded, 0);
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
        fs.Write(BitConverter.GetBytes((ulong)padded.Length));
        fs.Write(padded);
        var random = new Random(1234 + i);
        long left = per - 8 - padded.Length;
        while (left > 0)
        {
            random.NextBytes(buffer);
            var n = (int)Math.Min(buffer.Length, left);
            fs.Write(buffer, 0, n);
            left -= n;
        }
        paths.Add(path);
    }
    return [.. paths];
}

static Measured ChildRun(params string[] childArgs)
{
    var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
    var self = Environment.GetCommandLineArgs()[0];
    if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(self);
    psi.ArgumentList.Add("child");
    foreach (var a in childArgs) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    var output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"child {string.Join(' ', childArgs)} failed: {output}");
    var parts = output.Trim().Split(' ');
    return new Measured(double.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
}

static Measured Best(int runs, Func<Measured> run) => Enumerable.Range(0, runs).Select(_ => run()).MinBy(m => m.Seconds)!;

static Measured Time(string command)
{
    var sw = Stopwatch.StartNew();
    Shell(command);
    return new Measured(sw.Elapsed.TotalSeconds, 0);
}

static string Shell(string command)
{
    var psi = new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
    using var p = Process.Start(psi)!;
    var stderr = p.StandardError.ReadToEndAsync();
    var output = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"`{command}` failed: {stderr.Result}");
    return output + stderr.Result;
}

static string OpenSslSpeedGcm()
{
    try
    {
        var line = Shell("openssl speed -evp aes-256-gcm -bytes 1048576 -seconds 3 2>/dev/null | tail -1");
        var kbps = double.Parse(line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1].TrimEnd('k'), CultureInfo.InvariantCulture);
        return $"{kbps * 1000 / (1 << 30):F2} GiB/s";
    }
    catch (Exception e) when (e is InvalidOperationException or FormatException or IndexOutOfRangeException)
    {
        return "not measured (" + e.Message.Split('\n')[0] + ")";
    }
}

static string Quote(IEnumerable<string> paths) => string.Join(' ', paths.Select(p => "'" + p.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
static string Fmt(long bytes) => bytes >= 1L << 30 ? $"{bytes / (double)(1L << 30):0.##} GiB" : $"{bytes / (double)(1 << 20):0.##} MiB";
static string Mib(long kib) => $"{kib / 1024.0:F0} MiB";
static string CpuModel() => File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "unknown CPU";
static string MemTotal() => File.ReadLines("/proc/meminfo").First().Split(':')[1].Trim() is var m && long.TryParse(m.Split(' ')[0], out var kb) ? $"{kb / 1024.0 / 1024:F0} GiB" : "?";

static string FindBenchDir()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
    {
        if (File.Exists(Path.Combine(d.FullName, "Embargo.Bench.Weights.csproj"))) return d.FullName;
    }
    return Directory.GetCurrentDirectory();
}

internal sealed record Measured(double Seconds, long PeakKib);

internal sealed record Row(long Bytes, double Sha256sum, double Sha256sumParallel, double OpenSslDgst, Measured Inspect, Measured Inspect1, Measured Seal, double OpenSslCtr, Measured Unseal);

internal static class Child
{
    public static async Task<int> RunAsync(string[] args)
    {
        var sw = Stopwatch.StartNew();
        switch (args[0])
        {
            case "inspect" or "inspect1":
            {
                var r = await ManifestBuilder.BuildAsync(args[1], null, args[0] == "inspect1" ? 1 : Environment.ProcessorCount, CancellationToken.None);
                if (!r.IsOk) { Console.Error.WriteLine(r.Error); return 1; }
                break;
            }
            case "seal":
            {
                var r = await WeightsSealer.SealAsync(args[1], args[2], [args[3]], null, null, CancellationToken.None);
                if (!r.IsOk) { Console.Error.WriteLine(r.Error); return 1; }
                break;
            }
            case "unseal":
            {
                var r = await WeightsSealer.UnsealAsync(args[1], args[2], args[3], null, CancellationToken.None);
                if (!r.IsOk) { Console.Error.WriteLine(r.Error); return 1; }
                break;
            }
            default:
                return 2;
        }
        var seconds = sw.Elapsed.TotalSeconds;
        var hwm = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)).Split(':')[1].Trim().Split(' ')[0];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds:F3} {hwm}"));
        return 0;
    }
}
