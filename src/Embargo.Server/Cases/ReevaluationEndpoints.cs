using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

/// <summary>
/// Rule 5, closed: a case overtaken by a stronger reference model re-enters testing on the same case with it;
/// evidence made with the old one no longer counts, and mitigations verified with it must be verified again.
/// </summary>
public static class ReevaluationEndpoints
{
    public static RouteGroupBuilder MapReevaluation(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/cases").WithTags("Cases").RequireAuthorization();
        group.MapPost("/{id}/reference", Reevaluate);
        return group;
    }

    /// <summary>The strongest registered reference model (ties: the first registered).</summary>
    public static async Task<ReferenceModelEntity?> StrongestAsync(EmbargoDb db, CancellationToken ct) =>
        (await db.ReferenceModels.AsNoTracking().ToListAsync(ct))
            .OrderByDescending(r => r.Strength).ThenBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault();

    /// <summary>How a reference model compares with the strongest registered.</summary>
    public static async Task<ReferenceFacts> FactsAsync(EmbargoDb db, ReferenceModelEntity reference, CancellationToken ct) =>
        await StrongestAsync(db, ct) is { } s && s.Strength > reference.Strength
            ? new ReferenceFacts(reference.Name, reference.Strength, s.Name, s.Strength)
            : new ReferenceFacts(reference.Name, reference.Strength, reference.Name, reference.Strength);

    /// <summary>
    /// After an accepted incident: every released case of the version re-enters testing on the same case (rule 5's flow, same
    /// reference model, verified mitigations kept), with the reason naming the incident; one <c>case.reevaluation-started</c>
    /// leaf each (<c>rule: "incident"</c>, the incident and the certificates it flagged). Answers the cases re-opened.
    /// </summary>
    public static async Task<List<CaseEntity>> ReopenForIncidentAsync(UnitOfWork uow, string versionId, string incidentId, string capability,
        IReadOnlyList<CertificateEntity> flagged, CancellationToken ct)
    {
        var cases = (await uow.Db.Cases.Where(c => c.ModelVersionId == versionId).ToListAsync(ct))
            .OrderBy(c => c.CreatedAt).ThenBy(c => c.Id, StringComparer.Ordinal).ToList();
        var reopened = new List<CaseEntity>();
        foreach (var c in cases)
        {
            if (!CaseStates.Parse(c.State).IsOk || IncidentRules.ReopenedBy(CaseStates.Parse(c.State).Value) is not { } to)
            {
                continue;
            }
            var from = c.State;
            c.State = to.Name();
            c.ReevaluationFlag = false;
            c.ReevaluationReason = IncidentRules.ReopenReason(incidentId, capability);
            // The incident shows the mitigations of its capability did not hold: verified before it, they are verified again
            // (as rule 5 reopens those verified with a weaker reference model); the safety case counts only runs recorded since.
            var findings = await uow.Db.Findings.Where(f => f.CaseId == c.Id && f.Capability == capability).Select(f => f.Id).ToListAsync(ct);
            var mitigations = (await uow.Db.Mitigations.Where(m => findings.Contains(m.FindingId) && m.Status == MitigationStatus.Verified).ToListAsync(ct))
                .OrderBy(m => m.Id, StringComparer.Ordinal).ToList();
            foreach (var m in mitigations)
            {
                m.Status = MitigationStatus.Reported;
                m.VerifiedAt = null;
                m.VerificationEvaluationId = null;
            }
            var index = uow.Append("case.reevaluation-started", new JsonObject
            {
                ["case"] = c.Id, ["referenceModel"] = c.ReferenceModelId, ["previousReferenceModel"] = c.ReferenceModelId,
                ["from"] = from, ["to"] = to.Name(), ["rule"] = "incident", ["incident"] = incidentId, ["reason"] = c.ReevaluationReason,
                ["mitigationsReopened"] = new JsonArray(mitigations.Select(m => (JsonNode?)JsonValue.Create(m.Id)).ToArray()),
                ["certificatesFlagged"] = new JsonArray(flagged.Where(f => f.CaseId == c.Id).Select(f => (JsonNode?)JsonValue.Create(f.Id)).ToArray()),
            });
            foreach (var m in mitigations)
            {
                // A later verification run must follow this point, like one that follows a report.
                m.ReportedIndex = index;
            }
            reopened.Add(c);
        }
        return reopened;
    }

    private static async Task<Results<Ok<CaseDto>, ProblemHttpResult>> Reevaluate(string id, ReevaluateCaseRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await CaseEndpoints.OnCase<string>(writer, caller, id, async Task<Result<string>> (uow, snap, token) =>
        {
            if (snap.Decide(ProtocolAction.ReevaluateCase, caller) is { } refused)
            {
                return refused;
            }
            if (string.IsNullOrWhiteSpace(request.ReferenceModelId))
            {
                return ProtocolError.Validation("referenceModelId is required");
            }
            var target = await uow.Db.ReferenceModels.FirstOrDefaultAsync(r => r.Id == request.ReferenceModelId, token);
            if (target is null)
            {
                return ProtocolError.NotFound($"reference model {request.ReferenceModelId}");
            }
            var from = snap.State;
            var decided = ReferenceModels.Reevaluate(from, snap.ReferenceFacts(), target.Name, target.Strength);
            if (!decided.IsOk)
            {
                return decided.Error!;
            }
            var previous = snap.Case.ReferenceModelId;
            snap.Case.ReferenceModelId = target.Id;
            snap.Case.State = decided.Value.Name();
            snap.Case.ReevaluationFlag = false;
            snap.Case.ReevaluationReason = null;
            // Verified with the old reference model: not evidence about the stronger one.
            var reopened = snap.Mitigations
                .Where(m => m.Status == MitigationStatus.Verified && snap.Evaluations.FirstOrDefault(e => e.Id == m.VerificationEvaluationId)?.ReferenceModelId != target.Id)
                .ToList();
            foreach (var m in reopened)
            {
                m.Status = MitigationStatus.Reported;
                m.VerifiedAt = null;
                m.VerificationEvaluationId = null;
            }
            // A draft approved under the old reference model can no longer be signed.
            var pending = await uow.Db.Certificates.Where(c => c.CaseId == id && c.Status == CertificateStatus.Pending).ToListAsync(token);
            foreach (var certificate in pending)
            {
                certificate.Status = CertificateStatus.Flagged;
                certificate.FlagReason = $"the case moved to reference model {target.Name}";
            }
            var index = uow.Append("case.reevaluation-started", new JsonObject
            {
                ["case"] = id, ["referenceModel"] = target.Id, ["previousReferenceModel"] = previous, ["strength"] = target.Strength,
                ["from"] = from.Name(), ["to"] = decided.Value.Name(), ["rule"] = "rule-5",
                ["mitigationsReopened"] = new JsonArray(reopened.Select(m => (JsonNode?)JsonValue.Create(m.Id)).ToArray()),
                ["certificatesFlagged"] = new JsonArray(pending.Select(c => (JsonNode?)JsonValue.Create(c.Id)).ToArray()),
            });
            foreach (var m in reopened)
            {
                // A later verification run must follow this point, like one that follows a report.
                m.ReportedIndex = index;
            }
            return id;
        }, ct);
        if (!result.IsOk)
        {
            return ApiResults.Problem(result.Error!);
        }
        var db = http.RequestServices.GetRequiredService<EmbargoDb>();
        return TypedResults.Ok((await CaseSnapshot.LoadAsync(db, id, ct))!.ToDto());
    }
}
