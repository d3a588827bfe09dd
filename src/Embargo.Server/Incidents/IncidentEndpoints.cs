using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Protocol;
using Embargo.Protocol.Disclosures;
using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Incidents;

/// <summary>
/// Incidents against released versions: an affected party or an evaluator of the version's cases reports one (capability,
/// a one-line public summary, the detail sealed client-side to every key holder of the regulators of the version's cases,
/// as disclosures are); a regulator of those cases triages it. An accepted incident flags every issued certificate of the
/// version, so the server's gateway stops serving it. Every step is a ledger leaf; the detail never reaches the ledger,
/// only the sha256 of its sealed envelopes.
/// </summary>
public static class IncidentEndpoints
{
    public static RouteGroupBuilder MapIncidents(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Incidents").RequireAuthorization();
        group.MapPost("/incidents", Report);
        group.MapGet("/incidents", List).AllowAnonymous();
        group.MapGet("/incidents/{id}", Get).AllowAnonymous();
        group.MapPost("/incidents/{id}/triage", Triage);
        group.MapGet("/model-versions/{id}/incident-recipients", Recipients);
        return group;
    }

    private static Caller? OptionalCaller(HttpContext http) => http.User.Identity?.IsAuthenticated == true ? Caller.From(http.User) : null;

    /// <summary>The regulator organisations of the version's cases, and their principals (in the regulator role) holding an X25519 key.</summary>
    private static async Task<(List<string> Regulators, List<PrincipalEntity> Holders)> RecipientsOfAsync(EmbargoDb db, string versionId, CancellationToken ct)
    {
        var regulators = await db.Cases.AsNoTracking().Where(c => c.ModelVersionId == versionId).Select(c => c.RegulatorOrganisationId).Distinct().ToListAsync(ct);
        regulators.Sort(StringComparer.Ordinal);
        var role = Role.Regulator.Name();
        var holders = (await db.Principals.AsNoTracking().Where(p => regulators.Contains(p.OrganisationId) && p.Role == role && p.EncryptionKey != null).ToListAsync(ct))
            .OrderBy(p => p.OrganisationId, StringComparer.Ordinal).ThenBy(p => p.CreatedAt).ThenBy(p => p.Id, StringComparer.Ordinal).ToList();
        return (regulators, holders);
    }

    private static async Task<Results<Created<IncidentDto>, ProblemHttpResult>> Report(ReportIncidentRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.Created(await writer.ExecuteAsync<IncidentDto>(caller, async (uow, token) =>
        {
            if (await CaseSubjects.ForVersionAsync(uow.Db, request.ModelVersionId, token) is not { } found)
            {
                return ProtocolError.NotFound($"model version {request.ModelVersionId}");
            }
            if (Access.Decide(ProtocolAction.ReportIncident, caller.Actor, found.Subject) is { } refused)
            {
                return refused;
            }
            var released = await uow.Db.Releases.AsNoTracking().AnyAsync(r => r.ModelVersionId == request.ModelVersionId, token);
            if (IncidentRules.Reportable(request.ModelVersionId, released) is { } unreleased)
            {
                return unreleased;
            }
            var capability = IncidentRules.Capability(request.Capability);
            if (!capability.IsOk)
            {
                return capability.Error!;
            }
            var summary = IncidentRules.Summary(request.Summary);
            if (!summary.IsOk)
            {
                return summary.Error!;
            }
            // Rule 8, as for disclosures: one well-formed envelope for each key holder of each regulator of the version's cases.
            var (regulators, holders) = await RecipientsOfAsync(uow.Db, request.ModelVersionId, token);
            var offered = request.Sealed.Select(e => e is null ? null : new OfferedEnvelope(e.OrganisationId, e.PrincipalId, e.Ciphertext)).ToList();
            if (DisclosureCoverage.Check(offered, regulators, holders.Select(h => new RecipientKey(h.OrganisationId, h.Id)).ToList()) is { } uncovered)
            {
                return uncovered;
            }
            var envelopes = request.Sealed.Select(e => new SealedDetailDto { OrganisationId = e.OrganisationId, PrincipalId = e.PrincipalId, Ciphertext = e.Ciphertext })
                .OrderBy(e => e.OrganisationId, StringComparer.Ordinal).ThenBy(e => e.PrincipalId, StringComparer.Ordinal).ToList();
            var sealedBytes = CanonicalJson.Serialize(envelopes);
            var incident = new IncidentEntity
            {
                Id = Ids.New("inc"), ModelVersionId = request.ModelVersionId, Capability = capability.Value, Summary = summary.Value, Status = IncidentStatus.Reported,
                ReportedBy = caller.PrincipalId, ReporterOrganisationId = caller.OrganisationId, SealedJson = Encoding.UTF8.GetString(sealedBytes),
                SealedSha256 = Sha256Digest.Of(sealedBytes).ToString(), CreatedAt = uow.Now,
            };
            // The detail is committed to by the sha256 of its sealed envelopes only; it is never on the ledger in clear.
            incident.LedgerIndex = uow.Append("incident.reported", new JsonObject
            {
                ["incident"] = incident.Id, ["modelVersion"] = incident.ModelVersionId, ["capability"] = incident.Capability, ["summary"] = incident.Summary,
                ["reporter"] = incident.ReporterOrganisationId, ["sealedSha256"] = incident.SealedSha256,
                ["recipients"] = new JsonArray(regulators.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray()),
            });
            uow.Db.Incidents.Add(incident);
            return ToDto(incident, caller, []);
        }, ct), i => $"/api/incidents/{i.Id}");
    }

