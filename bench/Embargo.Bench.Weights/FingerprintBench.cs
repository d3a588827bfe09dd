using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Embargo.Weights;

/// <summary>
/// Fingerprinting (Fingerprints.Compute: every tensor's values, streaming) against `embargo weights inspect`
/// (ManifestBuilder.BuildAsync: headers and sha256 of every file) on the same generated safetensors, page cache warm,
/// alternating runs, median of each. Target: fingerprinting at most 1.5× inspect.
/// </summary>
internal static class FingerprintBench
{
    private const long FileBytes = 256L << 20;

    public static async Task<int> RunAsync(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        var gib = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? double.Parse(args[0], inv) : 2;
        var runs = Arg(args, "--runs") is { } r ? int.Parse(r, inv) : 5;
        var root = Path.Combine(Arg(args, "--dir") ?? Path.GetTempPath(), $"embargo-bench-fingerprint-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        try
        {
            var total = (long)(gib * (1L << 30));
            var files = Generate(root, total);
            Console.Error.WriteLine($"== {total >> 20} MiB of F16/BF16/F32 safetensors in {files} files under {root}");
            // Warm the page cache and the JIT once each.
            await ManifestBuilder.BuildAsync(root, null, default);
            Fingerprints.Compute(root);
            var inspect = new List<double>();
            var fingerprint = new List<double>();
            for (var i = 0; i < runs; i++)
            {
                var sw = Stopwatch.StartNew();
                var manifest = await ManifestBuilder.BuildAsync(root, null, default);
                inspect.Add(sw.Elapsed.TotalSeconds);
                if (!manifest.IsOk) throw new InvalidOperationException(manifest.Error.ToString());
                sw.Restart();
                var fp = Fingerprints.Compute(root);
                fingerprint.Add(sw.Elapsed.TotalSeconds);
                if (!fp.IsOk) throw new InvalidOperationException(fp.Error.ToString());
                Console.Error.WriteLine($"   run {i + 1}: inspect {inspect[^1]:F2}s, fingerprint {fingerprint[^1]:F2}s ({fp.Value.Count} tensors)");
            }
            var (mi, mf) = (Median(inspect), Median(fingerprint));
            var load = File.ReadAllText("/proc/loadavg").Split(' ')[0];
            // Peak resident memory of this process over everything (generation buffers, both operations, all runs).
            var peak = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))?.Split(':')[1].Trim() ?? "?";
            Console.WriteLine(string.Create(inv,
                $"| {total >> 20} MiB, {files} files | inspect {mi:F2} s ({total / mi / (1 << 20):F0} MiB/s) | fingerprint {mf:F2} s ({total / mf / (1 << 20):F0} MiB/s) | **{mf / mi:F2}×** | median of {runs}; peak RSS {peak}; {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}, load {load} |"));
            return 0;
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static string? Arg(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[(s.Count / 2) - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary>Files of about 256 MiB, each two tensors; dtypes cycle F16, BF16, F32 (as checkpoints mix them).
    /// Values: small finite floats from a fast generator (the exponent's top bits cleared).</summary>
    private static int Generate(string root, long total)
    {
        var dtypes = new[] { "F16", "BF16", "F32" };
        var count = (int)Math.Max(1, total / FileBytes);
        var random = new Random(7);
        var buffer = new byte[1 << 20];
        for (var f = 0; f < count; f++)
        {
            var dtype = dtypes[f % dtypes.Length];
            var width = dtype == "F32" ? 4 : 2;
            var columns = 4096L;
            var rows = FileBytes / 2 / width / columns;
            var plans = new[] { new TensorPlan($"layer.{f}.a", dtype, [rows, columns]), new TensorPlan($"layer.{f}.b", dtype, [rows, columns]) };
            using var file = File.Create(Path.Combine(root, $"model-{f + 1:D5}-of-{count:D5}.safetensors"));
            // The header through the writer, the data raw (generation speed is not what is measured).
            SafetensorsWriter.WriteHeader(file, plans, null);
            var left = plans.Sum(p => p.Bytes);
            while (left > 0)
            {
                random.NextBytes(buffer);
                var span = buffer.AsSpan(0, (int)Math.Min(buffer.Length, left));
                var top = MemoryMarshal.Cast<byte, ushort>(span);
                // Clear the second-highest bit of every 16-bit half (F16/BF16: exponent top bit; F32: same, in the high half).
                for (var i = width == 4 ? 1 : 0; i < top.Length; i += width / 2)
                {
                    top[i] &= 0b1011_1111_1111_1111;
                }
                file.Write(span);
                left -= span.Length;
            }
        }
        return count;
    }
}
