using System.Text.Json;
using Embargo.Contracts;
using Embargo.Protocol;
using Embargo.Weights;

namespace Embargo.Server.Violations;

/// <summary>Tensor fingerprints at the HTTP edge: checked when a version registers them or a sighting sends them,
/// stored as canonical JSON on the version, compared by <see cref="FingerprintMatcher"/>.</summary>
public static class FingerprintEvidence
{
    /// <summary>Checks fingerprints sent by a client: bounded, positive element counts, finite numbers, 256-float sketches.</summary>
    public static Result<IReadOnlyList<TensorFingerprint>> Parse(IReadOnlyList<TensorFingerprintDto>? fingerprints, string member)
    {
        if (fingerprints is null)
        {
            return new List<TensorFingerprint>();
        }
        if (fingerprints.Count > ContractLimits.MaxFingerprints)
        {
            return ProtocolError.Validation($"{member} lists more than {ContractLimits.MaxFingerprints} tensors") with { Member = member };
        }
        var parsed = new List<TensorFingerprint>(fingerprints.Count);
        for (var i = 0; i < fingerprints.Count; i++)
        {
            var f = fingerprints[i];
            var at = $"{member}[{i}]";
            if (f.Elements <= 0)
            {
                return ProtocolError.Validation($"{at}.elements must be ≥ 1") with { Member = $"{at}.elements" };
            }
            if (!double.IsFinite(f.Sum) || !double.IsFinite(f.SumSquares) || f.SumSquares < 0)
            {
                return ProtocolError.Validation($"{at}: sum and sumSquares must be finite, sumSquares ≥ 0") with { Member = $"{at}.sumSquares" };
            }
            if (TensorFingerprint.ParseSketch(f.Sketch) is not { } sketch)
            {
                return ProtocolError.Validation($"{at}.sketch must be base64 of {TensorFingerprint.K} finite little-endian float32") with { Member = $"{at}.sketch" };
            }
            parsed.Add(new TensorFingerprint { Elements = f.Elements, Sum = f.Sum, SumSquares = f.SumSquares, Sketch = sketch });
        }
        return parsed;
    }

    public static TensorFingerprintDto ToDto(TensorFingerprint f) => new()
    {
        Elements = f.Elements, Sum = f.Sum, SumSquares = f.SumSquares, Sketch = f.SketchBase64,
    };

    /// <summary>The stored form: canonical JSON of the DTOs, or null when there are none.</summary>
    public static string? ToJson(IReadOnlyList<TensorFingerprint> fingerprints) =>
        fingerprints.Count == 0 ? null : JsonSerializer.Serialize(fingerprints.Select(ToDto).ToList(), CanonicalJson.Options);

    /// <summary>Reads what <see cref="ToJson"/> stored (the server wrote and checked it).</summary>
    public static IReadOnlyList<TensorFingerprint> FromJson(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return [];
        }
        var dtos = JsonSerializer.Deserialize<List<TensorFingerprintDto>>(json, CanonicalJson.Options) ?? [];
        var parsed = Parse(dtos, "stored fingerprints");
        return parsed.IsOk ? parsed.Value : [];
    }
}