    private static async Task<Results<Ok<IncidentDto>, ProblemHttpResult>> Triage(string id, TriageIncidentRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<IncidentDto>(caller, async (uow, token) =>
        {
            var incident = await uow.Db.Incidents.FirstOrDefaultAsync(i => i.Id == id, token);
            if (incident is null || await CaseSubjects.ForVersionAsync(uow.Db, incident.ModelVersionId, token) is not { } found)
            {
                return ProtocolError.NotFound($"incident {id}");
            }
            if (Access.Decide(ProtocolAction.TriageIncident, caller.Actor, found.Subject) is { } refused)
            {
                return refused;
            }
            var reason = ViolationRules.Text(request.Reason, "reason");
            if (!reason.IsOk)
            {
                return reason.Error!;
            }
            var next = IncidentRules.Triage(incident.Status, request.Decision);
            if (!next.IsOk)
            {
                return next.Error!;
            }
            incident.Status = next.Value;
            incident.TriagedBy = caller.PrincipalId;
            incident.TriageReason = reason.Value;
            incident.TriagedAt = uow.Now;
            var flagged = new List<CertificateEntity>();
            if (next.Value == IncidentStatus.Accepted)
            {
                incident.TriageLedgerIndex = uow.Append("incident.accepted", new JsonObject
                {
                    ["incident"] = id, ["modelVersion"] = incident.ModelVersionId, ["capability"] = incident.Capability, ["reason"] = reason.Value,
                    ["regulator"] = caller.OrganisationId,
                });
                flagged = await IncidentFlags.FlagIssuedAsync(uow, incident.ModelVersionId, IncidentRules.FlagReason(id, incident.Capability),
                    new JsonObject { ["incident"] = id }, token);
                // Recovery: the released cases go back to testing (rule 5's re-evaluation), to be re-argued and re-certified.
                await Cases.ReevaluationEndpoints.ReopenForIncidentAsync(uow, incident.ModelVersionId, id, incident.Capability, flagged, token);
            }
            else
            {
                incident.TriageLedgerIndex = uow.Append("incident.rejected", new JsonObject
                {
                    ["incident"] = id, ["modelVersion"] = incident.ModelVersionId, ["reason"] = reason.Value, ["regulator"] = caller.OrganisationId,
                });
            }
            return ToDto(incident, caller, flagged.Select(c => c.Id).ToList());
        }, ct));
    }

    private static async Task<Results<Ok<List<IncidentDto>>, ProblemHttpResult>> List(HttpContext http, EmbargoDb db, string? version, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        var query = db.Incidents.AsNoTracking();
        if (version is not null)
        {
            query = query.Where(i => i.ModelVersionId == version);
        }
        var incidents = await query.OrderBy(i => i.LedgerIndex).ToListAsync(ct);
        var caller = OptionalCaller(http);
        var flags = await FlaggedByAsync(db, incidents, ct);
        return TypedResults.Ok(Paging.Slice(http, incidents, page).Select(i => ToDto(i, caller, flags[i.Id].ToList())).ToList());
    }

    private static async Task<Results<Ok<IncidentDto>, ProblemHttpResult>> Get(string id, HttpContext http, EmbargoDb db, CancellationToken ct)
    {
        var incident = await db.Incidents.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, ct);
        if (incident is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"incident {id}"));
        }
        var flags = await FlaggedByAsync(db, [incident], ct);
        return TypedResults.Ok(ToDto(incident, OptionalCaller(http), flags[id].ToList()));
    }

    /// <summary>Who an incident's detail is sealed to: every key holder of the regulators of the version's cases (public keys only).</summary>
    private static async Task<Results<Ok<List<DisclosureRecipientKeyDto>>, ProblemHttpResult>> Recipients(string id, EmbargoDb db, CancellationToken ct)
    {
        if (!await db.ModelVersions.AsNoTracking().AnyAsync(v => v.Id == id, ct))
        {
            return ApiResults.Problem(ProtocolError.NotFound($"model version {id}"));
        }
        var released = await db.Releases.AsNoTracking().AnyAsync(r => r.ModelVersionId == id, ct);
        if (IncidentRules.Reportable(id, released) is { } unreleased)
        {
            return ApiResults.Problem(unreleased);
        }
        var (regulators, holders) = await RecipientsOfAsync(db, id, ct);
        return TypedResults.Ok(Disclosures.DisclosureEndpoints.KeysOf(regulators, holders));
    }

    /// <summary>The certificates each accepted incident flagged, read back from its ledger leaves' certificate rows.</summary>
    private static async Task<ILookup<string, string>> FlaggedByAsync(EmbargoDb db, IReadOnlyList<IncidentEntity> incidents, CancellationToken ct)
    {
        var accepted = incidents.Where(i => i.Status == IncidentStatus.Accepted).ToList();
        if (accepted.Count == 0)
        {
            return Array.Empty<(string, string)>().ToLookup(x => x.Item1, x => x.Item2);
        }
        var versions = accepted.Select(i => i.ModelVersionId).Distinct().ToList();
        var certificates = await db.Certificates.AsNoTracking().Where(c => versions.Contains(c.ModelVersionId) && c.FlagReason != null).Select(c => new { c.Id, c.FlagReason }).ToListAsync(ct);
        return accepted.SelectMany(i => certificates.Where(c => c.FlagReason == IncidentRules.FlagReason(i.Id, i.Capability)).Select(c => (i.Id, c.Id)))
            .ToLookup(x => x.Item1, x => x.Item2);
    }

    private static IncidentDto ToDto(IncidentEntity i, Caller? viewer, IReadOnlyList<string> flagged)
    {
        SealedDetailDto? mine = null;
        if (viewer is not null)
        {
            var envelopes = JsonSerializer.Deserialize<List<SealedDetailDto>>(i.SealedJson, CanonicalJson.Options) ?? [];
            mine = envelopes.FirstOrDefault(e => e.PrincipalId == viewer.PrincipalId && e.OrganisationId == viewer.OrganisationId);
        }
        return new IncidentDto
        {
            Id = i.Id, ModelVersionId = i.ModelVersionId, Capability = i.Capability, Summary = i.Summary, Status = i.Status,
            ReporterOrganisationId = i.ReporterOrganisationId, ReportedAt = i.CreatedAt, LedgerIndex = i.LedgerIndex, SealedSha256 = i.SealedSha256,
            TriageReason = i.TriageReason, TriagedAt = i.TriagedAt, TriageLedgerIndex = i.TriageLedgerIndex, FlaggedCertificates = flagged, Sealed = mine,
        };
    }
}

