using System.Buffers.Binary;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Embargo.Weights;

/// <summary>
/// Streams a tensor's values, widened to float32, in bounded chunks: F32, F16 and BF16 as stored, GGUF <c>Q8_0</c>
/// and <c>Q4_0</c> dequantised block by block (ggml's formulas). Memory stays flat whatever the tensor's size: one
/// byte buffer and one float buffer of <see cref="ChunkElements"/> elements.
/// </summary>
public sealed class TensorValues
{
    /// <summary>Elements per chunk: a multiple of ggml's block size (32) and of the fingerprint's sign table (4096).</summary>
    public const int ChunkElements = 64 * 1024;
    public const int BlockElements = 32;
    public const int Q8BlockBytes = 34;
    public const int Q4BlockBytes = 18;

    private readonly byte[] _bytes = new byte[ChunkElements * 4];
    private readonly float[] _floats = new float[ChunkElements];

    /// <summary>Dtypes whose values can be read: the float formats Embargo fingerprints and converts.</summary>
    public static bool IsSupported(string dtype) => dtype is "F32" or "F16" or "BF16" or "Q8_0" or "Q4_0";

    /// <summary>Bytes that hold <paramref name="elements"/> values of <paramref name="dtype"/> (elements a multiple of 32 for the block formats).</summary>
    public static long BytesFor(string dtype, long elements) => dtype switch
    {
        "F32" => elements * 4,
        "F16" or "BF16" => elements * 2,
        "Q8_0" => elements / BlockElements * Q8BlockBytes,
        "Q4_0" => elements / BlockElements * Q4BlockBytes,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype"),
    };

    /// <summary>Reads <paramref name="tensor"/> from <paramref name="file"/> (seekable) and hands its values to
    /// <paramref name="sink"/> in order, in chunks of at most <see cref="ChunkElements"/>.</summary>
    public void Stream(Stream file, TensorInfo tensor, Action<ReadOnlySpan<float>> sink, CancellationToken ct = default)
    {
        if (!IsSupported(tensor.Dtype))
        {
            throw new ArgumentException($"dtype {tensor.Dtype} is not supported", nameof(tensor));
        }
        file.Position = tensor.DataOffset;
        var remaining = tensor.Elements;
        while (remaining > 0)
        {
            ct.ThrowIfCancellationRequested();
            var n = (int)Math.Min(remaining, ChunkElements);
            var bytes = _bytes.AsSpan(0, (int)BytesFor(tensor.Dtype, n));
            file.ReadExactly(bytes);
            var values = _floats.AsSpan(0, n);
            Decode(tensor.Dtype, bytes, values);
            sink(values);
            remaining -= n;
        }
    }

