// Bounded Stopwatch harness for Embargo.Ledger (BenchmarkDotNet's statistical runs would take far longer than the
// three-minute budget at 1e6 leaves). Each figure is the mean over a fixed batch of operations after a warm-up pass.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Embargo.Ledger;

var sizes = new long[] { 1_000, 10_000, 100_000, 1_000_000 };
const int OpsPerMeasurement = 20_000;
const int Rounds = 3;
var rows = new List<Row>();

// Warm-up, discarded: enough calls for the JIT to reach optimised (tier-1) code, then a pause for background compiles.
for (var i = 0; i < 3; i++)
{
    Measure(10_000, 5_000);
}

Thread.Sleep(500);
foreach (var size in sizes)
{
    var row = Measure(size, OpsPerMeasurement);
    rows.Add(row);
    Console.Error.WriteLine(FormattableString.Invariant($"measured n={size:N0}"));
}

var report = Render(rows);
Console.WriteLine(report);
var path = Path.Combine(ProjectDirectory(), "RESULTS.md");
File.WriteAllText(path, report);
Console.Error.WriteLine($"written to {path}");

static Row Measure(long size, int ops)
{
    var random = new Random(6962);
    GC.Collect();
    var before = GC.GetTotalMemory(forceFullCollection: true);

    var leaf = new byte[64];
    MerkleTree tree = null!;
    var watch = new Stopwatch();
    var bestAppendSeconds = double.MaxValue;
    double bytesPerLeaf = 0;
    for (var round = 0; round < (size <= 100_000 ? Rounds : 1); round++)
    {
        tree = null!;
        GC.Collect();
        before = GC.GetTotalMemory(forceFullCollection: true);
        tree = new MerkleTree();
        watch.Restart();
        for (long i = 0; i < size; i++)
        {
            BitConverter.TryWriteBytes(leaf, i);
            tree.AppendLeaf(leaf);
        }

        watch.Stop();
        bestAppendSeconds = Math.Min(bestAppendSeconds, watch.Elapsed.TotalSeconds);
        bytesPerLeaf = (GC.GetTotalMemory(forceFullCollection: true) - before) / (double)size;
    }

    var appendPerSecond = size / bestAppendSeconds;
    var root = tree.Root();

    // Inclusion proofs for random leaves in the full tree.
    var indices = new long[ops];
    for (var i = 0; i < ops; i++)
    {
        indices[i] = random.NextInt64(size);
    }

    var proofs = new IReadOnlyList<byte[]>[ops];
    var inclusionNs = BestOfNs(ops, () =>
    {
        for (var i = 0; i < ops; i++)
        {
            proofs[i] = tree.InclusionProof(indices[i], size);
        }
    });

    var leafHashes = new byte[ops][];
    for (var i = 0; i < ops; i++)
    {
        leafHashes[i] = tree.LeafHash(indices[i]);
    }

    var verifyInclusionNs = BestOfNs(ops, () =>
    {
        for (var i = 0; i < ops; i++)
        {
            if (!MerkleVerifier.VerifyInclusion(indices[i], size, leafHashes[i], proofs[i], root).IsOk)
            {
                throw new InvalidOperationException("inclusion proof did not verify");
            }
        }
    });

    // Consistency proofs from random older sizes to the full tree.
    var oldSizes = new long[ops];
    for (var i = 0; i < ops; i++)
    {
        oldSizes[i] = 1 + random.NextInt64(size - 1);
    }

    var consistency = new IReadOnlyList<byte[]>[ops];
    var consistencyNs = BestOfNs(ops, () =>
    {
        for (var i = 0; i < ops; i++)
        {
            consistency[i] = tree.ConsistencyProof(oldSizes[i], size);
        }
    });

    var oldRoots = new byte[ops][];
    var rootAtNs = BestOfNs(ops, () =>
    {
        for (var i = 0; i < ops; i++)
        {
            oldRoots[i] = tree.RootAt(oldSizes[i]);
        }
    });

    var verifyConsistencyNs = BestOfNs(ops, () =>
    {
        for (var i = 0; i < ops; i++)
        {
            if (!MerkleVerifier.VerifyConsistency(oldSizes[i], size, oldRoots[i], root, consistency[i]).IsOk)
            {
                throw new InvalidOperationException("consistency proof did not verify");
            }
        }
    });

    // What an offline verifier pays: the plain O(n) recursion over every leaf hash.
    var all = new byte[size][];
    for (long i = 0; i < size; i++)
    {
        all[i] = tree.LeafHash(i);
    }

    watch.Restart();
    var recomputed = MerkleVerifier.RootFromLeafHashes(all);
    var fullRecomputeMs = watch.Elapsed.TotalMilliseconds;
    if (!recomputed.AsSpan().SequenceEqual(root))
    {
        throw new InvalidOperationException("recursive root differs from the tree root");
    }

    return new Row(size, appendPerSecond, bytesPerLeaf, inclusionNs, verifyInclusionNs, consistencyNs, verifyConsistencyNs,
        rootAtNs, fullRecomputeMs, proofs.Average(p => p.Count), consistency.Average(p => p.Count));
}

