using System.Text.Json;
using System.Text.Unicode;
using Embargo.Text;

namespace Embargo.Weights;

/// <summary>Recognises <c>model.safetensors.index.json</c>: a <c>weight_map</c> from tensor name to shard file.
/// The shards' tensors are counted from the shards themselves, once; the index adds nothing to the count.</summary>
public static class ShardIndex
{
    public const long MaxBytes = 64L * 1024 * 1024;

    /// <summary>Null when the index is well-formed JSON with a <c>weight_map</c> object of strings.</summary>
    public static WeightsError? Validate(string fullPath, string name)
    {
        var result = Read(fullPath, name);
        return result.IsOk ? null : result.Error;
    }

    /// <summary>The weight map (tensor → shard file).</summary>
    public static WeightsResult<IReadOnlyDictionary<string, string>> Read(string fullPath, string name)
    {
        try
        {
            var length = new FileInfo(fullPath).Length;
            if (length > MaxBytes)
            {
                return new WeightsError(WeightsErrorKind.HeaderTooLarge, name, $"shard index of {length} bytes exceeds the {MaxBytes / (1024 * 1024)} MiB limit");
            }
            var bytes = File.ReadAllBytes(fullPath);
            if (!Utf8.IsValid(bytes))
            {
                return new WeightsError(WeightsErrorKind.InvalidUtf8, name, "shard index is not valid UTF-8");
            }
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 16 });
            SafetensorsReader.RejectDuplicateKeys(doc.RootElement, "shard index");
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                return new WeightsError(WeightsErrorKind.InvalidHeader, name, "shard index has no weight_map object");
            }
            var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    return new WeightsError(WeightsErrorKind.InvalidHeader, name, $"weight_map entry \"{SafetensorsReader.Clip(p.Name)}\" is not a file name");
                }
                result[p.Name] = p.Value.GetString()!;
            }
            return WeightsResult<IReadOnlyDictionary<string, string>>.Ok(result);
        }
        catch (JsonException e)
        {
            return new WeightsError(WeightsErrorKind.InvalidJson, name, $"shard index is not valid JSON ({JsonErrorText.Describe(e)})");
        }
        catch (ParseFailure f)
        {
            return new WeightsError(f.Kind, name, f.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, name, e.Message);
        }
    }
}
