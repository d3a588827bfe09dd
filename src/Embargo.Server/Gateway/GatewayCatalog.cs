using Embargo.Protocol;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Gateway;

/// <summary>What the server's gateway reads from the store: a version's releases with the standing of their certificates.</summary>
public static class GatewayCatalog
{
    public static async Task<IReadOnlyList<ServedRelease>> ReleasesAsync(EmbargoDb db, string versionId, CancellationToken ct)
    {
        var releases = await db.Releases.AsNoTracking().Where(r => r.ModelVersionId == versionId).ToListAsync(ct);
        var certificateIds = releases.Select(r => r.CertificateId).ToList();
        var cases = await db.Certificates.AsNoTracking().Where(c => certificateIds.Contains(c.Id)).Select(c => c.CaseId).ToListAsync(ct);
        var certificates = await db.Certificates.AsNoTracking().Where(c => cases.Contains(c.CaseId) && c.IssuedIndex != null).ToListAsync(ct);
        // After a flag (an accepted incident, rule 5) the case is re-argued and re-certified: a release whose own certificate no
        // longer holds follows the newest valid certificate of the version at a tier at least the release's.
        var version = await db.Certificates.AsNoTracking().Where(c => c.ModelVersionId == versionId && c.IssuedIndex != null).ToListAsync(ct);
        string StandingIn(CertificateEntity c) => GatewayEndpoints.StandingOf(c, version.Where(o => o.CaseId == c.CaseId));
        return releases
            .Where(r => Tiers.Parse(r.Tier).IsOk)
            .Select(r =>
            {
                var tier = Tiers.Parse(r.Tier).Value;
                var certificate = certificates.FirstOrDefault(c => c.Id == r.CertificateId);
                var standing = certificate is null ? "missing" : GatewayEndpoints.StandingOf(certificate, certificates.Where(c => c.CaseId == certificate.CaseId));
                if (standing != "valid" && version
                        .Where(c => Tiers.Parse(c.Tier) is { IsOk: true } t && t.Value >= tier && StandingIn(c) == "valid")
                        .MaxBy(c => c.IssuedIndex) is { } newer)
                {
                    return new ServedRelease(tier, newer.Id, "valid");
                }
                return new ServedRelease(tier, r.CertificateId, standing);
            })
            .ToList();
    }

    /// <summary>
    /// The evaluator organisations assigned to the open cases of the version — neither released nor denied, and without an issued
    /// certificate (from issuance on, the certificate's rules apply): who has evaluation access.
    /// </summary>
    public static async Task<IReadOnlySet<string>> OpenCaseEvaluatorsAsync(EmbargoDb db, string versionId, CancellationToken ct)
    {
        string[] closed = [CaseState.Released.Name(), CaseState.Denied.Name()];
        var lists = await db.Cases.AsNoTracking()
            .Where(c => c.ModelVersionId == versionId && !closed.Contains(c.State) && !db.Certificates.Any(x => x.CaseId == c.Id && x.IssuedIndex != null))
            .Select(c => c.EvaluatorOrganisationsJson).ToListAsync(ct);
        return lists.SelectMany(l => System.Text.Json.JsonSerializer.Deserialize<List<string>>(l) ?? []).ToHashSet(StringComparer.Ordinal);
    }
}
