using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Protocol.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Disclosures;

public static class DisclosureEndpoints
{
    public static RouteGroupBuilder MapDisclosures(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Disclosures").RequireAuthorization();
        group.MapPost("/findings/{findingId}/disclosures", Disclose);
        group.MapPost("/disclosures/{id}/acknowledge", Acknowledge);
        group.MapGet("/disclosures/{id}/sealed", SealedForCaller);
        group.MapGet("/findings/{findingId}/recipients", RecipientKeys);
        app.MapGet("/api/public/advisories", Advisories).WithTags("Disclosures").AllowAnonymous();
        return group;
    }

    /// <summary>
    /// Rule 2 and rule 8: a finding is disclosed to the regulator and every affected party of its threat model at
    /// once; the public advisory carries no reproduction detail, and private detail arrives only sealed.
    /// A novel finding creates one mitigation per affected party, awaiting the regulator's deadline.
    /// </summary>
    private static async Task<Results<Ok<DisclosureDto>, ProblemHttpResult>> Disclose(string findingId, DiscloseRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var caseId = await http.RequestServices.GetRequiredService<EmbargoDb>().Findings.Where(f => f.Id == findingId).Select(f => f.CaseId).FirstOrDefaultAsync(ct);
        if (caseId is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"finding {findingId}"));
        }
        return ApiResults.From(await CaseEndpoints.OnCase<DisclosureDto>(writer, caller, caseId, async (uow, snap, token) =>
        {
            if (snap.Decide(ProtocolAction.Disclose, caller) is { } denied)
            {
                return denied;
            }
            if (snap.State != CaseState.Disclosure)
            {
                return ProtocolError.Violation("case-phase", $"findings are disclosed in the disclosure phase; the case is in {snap.Case.State}");
            }
            var finding = snap.Findings.First(f => f.Id == findingId);
            if (snap.Disclosures.Any(d => d.FindingId == findingId))
            {
                return ProtocolError.Validation($"finding {findingId} is already disclosed");
            }
            if (string.IsNullOrWhiteSpace(request.AdvisoryTitle) || string.IsNullOrWhiteSpace(request.AdvisorySummary) || request.AdvisorySummary.Length > 4000)
            {
                return ProtocolError.Validation("a disclosure needs an advisory title and a summary of at most 4000 characters");
            }
            var recipients = snap.RequiredRecipients(finding);
            foreach (var sealedDetail in request.Sealed)
            {
                if (!recipients.Contains(sealedDetail.OrganisationId))
                {
                    return ProtocolError.Validation($"organisation {sealedDetail.OrganisationId} is not a recipient of this finding");
                }
                if (!ApiResults.IsBase64(sealedDetail.Ciphertext))
                {
                    return ProtocolError.Validation($"the sealed detail for {sealedDetail.OrganisationId} is not base64 ciphertext");
                }
            }
            var disclosure = new DisclosureEntity { Id = Ids.New("dsc"), FindingId = findingId, AdvisoryTitle = request.AdvisoryTitle, AdvisorySummary = request.AdvisorySummary, CreatedAt = uow.Now };
            uow.Db.Disclosures.Add(disclosure);
            var recipientEntities = recipients.Select(org => new DisclosureRecipientEntity
            {
                Id = Ids.New("rcp"), DisclosureId = disclosure.Id, OrganisationId = org,
                SealedDetail = request.Sealed.FirstOrDefault(s => s.OrganisationId == org)?.Ciphertext,
            }).ToList();
            uow.Db.DisclosureRecipients.AddRange(recipientEntities);
            var mitigations = new List<MitigationEntity>();
            if (finding.Novel)
            {
                var threat = snap.ThreatModels.First(t => t.Id == finding.ThreatModelId);
                mitigations.AddRange(CaseSnapshot.AffectedParties(threat).Select(party => new MitigationEntity
                {
                    Id = Ids.New("mit"), FindingId = findingId, PartyOrganisationId = party, Status = MitigationStatus.Required, CreatedAt = uow.Now,
                }));
                uow.Db.Mitigations.AddRange(mitigations);
            }
            uow.Append("finding.disclosed", new JsonObject
            {
                ["case"] = snap.Case.Id, ["finding"] = findingId, ["disclosure"] = disclosure.Id, ["capability"] = finding.Capability,
                ["advisoryTitle"] = request.AdvisoryTitle, ["advisorySummary"] = request.AdvisorySummary,
                ["recipients"] = new JsonArray(recipients.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray()),
                ["mitigations"] = new JsonArray(mitigations.Select(m => (JsonNode?)new JsonObject { ["mitigation"] = m.Id, ["party"] = m.PartyOrganisationId }).ToArray()),
            });
            return ToDto(disclosure, recipientEntities, mitigations);
        }, ct));
    }


    private static DisclosureDto ToDto(DisclosureEntity d, IEnumerable<DisclosureRecipientEntity> recipients, IEnumerable<MitigationEntity> mitigations) => new()
    {
        Id = d.Id, FindingId = d.FindingId, AdvisoryTitle = d.AdvisoryTitle, AdvisorySummary = d.AdvisorySummary,
        Recipients = recipients.Select(r => new RecipientDto { OrganisationId = r.OrganisationId, Acknowledged = r.AcknowledgedAt is not null }).ToList(),
        Mitigations = mitigations.Select(CaseSnapshot.ToDto).ToList(),
    };

    private static async Task<Results<Ok<RecipientDto>, ProblemHttpResult>> Acknowledge(string id, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var db = http.RequestServices.GetRequiredService<EmbargoDb>();
        var findingId = await db.Disclosures.Where(d => d.Id == id).Select(d => d.FindingId).FirstOrDefaultAsync(ct);
        var caseId = findingId is null ? null : await db.Findings.Where(f => f.Id == findingId).Select(f => f.CaseId).FirstOrDefaultAsync(ct);
        if (findingId is null || caseId is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"disclosure {id}"));
        }
        return ApiResults.From(await CaseEndpoints.OnCase<RecipientDto>(writer, caller, caseId, async (uow, snap, token) =>
        {
            // The regulator and the affected parties of the finding's threat model acknowledge.
            var threat = snap.ThreatModels.First(t => t.Id == snap.Findings.First(f => f.Id == findingId).ThreatModelId);
            if (snap.Decide(ProtocolAction.Acknowledge, caller, CaseSnapshot.AffectedParties(threat)) is { } denied)
            {
                return denied;
            }
            var recipient = await uow.Db.DisclosureRecipients.FirstOrDefaultAsync(r => r.DisclosureId == id && r.OrganisationId == caller.OrganisationId, token);
            if (recipient is null)
            {
                return ProtocolError.NotFound($"disclosure {id} addressed to organisation {caller.OrganisationId}");
            }
            if (recipient.AcknowledgedAt is null)
            {
                recipient.AcknowledgedAt = uow.Now;
                uow.Append("disclosure.acknowledged", new JsonObject { ["disclosure"] = id, ["organisation"] = caller.OrganisationId });
            }
            return new RecipientDto { OrganisationId = recipient.OrganisationId, Acknowledged = true };
        }, ct));
    }

    /// <summary>
    /// Who must receive a finding's disclosure (the case's regulator and every affected party of its threat model),
    /// each with the key its private detail is sealed to: the first principal of that organisation, in its
    /// recipient role, that registered an X25519 key.
    /// </summary>
    private static async Task<Results<Ok<List<DisclosureRecipientKeyDto>>, ProblemHttpResult>> RecipientKeys(string findingId, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        var caseId = await db.Findings.Where(f => f.Id == findingId).Select(f => f.CaseId).FirstOrDefaultAsync(ct);
        var snap = caseId is null ? null : await CaseSnapshot.LoadAsync(db, caseId, ct);
        if (snap is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"finding {findingId}"));
        }
        if (snap.Decide(ProtocolAction.ReadRecipientKeys, Caller.From(http.User)) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        var result = new List<DisclosureRecipientKeyDto>();
        foreach (var org in snap.RequiredRecipients(snap.Findings.First(f => f.Id == findingId)))
        {
            var role = org == snap.Case.RegulatorOrganisationId ? Role.Regulator.Name() : Role.AffectedParty.Name();
            var principal = (await db.Principals.AsNoTracking().Where(p => p.OrganisationId == org && p.Role == role && p.EncryptionKey != null).ToListAsync(ct))
                .OrderBy(p => p.CreatedAt).ThenBy(p => p.Id, StringComparer.Ordinal).FirstOrDefault();
            result.Add(new DisclosureRecipientKeyDto
            {
                OrganisationId = org, PrincipalId = principal?.Id, PublicKey = principal?.EncryptionKey,
                KeyId = principal?.EncryptionKey is { } key ? Embargo.Weights.KeyFiles.KeyId(Convert.FromBase64String(key)) : null,
            });
        }
        return TypedResults.Ok(result);
    }

    /// <summary>A recipient fetches the ciphertext sealed to it (only its own organisation's).</summary>
    private static async Task<Results<Ok<SealedDetailDto>, ProblemHttpResult>> SealedForCaller(string id, HttpContext http, EmbargoDb db, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var recipient = await db.DisclosureRecipients.AsNoTracking().FirstOrDefaultAsync(r => r.DisclosureId == id && r.OrganisationId == caller.OrganisationId, ct);
        if (recipient?.SealedDetail is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"sealed detail of disclosure {id} for organisation {caller.OrganisationId}"));
        }
        var findingId = await db.Disclosures.AsNoTracking().Where(d => d.Id == id).Select(d => d.FindingId).FirstAsync(ct);
        return TypedResults.Ok(new SealedDetailDto { OrganisationId = recipient.OrganisationId, Ciphertext = recipient.SealedDetail, FindingId = findingId });
    }

    /// <summary>The public view: advisories only, never sealed detail.</summary>
    private static async Task<Ok<List<DisclosureDto>>> Advisories(EmbargoDb db, CancellationToken ct)
    {
        var disclosures = (await db.Disclosures.AsNoTracking().ToListAsync(ct)).OrderBy(d => d.CreatedAt).ThenBy(d => d.Id, StringComparer.Ordinal).ToList();
        return TypedResults.Ok(disclosures.Select(d => ToDto(d, [], [])).ToList());
    }
}
