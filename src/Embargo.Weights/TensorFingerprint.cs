using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Embargo.Weights;

/// <summary>
/// A tensor's fingerprint: derived from its VALUES (widened to float32, flattened in storage order), never from its
/// name, file or container. <see cref="Sketch"/> has <see cref="K"/> coordinates: coordinate k sums s(i)·v_i over
/// the elements i of chunk k = [k·n/K, (k+1)·n/K), with a fixed pseudo-random sign s(i) = ±1 taken from a
/// 4096-entry table repeated. With the element count and the sum and sum of squares of all values it is what a
/// version registers and what a scan sends; see FINGERPRINT.md.
/// </summary>
public sealed record TensorFingerprint
{
    /// <summary>Sketch coordinates per tensor.</summary>
    public const int K = 256;
    /// <summary>Length of the repeating sign table (also the accumulation segment, so chunking never changes the result).</summary>
    public const int SignPeriod = 4096;

    public required long Elements { get; init; }
    public required double Sum { get; init; }
    public required double SumSquares { get; init; }
    public required float[] Sketch { get; init; }

    public double Mean => Elements == 0 ? 0 : Sum / Elements;
    public double Variance => Elements == 0 ? 0 : Math.Max(0, (SumSquares / Elements) - (Mean * Mean));

    /// <summary>The sketch as base64 of K little-endian float32 (what travels over HTTP).</summary>
    public string SketchBase64 => Convert.ToBase64String(MemoryMarshal.AsBytes(Sketch.AsSpan()));

    /// <summary>Parses a sketch sent over HTTP: exactly K finite float32; null when it is not one.</summary>
    public static float[]? ParseSketch(string? base64)
    {
        if (base64 is null || base64.Length > 4 * ((K * 4 + 2) / 3))
        {
            return null;
        }
        var bytes = new byte[K * 4];
        if (!Convert.TryFromBase64String(base64, bytes, out var written) || written != K * 4)
        {
            return null;
        }
        var sketch = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        return sketch.All(float.IsFinite) ? sketch : null;
    }

    /// <summary>The sign table: ±1 from a fixed xorshift sequence (the same in every Embargo, forever).</summary>
    internal static readonly float[] Signs = MakeSigns();

    /// <summary>Prefix sums of the sign table: SignPrefix[j] = Σ Signs[0..j).</summary>
    private static readonly int[] SignPrefix = MakePrefix();

    private static float[] MakeSigns()
    {
        var signs = new float[SignPeriod];
        var state = 0x9E37_79B9_7F4A_7C15UL;
        for (var i = 0; i < SignPeriod; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            signs[i] = (state >> 63) == 0 ? 1f : -1f;
        }
        return signs;
    }

    private static int[] MakePrefix()
    {
        var prefix = new int[SignPeriod + 1];
        for (var i = 0; i < SignPeriod; i++)
        {
            prefix[i + 1] = prefix[i] + (int)Signs[i];
        }
        return prefix;
    }

    /// <summary>Σ s(i) for i in [begin, end).</summary>
    internal static long SignSum(long begin, long end)
    {
        static long Upto(long x) => (x / SignPeriod * SignPrefix[SignPeriod]) + SignPrefix[(int)(x % SignPeriod)];
        return Upto(end) - Upto(begin);
    }

    /// <summary>First element of sketch chunk k of a tensor of n elements.</summary>
    internal static long ChunkStart(long n, int k) => (long)((UInt128)(ulong)n * (ulong)k / K);

    /// <summary>The sketch centred on the tensor's mean: coordinate k minus mean·Σ s(i) over chunk k. A constant
    /// tensor's centred sketch is zero, so constants (layer norms at 1) carry no evidence.</summary>
    public double[] Centred()
    {
        var mean = Mean;
        var centred = new double[K];
        for (var k = 0; k < K; k++)
        {
            centred[k] = Sketch[k] - (mean * SignSum(ChunkStart(Elements, k), ChunkStart(Elements, k + 1)));
        }
        return centred;
    }

    /// <summary>Worth comparing: at least K elements, finite, and values that vary (relative to their size).</summary>
    public bool Informative =>
        Elements >= K && double.IsFinite(Sum) && double.IsFinite(SumSquares) && Variance > 1e-12 * Math.Max(1e-30, SumSquares / Elements);

    /// <summary>Accumulates a fingerprint from values streamed in any chunking: the result depends only on the values.</summary>
    public sealed class Builder(long elements)
    {
        private readonly float[] _sketch = new float[K];
        private readonly float[] _stage = new float[SignPeriod];
        private readonly double[] _coordinate = new double[K];
        private int _staged;
        private long _position;
        private int _chunk;
        private long _chunkEnd = AdvanceEnd(elements, 0);
        private double _sum;
        private double _sumSquares;

        private static long AdvanceEnd(long n, int k) => ChunkStart(n, k + 1);

