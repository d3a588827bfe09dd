using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Embargo.Ledger;

namespace Embargo.Protocol.Certificates;

public sealed record VerificationCheck(string Name, bool Ok, string Detail);

/// <summary>The public ledger as exported: ledger.jsonl, a signed checkpoint and the note verifier key.</summary>
public sealed record LedgerEvidence(string Jsonl, string SignedCheckpoint, string VerifierKey);

/// <summary>Weights found on disk: their manifest digest ("sha256:…") and every file's path and sha256.</summary>
public sealed record WeightsEvidence(string ManifestDigest, IReadOnlyList<(string Path, string Sha256)> Files);

public sealed record CertificateVerification(IReadOnlyList<VerificationCheck> Checks, InTotoStatement? Statement)
{
    public bool Ok => Checks.Count > 0 && Checks.All(c => c.Ok);
    public VerificationCheck? FirstFailure => Checks.FirstOrDefault(c => !c.Ok);
    /// <summary>True when the ledger was scanned after the issuance for a revocation, a flag or a superseding certificate.</summary>
    public bool RevocationChecked => Checks.Any(c => c.Name == CertificateVerifier.RevocationCheck);
}

/// <summary>
/// Offline verification of a release certificate: the DSSE signature under the certifier's key, the statement's
/// shape, the subject against weights on disk, and the certificate's presence in the signed ledger.
/// </summary>
public static class CertificateVerifier
{
    public const string RevocationCheck = "revocation";

    /// <summary>Leaf types that end a certificate they name in data.certificate.</summary>
    private static readonly string[] EndingTypes =
        ["certificate.revoked", "certificate.flagged-for-reevaluation", "certificate.superseded", "certification.withdrawn"];

    public const string SafetyCaseCheck = "safety case";

    public static CertificateVerification Verify(string envelopeJson, string certifierPublicKeyPem, LedgerEvidence? ledger, WeightsEvidence? weights, byte[]? safetyCase = null)
    {
        var checks = new List<VerificationCheck>();
        var envelope = DsseEnvelope.Parse(envelopeJson);
        var key = VerifyingKey.FromPem(certifierPublicKeyPem);
        if (!envelope.IsOk || !key.IsOk)
        {
            checks.Add(new("signature", false, (envelope.Error ?? key.Error)!.Message));
            return new(checks, null);
        }
        var payload = envelope.Value.Verify(key.Value);
        if (!payload.IsOk)
        {
            checks.Add(new("signature", false, payload.Error!.Message));
            return new(checks, null);
        }
        if (envelope.Value.Signatures.Any(sig => sig.KeyId != key.Value.KeyId))
        {
            checks.Add(new("signature", false, $"a signature's keyid does not name the given key {key.Value.KeyId[..16]}…"));
            return new(checks, null);
        }
        checks.Add(new("signature", true, $"DSSE signature verifies under key {key.Value.KeyId[..16]}…"));
        if (envelope.Value.PayloadType != DsseEnvelope.InTotoPayloadType)
        {
            checks.Add(new("statement", false, $"payloadType is {envelope.Value.PayloadType}, not {DsseEnvelope.InTotoPayloadType}"));
            return new(checks, null);
        }
        var statement = Statements.Parse(payload.Value);
        if (!statement.IsOk)
        {
            checks.Add(new("statement", false, statement.Error!.Message));
            return new(checks, null);
        }
        var s = statement.Value;
        var subject = "sha256:" + s.Subject[0].Digest["sha256"];
        checks.Add(new("statement", true, $"in-toto Statement v1 for {s.Subject[0].Name} ({subject}) at tier {s.Predicate.Tier}"));
        if (weights is not null)
        {
            checks.Add(CheckWeights(s, subject, weights));
        }
        if (safetyCase is not null)
        {
            checks.Add(CheckSafetyCase(s, safetyCase));
        }
        if (ledger is not null)
        {
            checks.AddRange(CheckLedger(s, subject, payload.Value, envelope.Value, ledger));
        }
        return new(checks, s);
    }

