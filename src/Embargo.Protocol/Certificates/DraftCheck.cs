namespace Embargo.Protocol.Certificates;

/// <summary>
/// What a certifier asked for and knows independently of the drafted statement: the case and tier it approved,
/// the version's registered weights (from the server's version record), optionally the weights on its own disk,
/// and the key id of the key it is about to sign with.
/// </summary>
public sealed record DraftExpectation
{
    public required string CaseId { get; init; }
    public required string Tier { get; init; }
    /// <summary>The version's registered manifest digest and files ("sha256:…").</summary>
    public required WeightsEvidence Registered { get; init; }
    /// <summary>The weights on the certifier's disk, when it has them.</summary>
    public WeightsEvidence? OnDisk { get; init; }
    public required string KeyId { get; init; }
}

/// <summary>
/// The certifier's check of a drafted statement before it signs: the payload is an Embargo release statement, and
/// its subject, files, case, tier and certifier key are the ones asked for. Any difference is a refusal naming it.
/// </summary>
public static class DraftCheck
{
    public static Result<InTotoStatement> Check(string payloadType, ReadOnlySpan<byte> statementBytes, DraftExpectation expected)
    {
        if (payloadType != DsseEnvelope.InTotoPayloadType)
        {
            return Mismatch($"payloadType: the draft is {payloadType}, not {DsseEnvelope.InTotoPayloadType}");
        }
        var parsed = Statements.Parse(statementBytes);
        if (!parsed.IsOk)
        {
            return Mismatch($"statement: {parsed.Error!.Message}");
        }
        var s = parsed.Value;
        if (s.Subject[0].Digest.Count != 1)
        {
            return Mismatch($"subject digest: the draft names digests {string.Join(", ", s.Subject[0].Digest.Keys)}; only sha256 is expected");
        }
        var subject = "sha256:" + s.Subject[0].Digest["sha256"].ToLowerInvariant();
        if (!string.Equals(subject, expected.Registered.ManifestDigest, StringComparison.OrdinalIgnoreCase))
        {
            return Mismatch($"subject digest: the draft names {subject}, the version's registered manifest is {expected.Registered.ManifestDigest}");
        }
        if (expected.OnDisk is { } disk && !string.Equals(subject, disk.ManifestDigest, StringComparison.OrdinalIgnoreCase))
        {
            return Mismatch($"subject digest: the draft names {subject}, the weights on disk have manifest digest {disk.ManifestDigest}");
        }
        if (FilesDiffer(s.Predicate.Weights, expected.Registered, "the version's registered manifest") is { } registered)
        {
            return Mismatch(registered);
        }
        if (expected.OnDisk is { } onDisk && FilesDiffer(s.Predicate.Weights, onDisk, "the weights on disk") is { } files)
        {
            return Mismatch(files);
        }
        if (s.Predicate.Case != expected.CaseId)
        {
            return Mismatch($"case: the draft names {s.Predicate.Case}, the certifier asked for {expected.CaseId}");
        }
        if (s.Predicate.Tier != expected.Tier)
        {
            return Mismatch($"tier: the draft names {s.Predicate.Tier}, the certifier asked for {expected.Tier}");
        }
        if (!string.Equals(s.Predicate.Certifier.KeyId, expected.KeyId, StringComparison.OrdinalIgnoreCase))
        {
            return Mismatch($"certifier key: the draft names key {Short(s.Predicate.Certifier.KeyId)}, the key given is {Short(expected.KeyId)}");
        }
        return s;
    }

    private static string? FilesDiffer(IReadOnlyList<CertifiedFile> drafted, WeightsEvidence expected, string what)
    {
        var want = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, sha) in expected.Files)
        {
            want[path] = sha;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in drafted)
        {
            if (!seen.Add(file.Path))
            {
                return $"weights: the draft names {file.Path} twice";
            }
            if (!want.TryGetValue(file.Path, out var sha))
            {
                return $"weights: the draft names {file.Path}, which is not in {what}";
            }
            if (!string.Equals(sha, file.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                return $"weights: the draft gives {file.Path} sha256 {file.Sha256}, {what} has {sha}";
            }
        }
        var missing = want.Keys.Where(p => !seen.Contains(p)).Order(StringComparer.Ordinal).FirstOrDefault();
        return missing is null ? null : $"weights: {what} has {missing}, which the draft does not name";
    }

    private static string Short(string keyId) => keyId.Length > 16 ? keyId[..16] + "…" : keyId;

    private static ProtocolError Mismatch(string message) => ProtocolError.Violation("certificate-draft", message);
}
