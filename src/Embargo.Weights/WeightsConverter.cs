using System.Text.Encodings.Web;
using System.Text.Json;

namespace Embargo.Weights;

/// <summary>What `embargo weights convert` writes: a GGUF file (F16, Q8_0, Q4_0) or safetensors (F32, F16, BF16),
/// resharded and renamed at will. It exists so tests and demos can check that a leak is recognised after conversion.</summary>
public sealed record ConvertOptions
{
    /// <summary><c>gguf-f16</c>, <c>gguf-q8_0</c>, <c>gguf-q4_0</c> or <c>safetensors</c>.</summary>
    public required string Target { get; init; }
    /// <summary>For safetensors: F32, F16 or BF16 for every tensor; null keeps each tensor's float dtype (else F32).</summary>
    public string? Dtype { get; init; }
    /// <summary>For safetensors: how many files (≥ 1); more than one also writes model.safetensors.index.json.</summary>
    public int Shards { get; init; } = 1;
    /// <summary>Rename every tensor and file (names play no part in recognition).</summary>
    public bool Rename { get; init; }

    public static IReadOnlyList<string> Targets { get; } = ["gguf-f16", "gguf-q8_0", "gguf-q4_0", "safetensors"];
}

public static class WeightsConverter
{
    public const string Note = "converted by `embargo weights convert` to test leak recognition";

    private static readonly JsonSerializerOptions IndexJson = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record SourceTensor(ManifestBuilder.SourceFile File, TensorInfo Info, IReadOnlyList<long> Shape);

    /// <summary>Converts the model at <paramref name="source"/> into the new directory <paramref name="output"/>; returns the files written.</summary>
    public static WeightsResult<IReadOnlyList<string>> Convert(string source, string output, ConvertOptions options, CancellationToken ct = default)
    {
        if (!ConvertOptions.Targets.Contains(options.Target))
        {
            return new WeightsError(WeightsErrorKind.UnsupportedDtype, options.Target, $"unknown target; expected one of {string.Join(", ", ConvertOptions.Targets)}");
        }
        if (options.Dtype is not (null or "F32" or "F16" or "BF16"))
        {
            return new WeightsError(WeightsErrorKind.UnsupportedDtype, options.Dtype, "--dtype must be F32, F16 or BF16");
        }
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any() || File.Exists(output))
        {
            return new WeightsError(WeightsErrorKind.OutputExists, output, "already exists and is not empty; nothing was written");
        }
        var listed = ManifestBuilder.ListFiles(source);
        if (!listed.IsOk)
        {
            return listed.Error;
        }
        var tensors = new List<SourceTensor>();
        foreach (var file in listed.Value)
        {
            var format = ManifestBuilder.DetectFormat(file.FullPath);
            if (format is not ("safetensors" or "gguf"))
            {
                continue;
            }
            var header = format == "safetensors" ? SafetensorsReader.Read(file.FullPath, file.Path) : GgufReader.Read(file.FullPath, file.Path);
            if (!header.IsOk)
            {
                return header.Error;
            }
            foreach (var t in header.Value.Tensors.OrderBy(t => t.DataOffset))
            {
                if (!TensorValues.IsSupported(t.Dtype))
                {
                    return new WeightsError(WeightsErrorKind.UnsupportedDtype, file.Path, $"tensor \"{SafetensorsReader.Clip(t.Name)}\" is {t.Dtype}; only F32, F16, BF16, Q8_0 and Q4_0 convert");
                }
                tensors.Add(new SourceTensor(file, t, format == "gguf" ? t.Shape.Reverse().ToList() : t.Shape));
            }
        }
        if (tensors.Count == 0)
        {
            return new WeightsError(WeightsErrorKind.NotFound, source, "holds no safetensors or GGUF tensors to convert");
        }
        var plans = tensors.Select((t, i) => new TensorPlan(options.Rename ? $"tensor.{i:D4}" : t.Info.Name, TargetDtype(options, t), t.Shape)).ToList();
        var streams = new Dictionary<string, FileStream>(StringComparer.Ordinal);
        var values = new TensorValues();
        void Source(int index, Action<ReadOnlySpan<float>> sink)
        {
            var t = tensors[index];
            if (!streams.TryGetValue(t.File.FullPath, out var stream))
            {
                stream = new FileStream(t.File.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
                streams[t.File.FullPath] = stream;
            }
            values.Stream(stream, t.Info, sink, ct);
        }
        var written = new List<string>();
        try
        {
            Directory.CreateDirectory(output);
            var metadata = new Dictionary<string, string> { ["note"] = Note };
            if (options.Target.StartsWith("gguf", StringComparison.Ordinal))
            {
                var name = options.Rename ? "leaked.gguf" : "model.gguf";
                using var file = File.Create(Path.Combine(output, name));
                GgufWriter.Write(file, plans, new Dictionary<string, string> { ["general.name"] = Note }, Source);
                written.Add(name);
            }
            else
            {
                var shards = Math.Clamp(options.Shards, 1, plans.Count);
                var perShard = (plans.Count + shards - 1) / shards;
                shards = (plans.Count + perShard - 1) / perShard;
                var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
                for (var s = 0; s < shards; s++)
                {
                    var name = options.Rename ? $"part-{s + 1}.safetensors"
                        : shards == 1 ? "model.safetensors" : $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
                    var first = s * perShard;
                    var slice = plans.Skip(first).Take(perShard).ToList();
                    using var file = File.Create(Path.Combine(output, name));
                    SafetensorsWriter.Write(file, slice, metadata, (i, sink) => Source(first + i, sink));
                    foreach (var p in slice) weightMap[p.Name] = name;
                    written.Add(name);
                }
                if (shards > 1)
                {
                    File.WriteAllText(Path.Combine(output, "model.safetensors.index.json"), JsonSerializer.Serialize(new
                    {
                        metadata = new { total_size = plans.Sum(p => p.Bytes), note = Note }, weight_map = weightMap,
                    }, IndexJson) + "\n");
                    written.Add("model.safetensors.index.json");
                }
            }
        }
        catch (EndOfStreamException)
        {
            return new WeightsError(WeightsErrorKind.Truncated, source, "a source file ended inside a tensor's data");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, output, e.Message);
        }
        finally
        {
            foreach (var s in streams.Values) s.Dispose();
        }
        return WeightsResult<IReadOnlyList<string>>.Ok(written);
    }

    private static string TargetDtype(ConvertOptions options, SourceTensor t)
    {
        var rows = t.Shape.Count >= 2;
        var blockable = rows && t.Shape[^1] % TensorValues.BlockElements == 0;
        return options.Target switch
        {
            // As llama.cpp does: vectors (norms, biases) stay F32.
            "gguf-f16" => rows ? "F16" : "F32",
            "gguf-q8_0" => blockable ? "Q8_0" : "F32",
            "gguf-q4_0" => blockable ? "Q4_0" : "F32",
            _ => options.Dtype ?? (t.Info.Dtype is "F32" or "F16" or "BF16" ? t.Info.Dtype : "F32"),
        };
    }

}