    /// <summary>The exported safety case (its exact bytes) against the digest the predicate names.</summary>
    public static VerificationCheck CheckSafetyCase(InTotoStatement s, byte[] safetyCase)
    {
        if (s.Predicate.SafetyCase is not { } named)
        {
            return new(SafetyCaseCheck, false, "the certificate names no safety case (issued before safety cases), so no safety case can be checked against it");
        }
        var digest = Sha256Digest.Of(safetyCase).ToString();
        return string.Equals(digest, named.Digest, StringComparison.Ordinal)
            ? new(SafetyCaseCheck, true, $"the safety case file is the one the certificate names ({named.Digest})")
            : new(SafetyCaseCheck, false, $"the safety case file has digest {digest}, but the certificate names {named.Digest}: it is not the argument the certificate was issued on (altered or another case's)");
    }

    private static VerificationCheck CheckWeights(InTotoStatement s, string subject, WeightsEvidence weights)
    {
        if (!string.Equals(weights.ManifestDigest, subject, StringComparison.Ordinal))
        {
            return new("weights", false, $"the weights on disk have manifest digest {weights.ManifestDigest}, the certificate names {subject}");
        }
        var onDisk = weights.Files.ToDictionary(f => f.Path, f => f.Sha256, StringComparer.Ordinal);
        foreach (var file in s.Predicate.Weights)
        {
            if (!onDisk.TryGetValue(file.Path, out var sha))
            {
                return new("weights", false, $"{file.Path} is named by the certificate but missing on disk");
            }
            if (!string.Equals(sha, file.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                return new("weights", false, $"{file.Path} has sha256 {sha}, the certificate names {file.Sha256}");
            }
        }
        var extra = onDisk.Keys.Except(s.Predicate.Weights.Select(w => w.Path), StringComparer.Ordinal).ToList();
        return extra.Count > 0
            ? new("weights", false, $"{extra[0]} is on disk but not named by the certificate")
            : new("weights", true, $"{s.Predicate.Weights.Count} files match the certificate and the manifest digest");
    }

    private static IEnumerable<VerificationCheck> CheckLedger(InTotoStatement s, string subject, byte[] payload, DsseEnvelope envelope, LedgerEvidence ledger)
    {
        var verified = OfflineLedgerVerifier.Verify(ledger.Jsonl, ledger.SignedCheckpoint, ledger.VerifierKey);
        if (!verified.IsOk)
        {
            yield return new("ledger", false, verified.Error!.Message);
            yield break;
        }
        var checkpoint = verified.Value;
        yield return new("checkpoint", true, $"checkpoint signed by {ledger.VerifierKey.Split('+')[0]}; RFC 6962 root of {checkpoint.Size} leaves matches");
        if (checkpoint.Origin != s.Predicate.Ledger.Origin)
        {
            yield return new("ledger", false, $"the certificate names ledger {s.Predicate.Ledger.Origin}, the checkpoint is for {checkpoint.Origin}");
            yield break;
        }
        var leaves = LedgerJsonl.Parse(new StringReader(ledger.Jsonl)).Value;
        var tree = new MerkleTree();
        foreach (var leaf in leaves)
        {
            tree.AppendLeaf(leaf);
        }
        var index = s.Predicate.Ledger.CertificationIndex;
        if (index < 0 || index >= checkpoint.Size)
        {
            yield return new("certification event", false, $"ledger index {index} is outside the checkpoint's {checkpoint.Size} leaves");
            yield break;
        }
        var approved = LedgerEvents.TryParse(leaves[(int)index]);
        var data = approved?["data"] as JsonObject;
        if (approved?["type"]?.GetValue<string>() != "certification.approved" || data is null
            || data["case"]?.GetValue<string>() != s.Predicate.Case
            || data["manifestDigest"]?.GetValue<string>() != subject
            || data["tier"]?.GetValue<string>() != s.Predicate.Tier)
        {
            yield return new("certification event", false, $"leaf {index} is not the certification of case {s.Predicate.Case} for {subject} at {s.Predicate.Tier}");
            yield break;
        }
        var inclusion = MerkleVerifier.VerifyInclusion(index, checkpoint.Size, MerkleHash.HashLeaf(leaves[(int)index]), tree.InclusionProof(index, checkpoint.Size), checkpoint.RootHash);
        yield return inclusion.IsOk
            ? new("certification event", true, $"leaf {index} (certification.approved) is included under the checkpoint")
            : new("certification event", false, inclusion.Error!.Message);

        var statementSha = Convert.ToHexStringLower(SHA256.HashData(payload));
        var certificateId = data["certificate"]?.GetValue<string>();
        var issuedIndex = -1;
        for (var i = (int)index + 1; i < leaves.Count && i < checkpoint.Size; i++)
        {
            var e = LedgerEvents.TryParse(leaves[i]);
            if (e?["type"]?.GetValue<string>() == "certificate.issued" && e["data"]?["certificate"]?.GetValue<string>() == certificateId)
            {
                issuedIndex = i;
                var d = (JsonObject)e["data"]!;
                var logged = (d["signatures"] as JsonArray)?.Select(x => (x?["keyid"]?.GetValue<string>(), x?["sig"]?.GetValue<string>())).ToHashSet() ?? [];
                if (d["statementSha256"]?.GetValue<string>() != statementSha
                    || envelope.Signatures.Count != logged.Count
                    || !envelope.Signatures.All(sig => logged.Contains((sig.KeyId, sig.Sig))))
                {
                    yield return new("issuance event", false, $"leaf {i} logs a different statement or signature for certificate {certificateId}");
                    yield break;
                }
                break;
            }
        }
        if (issuedIndex < 0)
        {
            yield return new("issuance event", false, $"no certificate.issued leaf for certificate {certificateId} under the checkpoint");
            yield break;
        }
        var issued = MerkleVerifier.VerifyInclusion(issuedIndex, checkpoint.Size, MerkleHash.HashLeaf(leaves[issuedIndex]), tree.InclusionProof(issuedIndex, checkpoint.Size), checkpoint.RootHash);
        if (!issued.IsOk)
        {
            yield return new("issuance event", false, issued.Error!.Message);
            yield break;
        }
        yield return new("issuance event", true, $"leaf {issuedIndex} (certificate.issued) logs this exact statement and signature and is included");
        yield return ScanForRevocation(leaves, (int)index, issuedIndex, checkpoint.Size, certificateId!, s.Predicate.Case);
    }

    /// <summary>
    /// Verification follows revocation: after the certification event, a leaf that revokes, flags or supersedes
    /// this certificate, or denies its case, ends it. The first such leaf is named by index and type.
    /// </summary>
    private static VerificationCheck ScanForRevocation(IReadOnlyList<byte[]> leaves, int certificationIndex, int issuedIndex, long size, string certificateId, string caseId)
    {
        var events = new List<(int Index, string Type, string? Certificate, string? Case, string? Reason)>();
        for (var i = certificationIndex + 1; i < leaves.Count && i < size; i++)
        {
            if (LedgerEvents.TryParse(leaves[i]) is { } e && Text(e["type"]) is { } type && e["data"] is JsonObject d)
            {
                events.Add((i, type, Text(d["certificate"]), Text(d["case"]), Text(d["reason"])));
            }
        }
        // A leaf naming the certificate itself first (a denial revokes in a leaf of its own, right after case.denied).
        foreach (var e in events)
        {
            if (e.Certificate == certificateId && EndingTypes.Contains(e.Type, StringComparer.Ordinal))
            {
                return new(RevocationCheck, false, $"leaf {e.Index} ({e.Type}) ends certificate {certificateId}{(e.Reason is null ? "" : ": " + e.Reason)}");
            }
        }
        foreach (var e in events)
        {
            if (e.Case == caseId && e.Type == "case.denied")
            {
                return new(RevocationCheck, false, $"leaf {e.Index} (case.denied) denies case {caseId} after its certification");
            }
            if (e.Index > issuedIndex && e.Case == caseId && e.Type == "certificate.issued" && e.Certificate != certificateId)
            {
                return new(RevocationCheck, false, $"leaf {e.Index} (certificate.issued) supersedes certificate {certificateId} with certificate {e.Certificate} for case {caseId}");
            }
        }
        return new(RevocationCheck, true, $"no leaf up to {size} revokes, flags or supersedes certificate {certificateId}");
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
