using System.Text.Json;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Violations;

/// <summary>
/// Who may look a model version up by its weights digest: anyone once it is released; before that its developer,
/// the organisations of its cases (regulator, evaluators, affected parties of its threat models, certifiers of its
/// certificates) and the admin. Everyone else is told nothing, not even that the digest is registered.
/// </summary>
public static class VersionAccess
{
    public static async Task<bool> CanSeeAsync(EmbargoDb db, Caller? caller, ModelVersionEntity version, string developerOrganisation, CancellationToken ct)
    {
        if (await db.Releases.AsNoTracking().AnyAsync(r => r.ModelVersionId == version.Id, ct))
        {
            return true;
        }
        if (caller is null)
        {
            return false;
        }
        var org = caller.OrganisationId;
        if (caller.Role == Role.Admin || org == developerOrganisation)
        {
            return true;
        }
        var cases = await db.Cases.AsNoTracking().Where(c => c.ModelVersionId == version.Id)
            .Select(c => new { c.Id, c.RegulatorOrganisationId, c.EvaluatorOrganisationsJson }).ToListAsync(ct);
        if (cases.Any(c => c.RegulatorOrganisationId == org || (JsonSerializer.Deserialize<List<string>>(c.EvaluatorOrganisationsJson) ?? []).Contains(org)))
        {
            return true;
        }
        var caseIds = cases.Select(c => c.Id).ToList();
        var affected = await db.ThreatModels.AsNoTracking().Where(t => caseIds.Contains(t.CaseId)).Select(t => t.AffectedPartiesJson).ToListAsync(ct);
        if (affected.Any(json => (JsonSerializer.Deserialize<List<string>>(json) ?? []).Contains(org)))
        {
            return true;
        }
        var certifiers = await db.Certificates.AsNoTracking().Where(c => c.ModelVersionId == version.Id).Select(c => c.CertifierPrincipalId).ToListAsync(ct);
        return await db.Principals.AsNoTracking().AnyAsync(p => certifiers.Contains(p.Id) && p.OrganisationId == org, ct);
    }
}
