using Embargo.Protocol;
using Embargo.Protocol.Disclosures;
using Embargo.Evaluation.Statistics;
using Embargo.Server.Cases;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Models;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Disclosures;

/// <summary>
/// The public CSAF 2.0 advisory of a disclosure (<c>GET /api/public/advisories/{id}/csaf</c>): built from public facts
/// only (the sealed detail is never read here), with one revision per change of the finding or its mitigations.
/// </summary>
public static class AdvisoryCsaf
{
    public const string MediaType = "application/json";

    /// <summary>
    /// Records a new revision of the advisory of <paramref name="findingId"/> (nothing when the finding is not disclosed):
    /// called in the unit of work that changes what the advisory says, with the ledger leaf of that change.
    /// </summary>
    public static void Revise(UnitOfWork uow, CaseSnapshot snap, string findingId, long ledgerIndex, string summary)
    {
        var disclosure = snap.Disclosures.FirstOrDefault(d => d.FindingId == findingId);
        if (disclosure is null)
        {
            return;
        }
        disclosure.Revision++;
        uow.Db.AdvisoryRevisions.Add(new AdvisoryRevisionEntity
        {
            Id = Ids.New("rev"), DisclosureId = disclosure.Id, Number = disclosure.Revision, At = uow.Now, Summary = summary, LedgerIndex = ledgerIndex,
        });
    }

    public static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Get(string id, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        var facts = await FactsAsync(db, id, $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}", ct);
        if (facts is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"advisory {id}"));
        }
        return TypedResults.File(CsafAdvisory.Render(facts), MediaType);
    }

    private static async Task<CsafFacts?> FactsAsync(EmbargoDb db, string id, string baseUrl, CancellationToken ct)
    {
        var disclosure = await db.Disclosures.AsNoTracking().FirstOrDefaultAsync(d => d.Id == id, ct);
        var finding = disclosure is null ? null : await db.Findings.AsNoTracking().FirstOrDefaultAsync(f => f.Id == disclosure.FindingId, ct);
        var snap = finding is null ? null : await CaseSnapshot.LoadAsync(db, finding.CaseId, ct);
        if (disclosure is null || finding is null || snap is null)
        {
            return null;
        }
        var evaluation = snap.Evaluation(finding.EvaluationId);
        var verdict = evaluation is null ? null : snap.Verdict(evaluation);
        var model = await db.Models.AsNoTracking().FirstAsync(m => m.Id == snap.Version.ModelId, ct);
        var mitigations = (await db.Mitigations.AsNoTracking().Where(m => m.FindingId == finding.Id).ToListAsync(ct))
            .OrderBy(m => m.CreatedAt).ThenBy(m => m.Id, StringComparer.Ordinal).ToList();
        var orgIds = mitigations.Select(m => m.PartyOrganisationId).Append(snap.Case.DeveloperOrganisationId).Append(snap.Case.RegulatorOrganisationId).Distinct().ToList();
        var names = await db.Organisations.AsNoTracking().Where(o => orgIds.Contains(o.Id)).ToDictionaryAsync(o => o.Id, o => o.Name, ct);
        var revisions = (await db.AdvisoryRevisions.AsNoTracking().Where(r => r.DisclosureId == id).ToListAsync(ct)).OrderBy(r => r.Number).ToList();
        return new CsafFacts
        {
            DisclosureId = disclosure.Id, AdvisoryTitle = disclosure.AdvisoryTitle, AdvisorySummary = disclosure.AdvisorySummary, DisclosedAt = disclosure.CreatedAt,
            PublisherName = names.GetValueOrDefault(snap.Case.RegulatorOrganisationId, snap.Case.RegulatorOrganisationId),
            PublisherNamespace = baseUrl,
            SelfUrl = $"{baseUrl}/api/public/advisories/{Uri.EscapeDataString(disclosure.Id)}/csaf",
            CaseId = snap.Case.Id,
            DeveloperName = names.GetValueOrDefault(snap.Case.DeveloperOrganisationId, snap.Case.DeveloperOrganisationId),
            ModelName = model.Name, VersionId = snap.Version.Id, VersionLabel = snap.Version.Version, ManifestDigest = snap.Version.ManifestDigest,
            Files = ModelEndpoints.Files(snap.Version).Select(f => (f.Path, f.Sha256)).ToList(),
            Finding = new CsafFinding
            {
                Id = finding.Id, Title = finding.Title, Capability = finding.Capability, Novel = finding.Novel, RecordedAt = finding.CreatedAt, CapTier = finding.CapTier,
                Verdict = verdict?.Verdict ?? (finding.Novel ? Verdicts.Novel : Verdicts.NotNovel), Margin = verdict?.Margin ?? snap.Margin(finding.Capability),
                Samples = evaluation?.Samples ?? 0, SubjectAccuracy = evaluation?.SubjectAccuracy ?? 0, BaselineAccuracy = evaluation?.BaselineAccuracy,
                Uplift = evaluation?.Uplift, UpliftLow = evaluation?.UpliftCiLow, UpliftHigh = evaluation?.UpliftCiHigh, UpliftUpper = verdict?.Upper, P = evaluation?.P, Test = evaluation?.Test,
            },
            Mitigations = mitigations.Select(m => new CsafMitigation(m.Id, names.GetValueOrDefault(m.PartyOrganisationId, m.PartyOrganisationId), m.Status, m.ReportedAt, m.VerifiedAt)).ToList(),
            Revisions = revisions.Select(r => new CsafRevision(r.Number, r.At, r.Summary)).ToList(),
        };
    }
}
