using System.Buffers.Binary;
using System.Text;

namespace Embargo.Weights;

/// <summary>Writes a GGUF v3 file (F32, F16, BF16, Q8_0, Q4_0) streaming: header, string metadata, tensor infos
/// (dimensions innermost first, i.e. the safetensors shape reversed), then each tensor's data at a 32-byte aligned
/// offset. <see cref="GgufReader"/> reads what it writes.</summary>
public static class GgufWriter
{
    public const int Alignment = GgufReader.DefaultAlignment;

    /// <summary>ggml type ids of the dtypes written.</summary>
    public static uint TypeId(string dtype) => dtype switch
    {
        "F32" => 0, "F16" => 1, "Q4_0" => 2, "Q8_0" => 8, "BF16" => 30,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "GGUF is written as F32, F16, BF16, Q8_0 or Q4_0"),
    };

    public static void Write(Stream output, IReadOnlyList<TensorPlan> tensors, IReadOnlyDictionary<string, string> metadata, TensorSource source)
    {
        foreach (var t in tensors)
        {
            TypeId(t.Dtype);
            if (t.Dtype is "Q8_0" or "Q4_0" && (t.Shape.Count == 0 || t.Shape[^1] % TensorValues.BlockElements != 0))
            {
                throw new ArgumentException($"tensor {t.Name}: {t.Dtype} needs a row length that is a multiple of {TensorValues.BlockElements}", nameof(tensors));
            }
        }
        var header = new MemoryStream();
        var w = new BinaryWriter(header, Encoding.UTF8, leaveOpen: true);
        w.Write(GgufReader.Magic);
        w.Write(3u);
        w.Write((ulong)tensors.Count);
        w.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            WriteString(w, key);
            w.Write((uint)GgufReader.ValueType.STRING);
            WriteString(w, value);
        }
        long offset = 0;
        var offsets = new long[tensors.Count];
        for (var i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            WriteString(w, t.Name);
            w.Write((uint)t.Shape.Count);
            for (var d = t.Shape.Count - 1; d >= 0; d--)
            {
                w.Write((ulong)t.Shape[d]);
            }
            w.Write(TypeId(t.Dtype));
            w.Write((ulong)offset);
            offsets[i] = offset;
            offset = Align(offset + t.Bytes);
        }
        w.Flush();
        header.Position = 0;
        header.CopyTo(output);
        Pad(output, Align(header.Length) - header.Length);
        var encoder = new TensorEncoder(output);
        for (var i = 0; i < tensors.Count; i++)
        {
            var written = encoder.Write(tensors[i], i, source);
            Pad(output, Align(written) - written);
        }
    }

    private static long Align(long x) => (x + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream output, long count)
    {
        for (var i = 0; i < count; i++) output.WriteByte(0);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