static double BestOfNs(int ops, Action batch)
{
    var best = double.MaxValue;
    var watch = new Stopwatch();
    for (var round = 0; round < Rounds; round++)
    {
        watch.Restart();
        batch();
        watch.Stop();
        best = Math.Min(best, watch.Elapsed.TotalNanoseconds / ops);
    }

    return best;
}

static string Render(List<Row> rows)
{
    var ci = CultureInfo.InvariantCulture;
    var md = new StringBuilder();
    md.AppendLine("# Embargo.Ledger benchmark");
    md.AppendLine();
    md.AppendLine(ci, $"- machine: {Environment.ProcessorCount} logical cores (`nproc`), CPU: {CpuModel()}");
    md.AppendLine(ci, $"- runtime: {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}");
    md.AppendLine(ci, $"- date: {TimeProvider.System.GetUtcNow():yyyy-MM-dd HH:mm} UTC");
    md.AppendLine(ci, $"- method: Stopwatch, Release build, three discarded warm-up passes at 10,000 leaves, then for each tree size the best of {Rounds} batches, each the mean over {OpsPerMeasurement:N0} operations at random leaf indices / old sizes; append rate is 64-byte leaves hashed and appended one at a time (best of {Rounds} builds up to 100,000 leaves, one build at 1,000,000); memory is managed heap growth per leaf.");
    md.AppendLine("- run: `dotnet run -c Release --project bench/Embargo.Bench.Ledger`");
    md.AppendLine();
    md.AppendLine("| leaves | append (leaves/s) | heap per leaf (B) | inclusion proof | verify inclusion | consistency proof | verify consistency | RootAt(old) | hashes per incl. / cons. proof | full O(n) root recompute |");
    md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    foreach (var r in rows)
    {
        md.AppendLine(ci, $"| {r.Size:N0} | {r.AppendPerSecond:N0} | {r.BytesPerLeaf:N0} | {Time(r.InclusionNs)} | {Time(r.VerifyInclusionNs)} | {Time(r.ConsistencyNs)} | {Time(r.VerifyConsistencyNs)} | {Time(r.RootAtNs)} | {r.InclusionLength:N1} / {r.ConsistencyLength:N1} | {r.FullRecomputeMs:N1} ms |");
    }

    var first = rows[0];
    var last = rows[^1];
    md.AppendLine();
    md.AppendLine(ci,
        $"Growth: from {first.Size:N0} to {last.Size:N0} leaves ({last.Size / first.Size:N0}× more) the per-operation cost of an inclusion proof went ×{last.InclusionNs / first.InclusionNs:N1}, " +
        $"a consistency proof ×{last.ConsistencyNs / first.ConsistencyNs:N1}, verifying them ×{last.VerifyInclusionNs / first.VerifyInclusionNs:N1} and ×{last.VerifyConsistencyNs / first.VerifyConsistencyNs:N1}, " +
        $"while the proof length went from {first.InclusionLength:N1} to {last.InclusionLength:N1} hashes (log2 n: {Math.Log2(first.Size):N1} → {Math.Log2(last.Size):N1}); " +
        $"the full recompute an offline verifier does went ×{last.FullRecomputeMs / first.FullRecomputeMs:N0}, i.e. linear in n.");
    md.AppendLine("Per-operation cost tracks the proof length, which grows with log2 n; the rest of the growth at the larger sizes is most likely cache misses once the tree (about 2 × 32 B per leaf) outgrows the CPU caches (not measured separately). Figures are from one run on a shared 2-core machine; an earlier run with only one short warm-up pass gave up to 3× higher times at the small sizes, so read them as orders of magnitude.");
    return md.ToString();
}

static string Time(double ns) => ns >= 1_000
    ? (ns / 1_000).ToString("N2", CultureInfo.InvariantCulture) + " µs"
    : ns.ToString("N0", CultureInfo.InvariantCulture) + " ns";

static string CpuModel()
{
    try
    {
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? "unknown" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }
    catch (IOException)
    {
        return "unknown";
    }
}

static string ProjectDirectory()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Embargo.Bench.Ledger.csproj")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}

internal sealed record Row(
    long Size, double AppendPerSecond, double BytesPerLeaf, double InclusionNs, double VerifyInclusionNs, double ConsistencyNs,
    double VerifyConsistencyNs, double RootAtNs, double FullRecomputeMs, double InclusionLength, double ConsistencyLength);