/// <summary>
/// Flags every issued certificate of a version, as rule 5 does (status flagged, a reason, one
/// <c>certificate.flagged-for-reevaluation</c> leaf each, which `embargo verify`'s revocation scan already follows), so the
/// server's gateway stops serving the version on its next request.
/// </summary>
public static class IncidentFlags
{
    public static async Task<List<CertificateEntity>> FlagIssuedAsync(UnitOfWork uow, string versionId, string reason, JsonObject cause, CancellationToken ct) =>
        await FlagAsync(uow, versionId, _ => true, reason, cause, ct);

    /// <summary>Flags the issued certificates of <paramref name="versionId"/> that <paramref name="which"/> selects.</summary>
    public static async Task<List<CertificateEntity>> FlagAsync(UnitOfWork uow, string versionId, Func<CertificateEntity, bool> which, string reason, JsonObject cause, CancellationToken ct)
    {
        var flagged = (await uow.Db.Certificates.Where(c => c.ModelVersionId == versionId && c.Status == CertificateStatus.Issued).OrderBy(c => c.IssuedIndex).ToListAsync(ct))
            .Where(which).ToList();
        foreach (var certificate in flagged)
        {
            certificate.Status = CertificateStatus.Flagged;
            certificate.FlagReason = reason;
            var data = new JsonObject { ["certificate"] = certificate.Id, ["case"] = certificate.CaseId, ["reason"] = reason };
            foreach (var (key, value) in cause)
            {
                data[key] = value?.DeepClone();
            }
            uow.Append("certificate.flagged-for-reevaluation", data);
        }
        return flagged;
    }
}
