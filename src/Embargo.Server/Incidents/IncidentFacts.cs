using Embargo.Protocol;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Incidents;

/// <summary>The incidents of a version as the safety case reads them (an accepted one challenges the claims on its capability).</summary>
public static class IncidentFacts
{
    public static async Task<IReadOnlyList<IncidentFact>> ForVersionAsync(EmbargoDb db, string versionId, CancellationToken ct) =>
        (await db.Incidents.AsNoTracking().Where(i => i.ModelVersionId == versionId).OrderBy(i => i.LedgerIndex).ToListAsync(ct))
            .Select(i => new IncidentFact { Id = i.Id, Capability = i.Capability, Status = i.Status, AcceptedIndex = i.Status == IncidentStatus.Accepted ? i.TriageLedgerIndex : null })
            .ToList();
}
