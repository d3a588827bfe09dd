using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Protocol.Certificates;
using Embargo.Server.Certificates;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Releases;

/// <summary>An issued certificate as its signed statement says it is: the tier comes from the statement, never from a column.</summary>
public sealed record SignedCertificate(CertificateEntity Entity, Tier? SignedTier, string? Problem)
{
    public bool Valid => SignedTier is not null && Problem is null;
}

/// <summary>
/// What a release or a key release may rely on. A certificate counts only when its DSSE envelope verifies under its
/// certifier's registered key (CertificateVerifier), its statement's subject is this version's manifest digest and
/// names this case, and the statement is the one its `certificate.issued` ledger leaf recorded (so a swapped key and
/// a forged envelope do not count either). The mutable columns (tier, manifest digest) are only compared, never believed.
/// </summary>
public static class SignedCertificates
{
    public static async Task<IReadOnlyList<SignedCertificate>> IssuedForAsync(EmbargoDb db, ModelVersionEntity version, CancellationToken ct)
    {
        var issued = await db.Certificates.AsNoTracking()
            .Where(c => c.ModelVersionId == version.Id && c.Status == CertificateStatus.Issued).ToListAsync(ct);
        var result = new List<SignedCertificate>(issued.Count);
        foreach (var certificate in issued)
        {
            result.Add(await CheckAsync(db, certificate, version, ct));
        }
        return result;
    }

    /// <summary>Rule 1 judged on the signed tiers; when a stored column claims more than its statement, the refusal says so.</summary>
    public static ProtocolError? ReleaseAllowed(Tier tier, IReadOnlyList<SignedCertificate> certificates) =>
        Rules.ReleaseAllowed(tier, certificates.Where(c => c.Valid).Select(c => (c.SignedTier!.Value, true)).ToList()) is { } refused
            ? Misstated(tier, certificates, $"release at {tier.Name()} is refused") ?? refused
            : null;

    /// <summary>The refusal naming a certificate whose stored tier reaches <paramref name="tier"/> while its signed statement does not.</summary>
    public static ProtocolError? Misstated(Tier tier, IReadOnlyList<SignedCertificate> certificates, string consequence)
    {
        var claimed = certificates.FirstOrDefault(c => !(c.Valid && c.SignedTier >= tier) && Tiers.Parse(c.Entity.Tier) is { IsOk: true } t && t.Value >= tier);
        if (claimed is null)
        {
            return null;
        }
        var said = claimed.Problem ?? $"its signed statement says {claimed.SignedTier!.Value.Name()}";
        return ProtocolError.Violation("rule-1", $"certificate {claimed.Entity.Id} is stored at {claimed.Entity.Tier}, but {said}; {consequence}");
    }

    private static async Task<SignedCertificate> CheckAsync(EmbargoDb db, CertificateEntity certificate, ModelVersionEntity version, CancellationToken ct)
    {
        if (certificate.EnvelopeJson is null || certificate.IssuedIndex is not { } issuedIndex)
        {
            return new(certificate, null, "it holds no signed envelope");
        }
        var keyPem = await db.Principals.AsNoTracking().Where(p => p.Id == certificate.CertifierPrincipalId).Select(p => p.SigningKeyPem).FirstOrDefaultAsync(ct);
        if (keyPem is null)
        {
            return new(certificate, null, "its certifier has no registered signing key");
        }
        var verified = CertificateVerifier.Verify(certificate.EnvelopeJson, keyPem, null, null);
        if (!verified.Ok || verified.Statement is not { } statement)
        {
            return new(certificate, null, $"its signature does not verify under the certifier's registered key ({verified.FirstFailure?.Detail})");
        }
        var subject = "sha256:" + statement.Subject[0].Digest["sha256"];
        if (subject != version.ManifestDigest)
        {
            return new(certificate, null, $"its signed statement is for weights {subject}, not {version.ManifestDigest}");
        }
        if (statement.Predicate.Case != certificate.CaseId)
        {
            return new(certificate, null, $"its signed statement names case {statement.Predicate.Case}, not {certificate.CaseId}");
        }
        var tier = Tiers.Parse(statement.Predicate.Tier);
        if (!tier.IsOk)
        {
            return new(certificate, null, $"its signed statement names no known tier ({statement.Predicate.Tier})");
        }
        var recorded = await RecordedStatementAsync(db, issuedIndex, certificate.Id, ct);
        var payload = DsseEnvelope.Parse(certificate.EnvelopeJson).Value.PayloadBytes();
        if (recorded is null || !string.Equals(recorded, Convert.ToHexStringLower(SHA256.HashData(payload)), StringComparison.Ordinal))
        {
            return new(certificate, tier.Value, $"its signed statement says {tier.Value.Name()} but is not the statement its certificate.issued leaf {issuedIndex} recorded");
        }
        return new(certificate, tier.Value, null);
    }

    /// <summary>The statement sha256 recorded by the certificate's `certificate.issued` leaf (leaf bytes are covered by the ledger's integrity check).</summary>
    private static async Task<string?> RecordedStatementAsync(EmbargoDb db, long index, string certificateId, CancellationToken ct)
    {
        var bytes = await db.LedgerLeaves.AsNoTracking().Where(l => l.Index == index).Select(l => l.Data).FirstOrDefaultAsync(ct);
        if (bytes is null)
        {
            return null;
        }
        try
        {
            var leaf = JsonNode.Parse(bytes);
            if (leaf?["type"]?.GetValue<string>() != "certificate.issued" || leaf["data"]?["certificate"]?.GetValue<string>() != certificateId)
            {
                return null;
            }
            return leaf["data"]?["statementSha256"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null; // a leaf that is not what it claims does not vouch for anything
        }
    }
}