    /// <summary>Widens or dequantises <paramref name="source"/> (of <paramref name="dtype"/>) into <paramref name="destination"/>.</summary>
    public static void Decode(string dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        switch (dtype)
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(source)[..destination.Length].CopyTo(destination);
                break;
            case "F16":
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source)[..destination.Length], destination);
                break;
            case "BF16":
                WidenBFloat16(MemoryMarshal.Cast<byte, ushort>(source)[..destination.Length], destination);
                break;
            case "Q8_0":
                DequantiseQ8(source, destination);
                break;
            case "Q4_0":
                DequantiseQ4(source, destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype");
        }
    }

    /// <summary>bfloat16 is the top half of a float32: shift each value left by 16 bits.</summary>
    public static void WidenBFloat16(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        var target = MemoryMarshal.Cast<float, uint>(destination);
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var sourceVectors = MemoryMarshal.Cast<ushort, Vector<ushort>>(source);
            var width = Vector<ushort>.Count;
            for (var v = 0; v < sourceVectors.Length; v++)
            {
                Vector.Widen(sourceVectors[v], out var low, out var high);
                (low << 16).CopyTo(target.Slice(i));
                (high << 16).CopyTo(target.Slice(i + width / 2));
                i += width;
            }
        }
        for (; i < source.Length; i++)
        {
            target[i] = (uint)source[i] << 16;
        }
    }

    /// <summary>ggml's <c>dequantize_row_q8_0</c>: each 34-byte block is an f16 scale d and 32 int8 q; x = d·q.</summary>
    public static void DequantiseQ8(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int b = 0, o = 0; o < destination.Length; b += Q8BlockBytes, o += BlockElements)
        {
            var d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(source[b..]));
            var q = MemoryMarshal.Cast<byte, sbyte>(source.Slice(b + 2, BlockElements));
            var x = destination.Slice(o, BlockElements);
            for (var j = 0; j < BlockElements; j++)
            {
                x[j] = q[j] * d;
            }
        }
    }

    /// <summary>ggml's <c>dequantize_row_q4_0</c>: each 18-byte block is an f16 scale d and 16 bytes of nibbles;
    /// low nibbles hold elements 0..15, high nibbles 16..31; x = d·(q − 8).</summary>
    public static void DequantiseQ4(ReadOnlySpan<byte> source, Span<float> destination)
    {
        for (int b = 0, o = 0; o < destination.Length; b += Q4BlockBytes, o += BlockElements)
        {
            var d = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(source[b..]));
            var q = source.Slice(b + 2, BlockElements / 2);
            var x = destination.Slice(o, BlockElements);
            for (var j = 0; j < BlockElements / 2; j++)
            {
                x[j] = ((q[j] & 0x0F) - 8) * d;
                x[j + (BlockElements / 2)] = ((q[j] >> 4) - 8) * d;
            }
        }
    }

    /// <summary>Encodes float32 values as <paramref name="dtype"/> into <paramref name="destination"/>
    /// (exactly <see cref="BytesFor"/> bytes; block formats need a multiple of 32 values).</summary>
    public static void Encode(string dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        switch (dtype)
        {
            case "F32":
                MemoryMarshal.Cast<float, byte>(source).CopyTo(destination);
                break;
            case "F16":
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination)[..source.Length]);
                break;
            case "BF16":
            {
                var target = MemoryMarshal.Cast<byte, ushort>(destination);
                for (var i = 0; i < source.Length; i++)
                {
                    target[i] = ToBFloat16(source[i]);
                }
                break;
            }
            case "Q8_0":
                QuantiseQ8(source, destination);
                break;
            case "Q4_0":
                QuantiseQ4(source, destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a supported dtype");
        }
    }

    /// <summary>float32 → bfloat16, rounding to nearest even (NaN kept a quiet NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }
        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>ggml's <c>quantize_row_q8_0_ref</c>: d = amax/127 stored as f16, q = round(x/d).</summary>
    public static void QuantiseQ8(ReadOnlySpan<float> source, Span<byte> destination)
    {
        for (int b = 0, o = 0; o < source.Length; b += Q8BlockBytes, o += BlockElements)
        {
            var x = source.Slice(o, BlockElements);
            var amax = 0f;
            foreach (var v in x)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }
            var d = amax / 127f;
            var id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteUInt16LittleEndian(destination[b..], BitConverter.HalfToUInt16Bits((Half)d));
            for (var j = 0; j < BlockElements; j++)
            {
                destination[b + 2 + j] = (byte)(sbyte)(int)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
            }
        }
    }

    /// <summary>ggml's <c>quantize_row_q4_0_ref</c>: max = the value of largest magnitude (signed), d = max/−8 as f16,
    /// q = min(15, (int)(x/d + 8.5)); low nibbles hold elements 0..15, high nibbles 16..31.</summary>
    public static void QuantiseQ4(ReadOnlySpan<float> source, Span<byte> destination)
    {
        for (int b = 0, o = 0; o < source.Length; b += Q4BlockBytes, o += BlockElements)
        {
            var x = source.Slice(o, BlockElements);
            float amax = 0f, max = 0f;
            foreach (var v in x)
            {
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }
            var d = max / -8f;
            var id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteUInt16LittleEndian(destination[b..], BitConverter.HalfToUInt16Bits((Half)d));
            for (var j = 0; j < BlockElements / 2; j++)
            {
                var low = Math.Min(15, (int)((x[j] * id) + 8.5f));
                var high = Math.Min(15, (int)((x[j + (BlockElements / 2)] * id) + 8.5f));
                destination[b + 2 + j] = (byte)(low | (high << 4));
            }
        }
    }
}