        /// <summary>Adds the next values (in storage order).</summary>
        public void Add(ReadOnlySpan<float> values)
        {
            while (values.Length > 0)
            {
                if (_position >= elements)
                {
                    throw new InvalidOperationException($"more than the {elements} elements announced");
                }
                while (_chunkEnd <= _position)
                {
                    _chunk++;
                    _chunkEnd = AdvanceEnd(elements, _chunk);
                }
                // A segment ends at the next multiple of the sign period or at the end of the sketch chunk.
                var segmentEnd = Math.Min(((_position / SignPeriod) + 1) * SignPeriod, _chunkEnd);
                var take = (int)Math.Min(values.Length, segmentEnd - _position);
                if (_staged == 0 && _position + take == segmentEnd)
                {
                    Accumulate(values[..take], _position);
                }
                else
                {
                    values[..take].CopyTo(_stage.AsSpan(_staged));
                    _staged += take;
                    if (_position + take == segmentEnd)
                    {
                        Accumulate(_stage.AsSpan(0, _staged), segmentEnd - _staged);
                        _staged = 0;
                    }
                }
                _position += take;
                values = values[take..];
            }
        }

        private void Accumulate(ReadOnlySpan<float> segment, long start)
        {
            var offset = (int)(start % SignPeriod);
            _coordinate[_chunk] += TensorPrimitives.Dot(segment, Signs.AsSpan(offset, segment.Length));
            _sum += TensorPrimitives.Sum(segment);
            _sumSquares += TensorPrimitives.SumOfSquares(segment);
        }

        public TensorFingerprint Build()
        {
            if (_position != elements)
            {
                throw new InvalidOperationException($"{_position} of {elements} elements were added");
            }
            for (var k = 0; k < K; k++)
            {
                _sketch[k] = (float)_coordinate[k];
            }
            return new TensorFingerprint { Elements = elements, Sum = _sum, SumSquares = _sumSquares, Sketch = (float[])_sketch.Clone() };
        }
    }

    /// <summary>The fingerprint of values held in memory (tests and small tensors).</summary>
    public static TensorFingerprint Of(ReadOnlySpan<float> values)
    {
        var builder = new Builder(values.Length);
        builder.Add(values);
        return builder.Build();
    }

    /// <summary>Cosine of the centred sketches of two tensors with the same element count (0 when either is flat).</summary>
    public static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var k = 0; k < K; k++)
        {
            dot += a[k] * b[k];
            na += a[k] * a[k];
            nb += b[k] * b[k];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    /// <summary>The same values (up to float32 summation order): every coordinate, the sum and the sum of squares agree
    /// to a relative 1e-5 of the tensor's scale. Quantisation to 8 bits moves them by about 1e-2.</summary>
    public static bool SameValues(TensorFingerprint a, TensorFingerprint b)
    {
        if (a.Elements != b.Elements)
        {
            return false;
        }
        var scale = Math.Sqrt(a.SumSquares / Math.Max(1, a.Elements));
        var perCoordinate = scale * Math.Sqrt((double)a.Elements / K);
        const double tolerance = 1e-5;
        if (Math.Abs(a.SumSquares - b.SumSquares) > tolerance * Math.Max(a.SumSquares, 1e-30)
            || Math.Abs(a.Sum - b.Sum) > tolerance * scale * a.Elements)
        {
            return false;
        }
        for (var k = 0; k < K; k++)
        {
            if (Math.Abs(a.Sketch[k] - b.Sketch[k]) > tolerance * perCoordinate)
            {
                return false;
            }
        }
        return true;
    }
}

/// <summary>A fingerprinted tensor and where it was found (for display; the name plays no part in matching).</summary>
public sealed record FingerprintedTensor(string File, string Name, string Dtype, TensorFingerprint Fingerprint);

/// <summary>Fingerprints every tensor of a model file or directory, streaming (see <see cref="TensorValues"/>).</summary>
public static class Fingerprints
{
    /// <summary>Every tensor of a supported dtype (F32, F16, BF16, Q8_0, Q4_0) in the safetensors and GGUF files under
    /// <paramref name="path"/>; other dtypes and files are skipped. Files in manifest order, tensors in file order.
    /// Files are read in parallel (as <see cref="ManifestBuilder"/> hashes them), each streaming through fixed buffers.</summary>
    public static WeightsResult<IReadOnlyList<FingerprintedTensor>> Compute(string path, CancellationToken ct = default) =>
        Compute(path, Environment.ProcessorCount, ct);

