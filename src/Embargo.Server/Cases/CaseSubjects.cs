using System.Text.Json;
using Embargo.Protocol;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

/// <summary>The parties of a case or of a model version (all its cases), as the access table reads them.</summary>
public static class CaseSubjects
{
    public static Subject For(CaseEntity c, IEnumerable<string> affectedParties) => new()
    {
        DeveloperOrganisation = c.DeveloperOrganisationId,
        EvaluatorOrganisations = Evaluators(c),
        RegulatorOrganisations = [c.RegulatorOrganisationId],
        AffectedParties = affectedParties.Distinct(StringComparer.Ordinal).ToList(),
        OpenToCertifiers = OpenToCertifiers(c),
    };

    private static List<string> Evaluators(CaseEntity c) => JsonSerializer.Deserialize<List<string>>(c.EvaluatorOrganisationsJson) ?? [];

    private static bool OpenToCertifiers(CaseEntity c) => c.State == CaseState.Certification.Name() || c.State == CaseState.Released.Name();

    /// <summary>Each case's subject, with the affected parties of its accepted threat models.</summary>
    public static async Task<Dictionary<string, Subject>> ForCasesAsync(EmbargoDb db, IReadOnlyList<CaseEntity> cases, CancellationToken ct)
    {
        var ids = cases.Select(c => c.Id).ToList();
        var threats = await db.ThreatModels.AsNoTracking()
            .Where(t => ids.Contains(t.CaseId) && t.Status == ThreatModelStatus.Accepted)
            .Select(t => new { t.CaseId, t.AffectedPartiesJson }).ToListAsync(ct);
        var parties = threats.ToLookup(t => t.CaseId, t => JsonSerializer.Deserialize<List<string>>(t.AffectedPartiesJson) ?? [], StringComparer.Ordinal);
        return cases.ToDictionary(c => c.Id, c => For(c, parties[c.Id].SelectMany(p => p)), StringComparer.Ordinal);
    }

    /// <summary>
    /// A model version's subject: its developer (the model's organisation) and the parties of every case opened for it,
    /// and the principals holding a weights grant. Null when the version does not exist.
    /// </summary>
    public static async Task<(ModelVersionEntity Version, ModelEntity Model, Subject Subject)?> ForVersionAsync(EmbargoDb db, string versionId, CancellationToken ct)
    {
        var version = await db.ModelVersions.FirstOrDefaultAsync(v => v.Id == versionId, ct);
        if (version is null)
        {
            return null;
        }
        var model = await db.Models.FirstAsync(m => m.Id == version.ModelId, ct);
        var cases = await db.Cases.AsNoTracking().Where(c => c.ModelVersionId == versionId).ToListAsync(ct);
        var subjects = await ForCasesAsync(db, cases, ct);
        var grantees = await db.WeightsGrants.AsNoTracking().Where(g => g.ModelVersionId == versionId).Select(g => g.PrincipalId).ToListAsync(ct);
        return (version, model, new Subject
        {
            DeveloperOrganisation = model.OrganisationId,
            EvaluatorOrganisations = subjects.Values.SelectMany(s => s.EvaluatorOrganisations).Distinct(StringComparer.Ordinal).ToList(),
            RegulatorOrganisations = subjects.Values.SelectMany(s => s.RegulatorOrganisations).Distinct(StringComparer.Ordinal).ToList(),
            AffectedParties = subjects.Values.SelectMany(s => s.AffectedParties).Distinct(StringComparer.Ordinal).ToList(),
            Grantees = grantees,
            OpenToCertifiers = cases.Any(OpenToCertifiers),
        });
    }
}
