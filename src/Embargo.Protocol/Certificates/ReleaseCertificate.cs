using System.Text.Json;
using System.Text.Json.Serialization;
using Embargo.Text;

namespace Embargo.Protocol.Certificates;

/// <summary>in-toto Statement v1 whose subject is a model version (digest = its weights manifest digest).</summary>
public sealed record InTotoStatement
{
    public const string StatementType = "https://in-toto.io/Statement/v1";

    [JsonPropertyName("_type")] public required string Type { get; init; }
    [JsonPropertyName("subject")] public required IReadOnlyList<StatementSubject> Subject { get; init; }
    [JsonPropertyName("predicateType")] public required string PredicateType { get; init; }
    [JsonPropertyName("predicate")] public required ReleasePredicate Predicate { get; init; }
}

public sealed record StatementSubject
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("digest")] public required IReadOnlyDictionary<string, string> Digest { get; init; }
}

/// <summary>The Embargo release-certificate predicate.</summary>
public sealed record ReleasePredicate
{
    public const string Type = "https://embargo.dev/release-certificate/v1";

    [JsonPropertyName("tier")] public required string Tier { get; init; }
    [JsonPropertyName("case")] public required string Case { get; init; }
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("developer")] public required string Developer { get; init; }
    [JsonPropertyName("weights")] public required IReadOnlyList<CertifiedFile> Weights { get; init; }
    [JsonPropertyName("findings")] public required IReadOnlyList<CertifiedFinding> Findings { get; init; }
    [JsonPropertyName("referenceModel")] public required string ReferenceModel { get; init; }
    [JsonPropertyName("certifier")] public required CertifierIdentity Certifier { get; init; }
    [JsonPropertyName("ledger")] public required LedgerReference Ledger { get; init; }
    [JsonPropertyName("issuedAt")] public required DateTimeOffset IssuedAt { get; init; }
    /// <summary>The safety case the certificate rests on: the sha256 of its exported JSON (absent on certificates issued before safety cases).</summary>
    [JsonPropertyName("safetyCase"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public SafetyCaseReference? SafetyCase { get; init; }
}

/// <summary>The predicate's pointer to the safety case: the digest of the exact JSON served at GET /api/certificates/{id}/safety-case.</summary>
public sealed record SafetyCaseReference
{
    [JsonPropertyName("digest")] public required string Digest { get; init; }
    [JsonPropertyName("mediaType")] public required string MediaType { get; init; }
}

public sealed record CertifiedFile
{
    [JsonPropertyName("path")] public required string Path { get; init; }
    [JsonPropertyName("bytes")] public required long Bytes { get; init; }
    [JsonPropertyName("sha256")] public required string Sha256 { get; init; }
}

public sealed record CertifiedFinding
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("capability")] public required string Capability { get; init; }
    [JsonPropertyName("title")] public required string Title { get; init; }
    [JsonPropertyName("novel")] public required bool Novel { get; init; }
    [JsonPropertyName("uplift")] public double? Uplift { get; init; }
    [JsonPropertyName("p")] public double? P { get; init; }
    [JsonPropertyName("mitigations")] public required IReadOnlyList<CertifiedMitigation> Mitigations { get; init; }
}

public sealed record CertifiedMitigation
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("party")] public required string Party { get; init; }
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("verification")] public string? Verification { get; init; }
}

public sealed record CertifierIdentity
{
    [JsonPropertyName("organisation")] public required string Organisation { get; init; }
    [JsonPropertyName("principal")] public required string Principal { get; init; }
    [JsonPropertyName("keyId")] public required string KeyId { get; init; }
}

public sealed record LedgerReference
{
    [JsonPropertyName("origin")] public required string Origin { get; init; }
    /// <summary>Index of the "certification.approved" leaf recording the certifier's decision.</summary>
    [JsonPropertyName("certificationIndex")] public required long CertificationIndex { get; init; }
}

public static class Statements
{
    public static byte[] Serialize(InTotoStatement statement) => CanonicalJson.Serialize(statement);

    public static Result<InTotoStatement> Parse(ReadOnlySpan<byte> payload)
    {
        try
        {
            var statement = JsonSerializer.Deserialize<InTotoStatement>(payload, StrictJson.Options);
            if (statement is null || statement.Type != InTotoStatement.StatementType)
            {
                return ProtocolError.Validation($"the payload is not an in-toto Statement v1 (_type must be {InTotoStatement.StatementType})");
            }
            if (statement.PredicateType != ReleasePredicate.Type)
            {
                return ProtocolError.Validation($"the statement's predicateType is not {ReleasePredicate.Type}");
            }
            if (statement.Subject.Count != 1 || !statement.Subject[0].Digest.TryGetValue("sha256", out var hex) || !Sha256Digest.Parse(hex).IsOk)
            {
                return ProtocolError.Validation("the statement must have exactly one subject with a sha256 digest");
            }
            return statement;
        }
        catch (JsonException e)
        {
            return ProtocolError.Validation($"the statement is malformed: {JsonErrorText.Describe(e)}");
        }
    }
}