    public static WeightsResult<IReadOnlyList<FingerprintedTensor>> Compute(string path, int degreeOfParallelism, CancellationToken ct)
    {
        var listed = ManifestBuilder.ListFiles(path);
        if (!listed.IsOk)
        {
            return listed.Error;
        }
        var files = listed.Value.Where(f => ManifestBuilder.DetectFormat(f.FullPath) is "safetensors" or "gguf").ToList();
        var results = new WeightsResult<List<FingerprintedTensor>>[files.Count];
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, degreeOfParallelism), CancellationToken = ct },
            () => new TensorValues(), (i, _, values) =>
            {
                results[i] = OfFile(files[i], values, ct);
                return values;
            }, _ => { });
        var all = new List<FingerprintedTensor>();
        foreach (var r in results)
        {
            if (!r.IsOk)
            {
                return r.Error;
            }
            all.AddRange(r.Value);
        }
        return WeightsResult<IReadOnlyList<FingerprintedTensor>>.Ok(all);
    }

    private static WeightsResult<List<FingerprintedTensor>> OfFile(ManifestBuilder.SourceFile file, TensorValues values, CancellationToken ct)
    {
        var format = ManifestBuilder.DetectFormat(file.FullPath);
        var header = format == "safetensors" ? SafetensorsReader.Read(file.FullPath, file.Path) : GgufReader.Read(file.FullPath, file.Path);
        if (!header.IsOk)
        {
            return header.Error;
        }
        var result = new List<FingerprintedTensor>();
        try
        {
            using var stream = new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            foreach (var tensor in header.Value.Tensors.Where(t => TensorValues.IsSupported(t.Dtype)).OrderBy(t => t.DataOffset))
            {
                var builder = new TensorFingerprint.Builder(tensor.Elements);
                values.Stream(stream, tensor, builder.Add, ct);
                result.Add(new FingerprintedTensor(file.Path, tensor.Name, tensor.Dtype, builder.Build()));
            }
        }
        catch (EndOfStreamException)
        {
            return new WeightsError(WeightsErrorKind.Truncated, file.Path, "the file ended inside a tensor's data");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, file.Path, e.Message);
        }
        return WeightsResult<List<FingerprintedTensor>>.Ok(result);
    }
}

/// <summary>How a scanned copy's tensors match a registered version's (see FINGERPRINT.md for the thresholds).</summary>
public sealed record FingerprintMatch(string Kind, double TensorsMatched, double Similarity, int Matched, int Informative);

public static class FingerprintMatcher
{
    /// <summary>Two tensors match when the cosine of their centred sketches reaches this. Unrelated tensors of the same
    /// size give a cosine distributed about N(0, 1/√K) = N(0, 0.0625): 0.9 is over 14 standard deviations away.
    /// Q8_0 copies of the SAMPLE give 0.99998, Q4_0 copies 0.996.</summary>
    public const double TensorThreshold = 0.9;
    /// <summary>A version matches when at least this share of its informative tensors has a match.</summary>
    public const double VersionThreshold = 0.5;

    public const string Reserialised = "reserialised";
    public const string Quantised = "quantised";

    /// <summary>Greedy one-to-one matching, largest registered tensors first, each to the unused scanned tensor of the
    /// same element count with the best cosine. Null when fewer than <see cref="VersionThreshold"/> of the registered
    /// version's informative tensors match. Reserialised when every matched tensor holds the same values, else quantised.</summary>
    public static FingerprintMatch? Match(IReadOnlyList<TensorFingerprint> registered, IReadOnlyList<TensorFingerprint> seen)
    {
        var wanted = registered.Where(t => t.Informative).OrderByDescending(t => t.Elements).ToList();
        if (wanted.Count == 0)
        {
            return null;
        }
        var candidates = seen.Where(t => t.Informative).Select(t => (Fingerprint: t, Centred: t.Centred()))
            .GroupBy(t => t.Fingerprint.Elements).ToDictionary(g => g.Key, g => g.ToList());
        int matched = 0;
        var identical = true;
        double weighted = 0, weights = 0;
        foreach (var r in wanted)
        {
            if (!candidates.TryGetValue(r.Elements, out var pool) || pool.Count == 0)
            {
                continue;
            }
            var centred = r.Centred();
            var best = -1;
            var bestCosine = double.NegativeInfinity;
            for (var i = 0; i < pool.Count; i++)
            {
                var c = TensorFingerprint.Cosine(centred, pool[i].Centred);
                if (c > bestCosine)
                {
                    bestCosine = c;
                    best = i;
                }
            }
            if (bestCosine < TensorThreshold)
            {
                continue;
            }
            matched++;
            identical &= TensorFingerprint.SameValues(r, pool[best].Fingerprint);
            weighted += Math.Min(1, bestCosine) * r.Elements;
            weights += r.Elements;
            pool.RemoveAt(best);
        }
        var share = (double)matched / wanted.Count;
        if (matched == 0 || share < VersionThreshold)
        {
            return null;
        }
        return new FingerprintMatch(identical ? Reserialised : Quantised, share, weighted / weights, matched, wanted.Count);
    }
}
