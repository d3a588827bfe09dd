using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Embargo.Weights;

/// <summary>Writes the tiny, deterministic SAMPLE model directory the demo and tests use. It is not a real model:
/// its tensors are filled from a fixed pseudo-random sequence and <c>config.json</c> says so.</summary>
public static class SampleWeights
{
    public const string Note = "SAMPLE — not a real model. Deterministic filler written by Embargo for demos and tests.";

    /// <summary>Tensors per shard: name, dtype, shape.</summary>
    private static readonly (string Name, string Dtype, long[] Shape)[][] Shards =
    [
        [("model.embed_tokens.weight", "F16", [32, 16]), ("model.layers.0.mlp.up_proj.weight", "F32", [16, 16])],
        [("model.layers.0.input_layernorm.weight", "F32", [16]), ("lm_head.weight", "F16", [32, 16])],
    ];

    /// <summary>Total parameters of the sample (what inspect reports).</summary>
    public static long Parameters => Shards.SelectMany(s => s).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));

    /// <summary>Writes the sample into <paramref name="dir"/> (created if needed; existing sample files overwritten).</summary>
    public static void Write(string dir)
    {
        Directory.CreateDirectory(dir);
        var state = 0x5EED_5A4D_91E5_0001UL;
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (var s = 0; s < Shards.Length; s++)
        {
            var fileName = $"model-{s + 1:D5}-of-{Shards.Length:D5}.safetensors";
            var tensors = Shards[s].Select(t =>
            {
                var elements = t.Shape.Aggregate(1L, (a, b) => a * b);
                var data = new byte[elements * (t.Dtype == "F16" ? 2 : 4)];
                for (var i = 0; i < data.Length; i++)
                {
                    state = (state * 6364136223846793005UL) + 1442695040888963407UL;
                    data[i] = (byte)(state >> 56);
                }
                // Keep the values finite and small: clear the exponent's top bits of each element.
                var width = t.Dtype == "F16" ? 2 : 4;
                for (var i = width - 1; i < data.Length; i += width)
                {
                    data[i] &= 0b1011_1111;
                }
                return (t.Name, t.Dtype, t.Shape, Data: data);
            }).ToList();
            File.WriteAllBytes(Path.Combine(dir, fileName), Safetensors(tensors, new Dictionary<string, string> { ["format"] = "pt", ["note"] = Note }));
            foreach (var t in tensors)
            {
                weightMap[t.Name] = fileName;
                totalSize += t.Data.Length;
            }
        }
        var json = new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"),
            JsonSerializer.Serialize(new { metadata = new { total_size = totalSize, note = Note }, weight_map = weightMap }, json) + "\n");
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new
        {
            _note = Note,
            architectures = new[] { "SampleForCausalLM" },
            model_type = "embargo-sample",
            hidden_size = 16,
            vocab_size = 32,
            num_hidden_layers = 1,
            torch_dtype = "float16",
        }, json) + "\n");
        File.WriteAllText(Path.Combine(dir, "README.md"), $"# camelid-sample\n\n{Note}\n");
    }

    /// <summary>Serialises tensors (given in file order) as safetensors, header padded with spaces to 8 bytes.</summary>
    public static byte[] Safetensors(IReadOnlyList<(string Name, string Dtype, long[] Shape, byte[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var headerJson = new MemoryStream();
        using (var w = new Utf8JsonWriter(headerJson, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is not null)
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.Dtype);
                w.WriteStartArray("shape");
                foreach (var d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Data.Length;
            }
            w.WriteEndObject();
        }
        var header = headerJson.ToArray().ToList();
        while (header.Count % 8 != 0) header.Add((byte)' ');
        using var output = new MemoryStream();
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)header.Count);
        output.Write(len);
        output.Write(header.ToArray());
        foreach (var t in tensors) output.Write(t.Data);
        return output.ToArray();
    }

}
