using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Unicode;

namespace Embargo.Weights;

/// <summary>Reads a GGUF header (v1, v2 and v3, little-endian): magic, version, tensor count, metadata key/values of
/// every type (nested arrays included) and tensor infos, without reading tensor data. Every length is checked
/// against the bytes left in the file before anything is allocated or skipped.</summary>
public static class GgufReader
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const int DefaultAlignment = 32;
    /// <summary>Longest single string (key or value) accepted.</summary>
    public const long MaxStringBytes = 16L * 1024 * 1024;
    /// <summary>Deepest array nesting accepted.</summary>
    public const int MaxArrayDepth = 8;
    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDims = 4;
    private const int PreviewItems = 8;

    /// <summary>GGUF metadata value types (gguf_type).</summary>
    public enum ValueType : uint
    {
        UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
        STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
    }

    /// <summary>ggml tensor types: id → (name, elements per block, bytes per block).</summary>
    public static IReadOnlyDictionary<uint, (string Name, int BlockElements, int BlockBytes)> TensorTypes { get; } =
        new Dictionary<uint, (string, int, int)>
        {
            [0] = ("F32", 1, 4), [1] = ("F16", 1, 2), [2] = ("Q4_0", 32, 18), [3] = ("Q4_1", 32, 20),
            [6] = ("Q5_0", 32, 22), [7] = ("Q5_1", 32, 24), [8] = ("Q8_0", 32, 34), [9] = ("Q8_1", 32, 36),
            [10] = ("Q2_K", 256, 84), [11] = ("Q3_K", 256, 110), [12] = ("Q4_K", 256, 144), [13] = ("Q5_K", 256, 176),
            [14] = ("Q6_K", 256, 210), [15] = ("Q8_K", 256, 292), [16] = ("IQ2_XXS", 256, 66), [17] = ("IQ2_XS", 256, 74),
            [18] = ("IQ3_XXS", 256, 98), [19] = ("IQ1_S", 256, 50), [20] = ("IQ4_NL", 32, 18), [21] = ("IQ3_S", 256, 110),
            [22] = ("IQ2_S", 256, 82), [23] = ("IQ4_XS", 256, 136), [24] = ("I8", 1, 1), [25] = ("I16", 1, 2),
            [26] = ("I32", 1, 4), [27] = ("I64", 1, 8), [28] = ("F64", 1, 8), [29] = ("IQ1_M", 256, 56),
            [30] = ("BF16", 1, 2), [34] = ("TQ1_0", 256, 54), [35] = ("TQ2_0", 256, 66), [39] = ("MXFP4", 32, 17),
        };

    public static WeightsResult<ModelHeader> Read(string path, string? displayName = null)
    {
        var name = displayName ?? path;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.None);
            return Read(stream, name);
        }
        catch (FileNotFoundException)
        {
            return new WeightsError(WeightsErrorKind.NotFound, name, "file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, name, e.Message);
        }
    }

    /// <summary>Reads from a seekable stream positioned at the start of the file.</summary>
    public static WeightsResult<ModelHeader> Read(Stream stream, string name)
    {
        try
        {
            return WeightsResult<ModelHeader>.Ok(Parse(new BoundedReader(stream, stream.Length)));
        }
        catch (ParseFailure f)
        {
            return new WeightsError(f.Kind, name, f.Message);
        }
        catch (EndOfStreamException)
        {
            return new WeightsError(WeightsErrorKind.Truncated, name, "truncated: the file ended while reading the header");
        }
    }

    private static ModelHeader Parse(BoundedReader r)
    {
        var magic = r.U32("magic");
        if (magic != Magic)
        {
            throw new ParseFailure(WeightsErrorKind.BadMagic, $"not a GGUF file (magic 0x{magic:X8}, expected \"GGUF\")");
        }
        var version = r.U32("version");
        if (version is not (1 or 2 or 3))
        {
            var swapped = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(version);
            throw new ParseFailure(WeightsErrorKind.UnsupportedVersion, swapped is 2 or 3
                ? $"big-endian GGUF v{swapped} is not supported"
                : $"unsupported GGUF version {version} (supported: 1, 2, 3)");
        }
        var wide = version >= 2; // v1 used 32-bit counts and lengths; v2 and v3 use 64-bit
        var tensorCount = wide ? r.U64("tensor count") : r.U32("tensor count");
        var kvCount = wide ? r.U64("metadata count") : r.U32("metadata count");
        // Smallest possible metadata entry: key length + empty key + type + a 1-byte value.
        if (kvCount > (ulong)r.Remaining / (ulong)(LengthSize(wide) + 4 + 1))
        {
            throw new ParseFailure(WeightsErrorKind.AbsurdLength, $"metadata count {kvCount} cannot fit in the {r.Remaining} bytes left");
        }
        // Smallest possible tensor info: name length + n_dims + type + offset.
        if (tensorCount > (ulong)r.Remaining / (ulong)(LengthSize(wide) + 4 + 4 + 8))
        {
            throw new ParseFailure(WeightsErrorKind.AbsurdLength, $"tensor count {tensorCount} cannot fit in the {r.Remaining} bytes left");
        }

        var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var types = new SortedDictionary<string, string>(StringComparer.Ordinal);
        long alignment = DefaultAlignment;
        for (ulong i = 0; i < kvCount; i++)
        {
            var key = ReadString(r, wide, "metadata key");
            if (metadata.ContainsKey(key))
            {
                throw new ParseFailure(WeightsErrorKind.DuplicateKey, $"duplicate metadata key \"{SafetensorsReader.Clip(key)}\"");
            }
            var type = ReadType(r, $"type of \"{SafetensorsReader.Clip(key)}\"");
            var (text, typeName, scalar) = ReadValue(r, wide, type, 0, key);
            if (key == "general.alignment")
            {
                if (type != ValueType.UINT32 || scalar is not { } a || a == 0 || !BitOperations.IsPow2(a))
                {
                    throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"general.alignment must be a non-zero power-of-two UINT32 (got {typeName} {text})");
                }
                alignment = (long)a;
            }
            metadata[key] = text;
            types[key] = typeName;
        }

        var tensors = new List<TensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var relative = new List<(long Offset, long Bytes, string Name)>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            var tensorName = ReadString(r, wide, "tensor name");
            var clipped = SafetensorsReader.Clip(tensorName);
            if (!names.Add(tensorName))
            {
                throw new ParseFailure(WeightsErrorKind.DuplicateKey, $"duplicate tensor name \"{clipped}\"");
            }
            var dims = r.U32($"dimension count of tensor \"{clipped}\"");
            if (dims > MaxDims)
            {
                throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{clipped}\" has {dims} dimensions (GGML allows at most {MaxDims})");
            }
            var shape = new List<long>((int)dims);
            long elements = 1;
            for (var d = 0; d < dims; d++)
            {
                var dim = wide ? r.U64($"dimension of tensor \"{clipped}\"") : r.U32($"dimension of tensor \"{clipped}\"");
                if (dim > long.MaxValue)
                {
                    throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{clipped}\" has dimension {dim} above 2^63");
                }
                shape.Add((long)dim);
                elements = CheckedMultiply(elements, (long)dim, clipped);
            }
            var typeId = r.U32($"type of tensor \"{clipped}\"");
            if (!TensorTypes.TryGetValue(typeId, out var tt))
            {
                throw new ParseFailure(WeightsErrorKind.UnsupportedDtype, $"tensor \"{clipped}\" has unknown ggml type {typeId}");
            }
            if (shape.Count > 0 && shape[0] % tt.BlockElements != 0)
            {
                throw new ParseFailure(WeightsErrorKind.InvalidHeader,
                    $"tensor \"{clipped}\" first dimension {shape[0]} is not a multiple of the {tt.Name} block size {tt.BlockElements}");
            }
            var offset = r.U64($"data offset of tensor \"{clipped}\"");
            if (offset > long.MaxValue)
            {
                throw new ParseFailure(WeightsErrorKind.OffsetOutOfRange, $"tensor \"{clipped}\" data offset {offset} is beyond any file");
            }
            if ((long)offset % alignment != 0)
            {
                throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{clipped}\" data offset {offset} is not a multiple of the alignment {alignment}");
            }
            var bytes = CheckedMultiply(elements / tt.BlockElements, tt.BlockBytes, clipped);
            relative.Add(((long)offset, bytes, clipped));
            tensors.Add(new TensorInfo
            {
                Name = tensorName, Dtype = tt.Name, Shape = shape, Elements = elements,
                DataOffset = (long)offset, ByteLength = bytes,
            });
        }

        var dataStart = (r.Position + alignment - 1) / alignment * alignment;
        var dataLength = Math.Max(0, r.Length - dataStart);
        foreach (var (offset, bytes, tensorName) in relative)
        {
            if (offset > dataLength || bytes > dataLength - offset)
            {
                throw new ParseFailure(WeightsErrorKind.OffsetOutOfRange,
                    $"tensor \"{tensorName}\" data [{offset}, {offset + bytes}) runs past the {dataLength}-byte data section");
            }
        }
        relative.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        for (var i = 1; i < relative.Count; i++)
        {
            var previous = relative[i - 1];
            if (relative[i].Offset < previous.Offset + previous.Bytes)
            {
                throw new ParseFailure(WeightsErrorKind.OffsetsOverlap,
                    $"tensor \"{relative[i].Name}\" at offset {relative[i].Offset} overlaps tensor \"{previous.Name}\" [{previous.Offset}, {previous.Offset + previous.Bytes})");
            }
        }

        return new ModelHeader
        {
            Format = "gguf",
            Version = (int)version,
            Tensors = tensors.Select(t => t with { DataOffset = dataStart + t.DataOffset }).ToList(),
            Metadata = metadata,
            MetadataTypes = types,
            DataStart = dataStart,
        };
    }

    private static int LengthSize(bool wide) => wide ? 8 : 4;

    private static ValueType ReadType(BoundedReader r, string what)
    {
        var t = r.U32(what);
        if (t > (uint)ValueType.FLOAT64)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"{what}: unknown GGUF value type {t}");
        }
        return (ValueType)t;
    }

    private static string ReadString(BoundedReader r, bool wide, string what)
    {
        var length = wide ? r.U64($"{what} length") : r.U32($"{what} length");
        var bytes = r.Bytes(length, MaxStringBytes, $"{what} string");
        return BoundedReader.Utf8Lenient(bytes);
    }

    /// <summary>Fixed size of a scalar type in bytes; 0 for STRING and ARRAY.</summary>
    private static int FixedSize(ValueType t) => t switch
    {
        ValueType.UINT8 or ValueType.INT8 or ValueType.BOOL => 1,
        ValueType.UINT16 or ValueType.INT16 => 2,
        ValueType.UINT32 or ValueType.INT32 or ValueType.FLOAT32 => 4,
        ValueType.UINT64 or ValueType.INT64 or ValueType.FLOAT64 => 8,
        _ => 0,
    };

    /// <summary>Reads one value; returns its text rendering, its type name, and its value if it is an unsigned integer.</summary>
    private static (string Text, string TypeName, ulong? Unsigned) ReadValue(BoundedReader r, bool wide, ValueType type, int depth, string key)
    {
        var what = $"value of \"{SafetensorsReader.Clip(key)}\"";
        switch (type)
        {
            case ValueType.UINT8: { var v = r.U8(what); return (v.ToString(CultureInfo.InvariantCulture), "UINT8", v); }
            case ValueType.INT8: return (((sbyte)r.U8(what)).ToString(CultureInfo.InvariantCulture), "INT8", null);
            case ValueType.UINT16: { var v = r.U16(what); return (v.ToString(CultureInfo.InvariantCulture), "UINT16", v); }
            case ValueType.INT16: return (((short)r.U16(what)).ToString(CultureInfo.InvariantCulture), "INT16", null);
            case ValueType.UINT32: { var v = r.U32(what); return (v.ToString(CultureInfo.InvariantCulture), "UINT32", v); }
            case ValueType.INT32: return (((int)r.U32(what)).ToString(CultureInfo.InvariantCulture), "INT32", null);
            case ValueType.UINT64: { var v = r.U64(what); return (v.ToString(CultureInfo.InvariantCulture), "UINT64", v); }
            case ValueType.INT64: return (((long)r.U64(what)).ToString(CultureInfo.InvariantCulture), "INT64", null);
            case ValueType.FLOAT32: return (BitConverter.UInt32BitsToSingle(r.U32(what)).ToString("R", CultureInfo.InvariantCulture), "FLOAT32", null);
            case ValueType.FLOAT64: return (BitConverter.UInt64BitsToDouble(r.U64(what)).ToString("R", CultureInfo.InvariantCulture), "FLOAT64", null);
            case ValueType.BOOL:
            {
                var b = r.U8(what);
                if (b > 1)
                {
                    throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"{what}: BOOL byte {b} is neither 0 nor 1");
                }
                return (b == 1 ? "true" : "false", "BOOL", null);
            }
            case ValueType.STRING:
                return (ReadString(r, wide, what), "STRING", null);
            case ValueType.ARRAY:
            {
                if (depth >= MaxArrayDepth)
                {
                    throw new ParseFailure(WeightsErrorKind.AbsurdLength, $"{what}: arrays nested deeper than {MaxArrayDepth}");
                }
                var elementType = ReadType(r, $"array element type of \"{SafetensorsReader.Clip(key)}\"");
                var count = wide ? r.U64($"array length of \"{SafetensorsReader.Clip(key)}\"") : r.U32($"array length of \"{SafetensorsReader.Clip(key)}\"");
                var minSize = elementType switch
                {
                    ValueType.STRING => LengthSize(wide),
                    ValueType.ARRAY => 4 + LengthSize(wide),
                    _ => FixedSize(elementType),
                };
                if (count > (ulong)r.Remaining / (ulong)minSize)
                {
                    throw new ParseFailure(WeightsErrorKind.AbsurdLength,
                        $"{what}: array of {count} {elementType} elements cannot fit in the {r.Remaining} bytes left");
                }
                var preview = new StringBuilder();
                var elementTypeName = elementType.ToString();
                for (ulong i = 0; i < count; i++)
                {
                    if (i >= PreviewItems && FixedSize(elementType) > 0)
                    {
                        r.Skip((count - i) * (ulong)FixedSize(elementType), what);
                        break;
                    }
                    if (i >= PreviewItems && elementType == ValueType.STRING)
                    {
                        // Past the preview: skip strings without materialising them (tokenizer vocabularies are large).
                        var length = wide ? r.U64($"{what} string length") : r.U32($"{what} string length");
                        if (length > (ulong)MaxStringBytes)
                        {
                            throw new ParseFailure(WeightsErrorKind.AbsurdLength, $"{what} string claims {length} bytes, above the {MaxStringBytes} byte limit");
                        }
                        r.Skip(length, $"{what} string");
                        continue;
                    }
                    var (text, name, _) = ReadValue(r, wide, elementType, depth + 1, key);
                    elementTypeName = name;
                    if (i < PreviewItems)
                    {
                        preview.Append(i == 0 ? "" : ", ").Append(elementType == ValueType.STRING ? Quote(text) : text);
                    }
                }
                if (count > PreviewItems)
                {
                    preview.Append(", ...");
                }
                return ($"[{elementTypeName} x {count}: {preview}]", $"ARRAY[{elementTypeName}]", null);
            }
            default:
                throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"{what}: unknown GGUF value type {(uint)type}");
        }
    }

    private static string Quote(string s) => "\"" + SafetensorsReader.Clip(s) + "\"";

    private static long CheckedMultiply(long a, long b, string tensorName)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" size overflows 64 bits");
        }
    }

    internal static bool IsValidUtf8(ReadOnlySpan<byte> bytes) => Utf8.IsValid(bytes);
}
