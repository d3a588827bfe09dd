using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Unicode;
using Embargo.Text;

namespace Embargo.Weights;

/// <summary>Reads a safetensors header (8-byte little-endian length, then a UTF-8 JSON object) and checks that
/// the tensors' <c>data_offsets</c> cover the data section exactly, without reading the tensor data.</summary>
public static class SafetensorsReader
{
    /// <summary>Headers above this size are refused (the reference implementation uses 100 MB; we are stricter).</summary>
    public const long MaxHeaderBytes = 64L * 1024 * 1024;

    /// <summary>Bits per element for every dtype the safetensors format defines.</summary>
    public static IReadOnlyDictionary<string, int> DtypeBits { get; } = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["BOOL"] = 8, ["U8"] = 8, ["I8"] = 8, ["F8_E5M2"] = 8, ["F8_E4M3"] = 8, ["F8_E8M0"] = 8,
        ["I16"] = 16, ["U16"] = 16, ["F16"] = 16, ["BF16"] = 16,
        ["I32"] = 32, ["U32"] = 32, ["F32"] = 32,
        ["I64"] = 64, ["U64"] = 64, ["F64"] = 64, ["C64"] = 64,
        ["F4"] = 4, ["F6_E2M3"] = 6, ["F6_E3M2"] = 6,
    };

    public static WeightsResult<ModelHeader> Read(string path, string? displayName = null)
    {
        var name = displayName ?? path;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
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
            return WeightsResult<ModelHeader>.Ok(Parse(stream, name));
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

    private static ModelHeader Parse(Stream stream, string name)
    {
        var fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new ParseFailure(WeightsErrorKind.Truncated,
                $"truncated: {fileLength} bytes, too short for the 8-byte safetensors header length");
        }
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
        {
            throw new ParseFailure(WeightsErrorKind.HeaderTooLarge,
                $"safetensors header length {headerLength} bytes exceeds the {MaxHeaderBytes / (1024 * 1024)} MiB limit");
        }
        if (headerLength > (ulong)(fileLength - 8))
        {
            throw new ParseFailure(WeightsErrorKind.HeaderPastEndOfFile,
                $"safetensors header length {headerLength} runs past the end of the file ({fileLength - 8} bytes follow the length)");
        }
        if (headerLength < 2)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"safetensors header of {headerLength} bytes cannot hold a JSON object");
        }
        var header = new byte[(int)headerLength];
        stream.ReadExactly(header);
        if (!Utf8.IsValid(header))
        {
            throw new ParseFailure(WeightsErrorKind.InvalidUtf8, "safetensors header is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidJson, $"safetensors header is not valid JSON ({JsonErrorText.Describe(e)})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ParseFailure(WeightsErrorKind.InvalidHeader, "safetensors header is not a JSON object");
            }
            RejectDuplicateKeys(root, "header");

            var dataStart = 8 + (long)headerLength;
            var dataLength = fileLength - dataStart;
            var metadata = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var tensors = new List<(TensorInfo Info, long Begin, long End)>();

            foreach (var property in root.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw new ParseFailure(WeightsErrorKind.InvalidHeader, "__metadata__ is not an object");
                    }
                    foreach (var entry in property.Value.EnumerateObject())
                    {
                        if (entry.Value.ValueKind != JsonValueKind.String)
                        {
                            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"__metadata__ value \"{Clip(entry.Name)}\" is not a string");
                        }
                        metadata[entry.Name] = entry.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseTensor(property, dataStart));
            }

            // The data section must be covered exactly: sorted by offset, no overlaps, no holes, nothing past the end.
            tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long expected = 0;
            foreach (var (info, begin, end) in tensors)
            {
                if (end > dataLength)
                {
                    throw new ParseFailure(WeightsErrorKind.OffsetOutOfRange,
                        $"tensor \"{Clip(info.Name)}\" data_offsets [{begin}, {end}] run past the {dataLength}-byte data section");
                }
                if (begin < expected)
                {
                    throw new ParseFailure(WeightsErrorKind.OffsetsOverlap,
                        $"tensor \"{Clip(info.Name)}\" data_offsets [{begin}, {end}] overlap the previous tensor (which ends at {expected})");
                }
                if (begin > expected)
                {
                    throw new ParseFailure(WeightsErrorKind.OffsetsLeaveGap,
                        $"tensor \"{Clip(info.Name)}\" starts at {begin} leaving a gap after {expected} in the data section");
                }
                expected = end;
            }
            if (expected != dataLength)
            {
                throw new ParseFailure(WeightsErrorKind.OffsetsLeaveGap,
                    $"the data section has {dataLength} bytes but the tensors cover only {expected}");
            }

            return new ModelHeader
            {
                Format = "safetensors",
                Tensors = tensors.Select(t => t.Info).OrderBy(t => t.Name, StringComparer.Ordinal).ToList(),
                Metadata = metadata,
                DataStart = dataStart,
            };
        }
    }

    private static (TensorInfo, long, long) ParseTensor(JsonProperty property, long dataStart)
    {
        var tensorName = Clip(property.Name);
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" is not an object");
        }
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" has no string dtype");
        }
        var dtype = dtypeElement.GetString()!;
        if (!DtypeBits.TryGetValue(dtype, out var bits))
        {
            throw new ParseFailure(WeightsErrorKind.UnsupportedDtype, $"tensor \"{tensorName}\" has unknown dtype \"{Clip(dtype)}\"");
        }
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" has no shape array");
        }
        if (shapeElement.GetArrayLength() > 64)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" has {shapeElement.GetArrayLength()} dimensions (limit 64)");
        }
        var shape = new List<long>();
        long elements = 1;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0)
            {
                throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" has a shape entry that is not a non-negative integer");
            }
            shape.Add(dim);
            elements = CheckedMultiply(elements, dim, tensorName);
        }
        if (!value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" has no [begin, end] data_offsets");
        }
        var begin = NonNegative(offsetsElement[0], tensorName);
        var end = NonNegative(offsetsElement[1], tensorName);
        if (end < begin)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" data_offsets end {end} is before begin {begin}");
        }
        var totalBits = CheckedMultiply(elements, bits, tensorName);
        if (totalBits % 8 != 0)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" of {elements} {dtype} elements is not a whole number of bytes");
        }
        if (totalBits / 8 != end - begin)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader,
                $"tensor \"{tensorName}\" data_offsets span {end - begin} bytes but {dtype} {FormatShape(shape)} needs {totalBits / 8}");
        }
        var info = new TensorInfo
        {
            Name = property.Name, Dtype = dtype, Shape = shape, Elements = elements,
            DataOffset = dataStart + begin, ByteLength = end - begin,
        };
        return (info, begin, end);
    }

    internal static void RejectDuplicateKeys(JsonElement element, string where)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var p in element.EnumerateObject())
                {
                    if (!seen.Add(p.Name))
                    {
                        throw new ParseFailure(WeightsErrorKind.DuplicateKey, $"duplicate JSON key \"{Clip(p.Name)}\" in {where}");
                    }
                    RejectDuplicateKeys(p.Value, where);
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    RejectDuplicateKeys(item, where);
                }
                break;
        }
    }

    private static long NonNegative(JsonElement e, string tensorName)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out var v) || v < 0)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" has a data offset that is not a non-negative integer");
        }
        return v;
    }

    private static long CheckedMultiply(long a, long b, string tensorName)
    {
        try
        {
            return checked(a * b);
        }
        catch (OverflowException)
        {
            throw new ParseFailure(WeightsErrorKind.InvalidHeader, $"tensor \"{tensorName}\" element count overflows 64 bits");
        }
    }

    internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    internal static string Clip(string s) =>
        (s.Length <= 80 ? s : s[..80] + "…").Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);
}
