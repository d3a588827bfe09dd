using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Embargo.Weights;

/// <summary>Writes a safetensors file (F32, F16, BF16) streaming: the header first (offsets follow from the plan),
/// then each tensor's values encoded chunk by chunk.</summary>
public static class SafetensorsWriter
{
    public static void Write(Stream output, IReadOnlyList<TensorPlan> tensors, IReadOnlyDictionary<string, string>? metadata, TensorSource source)
    {
        WriteHeader(output, tensors, metadata);
        var encoder = new TensorEncoder(output);
        for (var i = 0; i < tensors.Count; i++)
        {
            encoder.Write(tensors[i], i, source);
        }
    }

    /// <summary>Writes only the 8-byte length and the JSON header (padded to 8 bytes); the tensors' data must follow in plan order.</summary>
    public static void WriteHeader(Stream output, IReadOnlyList<TensorPlan> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        foreach (var t in tensors.Where(t => t.Dtype is not ("F32" or "F16" or "BF16")))
        {
            throw new ArgumentException($"safetensors are written as F32, F16 or BF16, not {t.Dtype}", nameof(tensors));
        }
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
                w.WriteNumberValue(offset + t.Bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.Bytes;
            }
            w.WriteEndObject();
        }
        var padding = (8 - (int)(headerJson.Length % 8)) % 8;
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(headerJson.Length + padding));
        output.Write(length);
        headerJson.Position = 0;
        headerJson.CopyTo(output);
        for (var i = 0; i < padding; i++) output.WriteByte((byte)' ');
    }
}
