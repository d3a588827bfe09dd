using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Protocol.Disclosures;
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
        group.MapGet("/disclosures", DisclosureInbox.List);
        group.MapGet("/findings/{findingId}/recipients", RecipientKeys);
        app.MapGet("/api/public/advisories", Advisories).WithTags("Disclosures").AllowAnonymous();
        app.MapGet("/api/public/advisories/{id}/csaf", AdvisoryCsaf.Get).WithTags("Disclosures").AllowAnonymous();
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
            // Rules 2 and 8 per recipient: one well-formed envelope for each key holder of each recipient organisation.
            var keys = (await KeyHoldersAsync(uow.Db, snap, finding, token)).Select(k => new RecipientKey(k.OrganisationId, k.Id)).ToList();
            var offered = (request.Sealed ?? []).Select(e => e is null ? null : new OfferedEnvelope(e.OrganisationId, e.PrincipalId, e.Ciphertext)).ToList();
            if (DisclosureCoverage.Check(offered, recipients, keys) is { } uncovered)
            {
                return uncovered;
            }
            var disclosure = new DisclosureEntity { Id = Ids.New("dsc"), FindingId = findingId, AdvisoryTitle = request.AdvisoryTitle, AdvisorySummary = request.AdvisorySummary, CreatedAt = uow.Now };
            uow.Db.Disclosures.Add(disclosure);
            var recipientEntities = request.Sealed!.Select(e => new DisclosureRecipientEntity
            {
                Id = Ids.New("rcp"), DisclosureId = disclosure.Id, OrganisationId = e.OrganisationId, PrincipalId = e.PrincipalId, SealedDetail = e.Ciphertext,
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
                ["envelopes"] = new JsonArray(recipientEntities.Select(r => (JsonNode?)new JsonObject { ["organisation"] = r.OrganisationId, ["principal"] = r.PrincipalId }).ToArray()),
                ["mitigations"] = new JsonArray(mitigations.Select(m => (JsonNode?)new JsonObject { ["mitigation"] = m.Id, ["party"] = m.PartyOrganisationId }).ToArray()),
            });
            return ToDto(disclosure, recipientEntities, mitigations);
        }, ct));
    }


    private static DisclosureDto ToDto(DisclosureEntity d, IEnumerable<DisclosureRecipientEntity> recipients, IEnumerable<MitigationEntity> mitigations) => new()
    {
        Id = d.Id, FindingId = d.FindingId, AdvisoryTitle = d.AdvisoryTitle, AdvisorySummary = d.AdvisorySummary,
        Recipients = recipients.GroupBy(r => r.OrganisationId, StringComparer.Ordinal)
            .Select(g => new RecipientDto { OrganisationId = g.Key, Acknowledged = g.Any(r => r.AcknowledgedAt is not null) }).ToList(),
        Mitigations = mitigations.Select(CaseSnapshot.ToDto).ToList(),
    };

    internal static async Task<Results<Ok<RecipientDto>, ProblemHttpResult>> Acknowledge(string id, HttpContext http, LedgerWriter writer, CancellationToken ct)
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
            // The organisation acknowledges once, for all of its key holders' envelopes.
            var rows = await uow.Db.DisclosureRecipients.Where(r => r.DisclosureId == id && r.OrganisationId == caller.OrganisationId).ToListAsync(token);
            if (rows.Count == 0)
            {
                return ProtocolError.NotFound($"disclosure {id} addressed to organisation {caller.OrganisationId}");
            }
            if (rows.All(r => r.AcknowledgedAt is null))
            {
                rows.ForEach(r => r.AcknowledgedAt = uow.Now);
                uow.Append("disclosure.acknowledged", new JsonObject { ["disclosure"] = id, ["organisation"] = caller.OrganisationId });
            }
            return new RecipientDto { OrganisationId = caller.OrganisationId, Acknowledged = true };
        }, ct));
    }

    /// <summary>
    /// The principals of a finding's recipient organisations, in their recipient role (regulator for the case's
    /// regulator, affected party for the others), that registered an X25519 key: each gets its own envelope.
    /// </summary>
    private static async Task<List<PrincipalEntity>> KeyHoldersAsync(EmbargoDb db, CaseSnapshot snap, FindingEntity finding, CancellationToken ct)
    {
        var result = new List<PrincipalEntity>();
        foreach (var org in snap.RequiredRecipients(finding))
        {
            var role = org == snap.Case.RegulatorOrganisationId ? Role.Regulator.Name() : Role.AffectedParty.Name();
            result.AddRange((await db.Principals.AsNoTracking().Where(p => p.OrganisationId == org && p.Role == role && p.EncryptionKey != null).ToListAsync(ct))
                .OrderBy(p => p.CreatedAt).ThenBy(p => p.Id, StringComparer.Ordinal));
        }
        return result;
    }

    /// <summary>
    /// Who must receive a finding's disclosure (the case's regulator and every affected party of its threat model),
    /// one entry per key holder of each (a sealed envelope each), or one entry without a key for an organisation
    /// that has none registered.
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
        var finding = snap.Findings.First(f => f.Id == findingId);
        return TypedResults.Ok(KeysOf(snap.RequiredRecipients(finding), await KeyHoldersAsync(db, snap, finding, ct)));
    }

    /// <summary>What a sealing client needs, per recipient organisation: each key holder's X25519 key (and its id), or the
    /// organisation alone when none of its principals holds one (so the client can say whom it cannot seal to).</summary>
    public static List<DisclosureRecipientKeyDto> KeysOf(IEnumerable<string> organisations, IReadOnlyList<PrincipalEntity> holders)
    {
        var result = new List<DisclosureRecipientKeyDto>();
        foreach (var org in organisations)
        {
            var mine = holders.Where(p => p.OrganisationId == org).ToList();
            result.AddRange(mine.Count == 0
                ? [new DisclosureRecipientKeyDto { OrganisationId = org }]
                : mine.Select(p => new DisclosureRecipientKeyDto
                {
                    OrganisationId = org, PrincipalId = p.Id, PublicKey = p.EncryptionKey, KeyId = Embargo.Weights.KeyFiles.KeyId(Convert.FromBase64String(p.EncryptionKey!)),
                }));
        }
        return result;
    }

    /// <summary>A recipient principal fetches the ciphertext sealed to its own key (no one else's).</summary>
    private static async Task<Results<Ok<SealedDetailDto>, ProblemHttpResult>> SealedForCaller(string id, HttpContext http, EmbargoDb db, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var recipient = await db.DisclosureRecipients.AsNoTracking().FirstOrDefaultAsync(
            r => r.DisclosureId == id && r.OrganisationId == caller.OrganisationId && r.PrincipalId == caller.PrincipalId, ct);
        if (recipient?.SealedDetail is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"sealed detail of disclosure {id} for principal {caller.PrincipalId}"));
        }
        var findingId = await db.Disclosures.AsNoTracking().Where(d => d.Id == id).Select(d => d.FindingId).FirstAsync(ct);
        return TypedResults.Ok(new SealedDetailDto
        {
            OrganisationId = recipient.OrganisationId, PrincipalId = recipient.PrincipalId, Ciphertext = recipient.SealedDetail, FindingId = findingId,
        });
    }

    /// <summary>The public view: advisories only, never sealed detail.</summary>
    private static async Task<Results<Ok<List<DisclosureDto>>, ProblemHttpResult>> Advisories(EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        // Oldest first (SQLite cannot order by DateTimeOffset: the keys are sorted here, then only the page is read).
        var keys = (await db.Disclosures.AsNoTracking().Select(d => new { d.Id, d.CreatedAt }).ToListAsync(ct))
            .OrderBy(d => d.CreatedAt).ThenBy(d => d.Id, StringComparer.Ordinal).Select(d => d.Id).ToList();
        var ids = Paging.Slice(http, keys, page);
        var rows = await db.Disclosures.AsNoTracking().Where(d => ids.Contains(d.Id)).ToListAsync(ct);
        var disclosures = ids.Select(id => rows.First(d => d.Id == id)).ToList();
        return TypedResults.Ok(disclosures.Select(d => ToDto(d, [], [])).ToList());
    }
}
