using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Embargo.Text;

namespace Embargo.Protocol.Certificates;

public sealed record DsseSignature
{
    [JsonPropertyName("keyid")] public required string KeyId { get; init; }
    [JsonPropertyName("sig")] public required string Sig { get; init; }
}

/// <summary>A DSSE envelope (secure-systems-lab/dsse, "DSSEv1" pre-authentication encoding).</summary>
public sealed record DsseEnvelope
{
    public const string InTotoPayloadType = "application/vnd.in-toto+json";

    [JsonPropertyName("payloadType")] public required string PayloadType { get; init; }
    [JsonPropertyName("payload")] public required string Payload { get; init; }
    [JsonPropertyName("signatures")] public required IReadOnlyList<DsseSignature> Signatures { get; init; }

    /// <summary>PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII decimal bytes.</summary>
    public static byte[] Pae(string payloadType, ReadOnlySpan<byte> body)
    {
        var typeBytes = Encoding.UTF8.GetBytes(payloadType);
        var head = Encoding.UTF8.GetBytes($"DSSEv1 {typeBytes.Length} {payloadType} {body.Length} ");
        var result = new byte[head.Length + body.Length];
        head.CopyTo(result, 0);
        body.CopyTo(result.AsSpan(head.Length));
        return result;
    }

    public static DsseEnvelope Sign(ReadOnlySpan<byte> payload, string payloadType, SigningKey key) => new()
    {
        PayloadType = payloadType,
        Payload = Convert.ToBase64String(payload),
        Signatures = [new DsseSignature { KeyId = key.PublicKey.KeyId, Sig = Convert.ToBase64String(key.Sign(Pae(payloadType, payload))) }],
    };

    public byte[] PayloadBytes() => Convert.FromBase64String(Payload);

    /// <summary>True when at least one signature made by <paramref name="key"/> verifies over PAE(type, payload).</summary>
    public Result<byte[]> Verify(VerifyingKey key)
    {
        byte[] payload;
        try
        {
            payload = PayloadBytes();
        }
        catch (FormatException)
        {
            return ProtocolError.Validation("the envelope payload is not valid base64");
        }
        var pae = Pae(PayloadType, payload);
        foreach (var signature in Signatures)
        {
            byte[] sig;
            try
            {
                sig = Convert.FromBase64String(signature.Sig);
            }
            catch (FormatException)
            {
                continue;
            }
            if (key.Verify(pae, sig))
            {
                return payload;
            }
        }
        return ProtocolError.Violation("certificate-signature", "no signature in the envelope verifies under the certifier's key");
    }

    public static Result<DsseEnvelope> Parse(string json)
    {
        try
        {
            var envelope = JsonSerializer.Deserialize<DsseEnvelope>(json, StrictJson.Options);
            return envelope is null || envelope.Signatures.Count == 0
                ? ProtocolError.Validation("the envelope has no signatures")
                : envelope;
        }
        catch (JsonException e)
        {
            return ProtocolError.Validation($"the envelope is not a DSSE JSON envelope: {JsonErrorText.Describe(e)}");
        }
    }

    public string ToJson() => JsonSerializer.Serialize(this, StrictJson.Indented);
}

public static class StrictJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
    };

    public static readonly JsonSerializerOptions Indented = new(Options) { WriteIndented = true };
}
