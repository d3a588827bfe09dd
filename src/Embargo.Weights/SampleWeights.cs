using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Embargo.Weights;

/// <summary>Writes the small, deterministic SAMPLE model directory the demo and tests use. It is not a real model:
/// its tensors are filled from a fixed pseudo-random sequence (approximately normal, small, like initialised weights;
/// norms at 1) and <c>config.json</c> says so. Rows are a multiple of 32 long (ggml's block size), so Q8_0 and Q4_0
/// copies are valid GGUF, and every value is exact in F16 and in BF16, so any float re-serialisation keeps it.</summary>
public static class SampleWeights
{
    public const string Note = "SAMPLE — not a real model. Deterministic filler written by Embargo for demos and tests.";

    /// <summary>The seed of the sample; another seed gives a model of the same shapes and unrelated values.</summary>
    public const ulong DefaultSeed = 0x5EED_5A4D_91E5_0001UL;

    private const int Hidden = 256;
    private const int Vocab = 1024;
    private const int Intermediate = 512;

    /// <summary>Tensors per shard: name, dtype, shape.</summary>
    private static readonly (string Name, string Dtype, long[] Shape)[][] Shards =
    [
        [
            ("model.embed_tokens.weight", "F16", [Vocab, Hidden]),
            ("model.layers.0.self_attn.q_proj.weight", "BF16", [Hidden, Hidden]),
            ("model.layers.0.self_attn.k_proj.weight", "F32", [Hidden, Hidden]),
            ("model.layers.0.input_layernorm.weight", "F32", [Hidden]),
        ],
        [
            ("model.layers.0.mlp.up_proj.weight", "F16", [Intermediate, Hidden]),
            ("model.layers.0.mlp.down_proj.weight", "F32", [Hidden, Intermediate]),
            ("model.norm.weight", "F32", [Hidden]),
            ("lm_head.weight", "F16", [Vocab, Hidden]),
        ],
    ];

    /// <summary>Total parameters of the sample (what inspect reports).</summary>
    public static long Parameters => Shards.SelectMany(s => s).Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b));

    /// <summary>Writes the sample into <paramref name="dir"/> (created if needed; existing sample files overwritten).
    /// A <paramref name="seed"/> other than <see cref="DefaultSeed"/> gives unrelated values of the same shapes.</summary>
    public static void Write(string dir, ulong seed = DefaultSeed)
    {
        Directory.CreateDirectory(dir);
        var state = seed;
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (var s = 0; s < Shards.Length; s++)
        {
            var fileName = $"model-{s + 1:D5}-of-{Shards.Length:D5}.safetensors";
            var tensors = Shards[s].Select(t =>
            {
                var elements = (int)t.Shape.Aggregate(1L, (a, b) => a * b);
                var values = new float[elements];
                if (t.Shape.Length == 1)
                {
                    Array.Fill(values, 1f); // a norm's initial scale
                }
                else
                {
                    var sigma = 1.0 / Math.Sqrt(t.Shape[^1]);
                    for (var i = 0; i < elements; i++)
                    {
                        values[i] = Exact(Normal(ref state) * sigma);
                    }
                }
                var data = new byte[TensorValues.BytesFor(t.Dtype, elements)];
                TensorValues.Encode(t.Dtype, values, data);
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
            hidden_size = Hidden,
            intermediate_size = Intermediate,
            vocab_size = Vocab,
            num_hidden_layers = 1,
            torch_dtype = "float16",
        }, json) + "\n");
        File.WriteAllText(Path.Combine(dir, "README.md"), $"# camelid-sample\n\n{Note}\n");
    }

    /// <summary>A standard normal variate (Box–Muller) from a 64-bit LCG.</summary>
    private static double Normal(ref ulong state)
    {
        static double Uniform(ref ulong state)
        {
            state = (state * 6364136223846793005UL) + 1442695040888963407UL;
            return ((state >> 11) + 0.5) / (1UL << 53);
        }
        var u1 = Uniform(ref state);
        var u2 = Uniform(ref state);
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary>Rounds to a value exact in BF16 (8 significant bits) and in F16 (magnitudes below 2^-17 become 0).</summary>
    private static float Exact(double value)
    {
        var v = BitConverter.UInt32BitsToSingle((uint)TensorValues.ToBFloat16((float)value) << 16);
        return MathF.Abs(v) < 1f / (1 << 17) ? 0f : v;
    }

    /// <summary>Serialises tensors (given in file order) as safetensors, header padded with spaces to 8 bytes (<see cref="SafetensorsWriter.WriteHeader"/>).</summary>
    public static byte[] Safetensors(IReadOnlyList<(string Name, string Dtype, long[] Shape, byte[] Data)> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var plan = tensors.Select(t => new TensorPlan(t.Name, t.Dtype, t.Shape)).ToList();
        foreach (var (t, p) in tensors.Zip(plan).Where(x => x.First.Data.Length != x.Second.Bytes))
        {
            throw new ArgumentException($"tensor {t.Name}: {t.Data.Length} bytes of data for {p.Bytes} bytes of {t.Dtype} {string.Join('x', t.Shape)}", nameof(tensors));
        }
        using var output = new MemoryStream();
        SafetensorsWriter.WriteHeader(output, plan, metadata);
        foreach (var t in tensors)
        {
            output.Write(t.Data);
        }
        return output.ToArray();
    }

}
