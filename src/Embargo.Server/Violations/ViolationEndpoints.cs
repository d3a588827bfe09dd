using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Models;
using Embargo.Server.Storage;
using Embargo.Weights;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Violations;

/// <summary>
/// Rule 4 with due process: a sighting carries evidence and stays pending (not public, nobody marked) until a
/// regulator of the version's cases confirms it; the developer may dispute a confirmed violation; the regulator
/// decides the dispute or lifts the mark. Every step is on the ledger; a pending or rejected sighting only as hashes.
/// </summary>
public static class ViolationEndpoints
{
    public static RouteGroupBuilder MapViolations(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Violations").RequireAuthorization();
        group.MapPost("/violations", Report);
        group.MapGet("/violations", List).AllowAnonymous();
        group.MapGet("/violations/{id}", Get).AllowAnonymous();
        group.MapPost("/violations/{id}/confirm", (string id, ViolationDecisionRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct) => Decide(id, request, confirm: true, http, writer, ct));
        group.MapPost("/violations/{id}/reject", (string id, ViolationDecisionRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct) => Decide(id, request, confirm: false, http, writer, ct));
        group.MapPost("/violations/{id}/dispute", Dispute);
        group.MapPost("/violations/{id}/dispute/decision", DecideDispute);
        group.MapPost("/bad-actors/{organisationId}/lift", LiftMark);
        return group;
    }

    private static Caller? OptionalCaller(HttpContext http) => http.User.Identity?.IsAuthenticated == true ? Caller.From(http.User) : null;

    /// <summary>The regulator organisations of the version's cases (empty: the version has no case).</summary>
    internal static async Task<List<string>> RegulatorsAsync(EmbargoDb db, string? modelVersionId, CancellationToken ct) =>
        await db.Cases.AsNoTracking().Where(c => c.ModelVersionId == modelVersionId).Select(c => c.RegulatorOrganisationId).Distinct().ToListAsync(ct);

    /// <summary>A sighting's parties for the access table: the developer it would mark, its reporter, the regulators of its version's cases.</summary>
    internal static Subject SubjectOf(ViolationEntity violation, IReadOnlyCollection<string> regulators) => new()
    {
        DeveloperOrganisation = violation.OrganisationId,
        RegulatorOrganisations = regulators,
        Reporters = [violation.ReportedBy],
        WithoutCase = regulators.Count == 0,
    };

    private static async Task<Subject> SubjectAsync(EmbargoDb db, ViolationEntity violation, CancellationToken ct) =>
        SubjectOf(violation, await RegulatorsAsync(db, violation.ModelVersionId, ct));

    private static IReadOnlyList<EvidenceFile> FilesOf(ModelVersionEntity v) =>
        ModelEndpoints.Files(v).Select(f => new EvidenceFile(f.Path, f.Bytes, f.Sha256.ToLowerInvariant())).ToList();

    /// <summary>The registered version the weights seen are: by manifest digest, else the best partial match by the files' sha256,
    /// else the best match by tensor fingerprints (the same values re-serialised, or similar values quantised).</summary>
    private static async Task<(ModelVersionEntity? Version, SightingMatch? Match, FingerprintMatch? Tensors)> FindVersionAsync(
        EmbargoDb db, string seenDigest, IReadOnlyList<EvidenceFile> seen, IReadOnlyList<TensorFingerprint> fingerprints, CancellationToken ct)
    {
        var (version, match) = await FindByFilesAsync(db, seenDigest, seen, ct);
        if (version is not null && match is not null)
        {
            // Identical files: the tensors in them are the same values; the fingerprints say how much of the version they cover.
            var covered = match.Kind != "manifest" && fingerprints.Count > 0 && version.FingerprintsJson is not null
                ? FingerprintMatcher.Match(FingerprintEvidence.FromJson(version.FingerprintsJson), fingerprints)
                : null;
            return (version, match, covered);
        }
        if (fingerprints.Count == 0)
        {
            return (null, null, null);
        }
        var registered = await db.ModelVersions.AsNoTracking().Where(v => v.FingerprintsJson != null).ToListAsync(ct);
        var best = registered
            .Select(v => (Version: v, Tensors: FingerprintMatcher.Match(FingerprintEvidence.FromJson(v.FingerprintsJson), fingerprints)))
            .Where(c => c.Tensors is not null)
            .OrderBy(c => c.Version.WithdrawnAt != null).ThenByDescending(c => c.Tensors!.TensorsMatched).ThenByDescending(c => c.Tensors!.Similarity)
            .ThenBy(c => c.Version.Id, StringComparer.Ordinal)
            .FirstOrDefault();
        return best.Tensors is null
            ? (null, null, null)
            : (best.Version, new SightingMatch(best.Tensors.Kind, 0, 0, FilesOf(best.Version).Sum(f => f.Bytes)), best.Tensors);
    }

    private static async Task<(ModelVersionEntity? Version, SightingMatch? Match)> FindByFilesAsync(EmbargoDb db, string seenDigest, IReadOnlyList<EvidenceFile> seen, CancellationToken ct)
    {
        var exact = await db.ModelVersions.AsNoTracking().Where(v => v.ManifestDigest == seenDigest).OrderBy(v => v.WithdrawnAt != null).FirstOrDefaultAsync(ct);
        if (exact is not null)
        {
            return (exact, ViolationRules.Match(seenDigest, seen, exact.ManifestDigest, FilesOf(exact)));
        }
        var hashes = seen.Where(f => f.Bytes > 0).Select(f => f.Sha256).Distinct(StringComparer.Ordinal).ToList();
        if (hashes.Count == 0)
        {
            return (null, null);
        }
        var candidates = await db.ModelVersions.AsNoTracking().Where(v => hashes.Any(h => v.FilesJson.Contains(h))).ToListAsync(ct);
        return candidates
            .Select(v => (Version: (ModelVersionEntity?)v, Match: ViolationRules.Match(seenDigest, seen, v.ManifestDigest, FilesOf(v))))
            .Where(c => c.Match is not null)
            .OrderByDescending(c => (double)c.Match!.MatchedBytes / c.Match.VersionBytes).ThenBy(c => c.Version!.Id, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    private static ViolationDto NotRecorded(string digest, string observed, string status, string verdict, string? certified = null) => new()
    {
        Id = "", ManifestDigest = digest, ObservedTier = observed, CertifiedTier = certified, Recorded = false, Status = status, Verdict = verdict,
    };

    /// <summary>Rule 4: a sighting with evidence that recomputes and matches a registered version becomes a pending sighting.</summary>
    private static async Task<Results<Ok<ViolationDto>, ProblemHttpResult>> Report(ReportViolationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<ViolationDto>(caller, async (uow, token) =>
        {
            if (Access.Decide(ProtocolAction.ReportViolation, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            var observed = Tiers.Parse(request.ObservedTier, "observedTier");
            if (!observed.IsOk)
            {
                return observed.Error!;
            }
            var source = ViolationRules.Text(request.Source, "source", ViolationRules.MaxSource);
            if (!source.IsOk)
            {
                return source.Error!;
            }
            var files = ViolationRules.CheckEvidence(request.Evidence, ManifestDigest.Compute);
            if (!files.IsOk)
            {
                return files.Error!;
            }
            var fingerprints = FingerprintEvidence.Parse(request.Evidence.Fingerprints, "evidence.fingerprints");
            if (!fingerprints.IsOk)
            {
                return fingerprints.Error!;
            }
            var seenDigest = Sha256Digest.Parse(request.Evidence.ManifestDigest).Value.ToString();
            var tier = observed.Value.Name();
            var (version, match, tensors) = await FindVersionAsync(uow.Db, seenDigest, files.Value, fingerprints.Value, token);
            if (version is null || match is null)
            {
                return NotRecorded(seenDigest, tier, "unregistered",
                    "unregistered: the weights seen match no registered version (neither its manifest, nor enough of its files, nor its tensors' values)");
            }
            var certified = await CertificateEndpoints.HighestValidTierAsync(uow.Db, version.Id, token);
            if (!Rules.IsViolation(observed.Value, certified))
            {
                return NotRecorded(seenDigest, tier, "covered", $"covered: a valid certificate allows {certified?.Name() ?? "internal use only"}", certified?.Name()) with
                {
                    ModelVersionId = version.Id, Match = match.Kind, MatchedFiles = match.MatchedFiles, TensorsMatched = tensors?.TensorsMatched, Similarity = tensors?.Similarity,
                };
            }
            var model = await uow.Db.Models.AsNoTracking().FirstAsync(m => m.Id == version.ModelId, token);
            var evidence = new SightingEvidenceDto
            {
                ManifestDigest = seenDigest,
                Files = files.Value.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).OrderBy(f => f.Path, ManifestDigest.PathOrder).ToList(),
                Tensors = request.Evidence.Tensors,
                Fingerprints = request.Evidence.Fingerprints,
            };
            var evidenceBytes = CanonicalJson.Serialize(evidence);
            var violation = new ViolationEntity
            {
                Id = Ids.New("vio"), ManifestDigest = seenDigest, ObservedTier = tier, CertifiedTier = certified?.Name(),
                ModelVersionId = version.Id, OrganisationId = model.OrganisationId, Source = source.Value, ReportedBy = caller.PrincipalId, CreatedAt = uow.Now,
                Status = ViolationStatus.Pending, EvidenceJson = Encoding.UTF8.GetString(evidenceBytes), EvidenceSha256 = Sha256Digest.Of(evidenceBytes).ToString(),
                Match = match.Kind, MatchedFiles = match.MatchedFiles,
            };
            uow.Db.Violations.Add(violation);
            // Not public yet: the leaf commits to the evidence by its hash and names neither the weights nor the developer.
            violation.LedgerIndex = uow.Append("sighting.reported", new JsonObject
            {
                ["sighting"] = violation.Id, ["observedTier"] = tier, ["evidenceSha256"] = violation.EvidenceSha256, ["match"] = match.Kind, ["rule"] = ViolationRules.Rule,
            });
            return (await BuildAsync(uow.Db, [violation], token))[0] with { TensorsMatched = tensors?.TensorsMatched, Similarity = tensors?.Similarity };
        }, ct));
    }

    private static async Task<Results<Ok<List<ViolationDto>>, ProblemHttpResult>> List(HttpContext http, EmbargoDb db, string? status, string? organisation, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        var viewer = OptionalCaller(http);
        var query = db.Violations.AsNoTracking();
        if (status is not null)
        {
            query = query.Where(v => v.Status == status);
        }
        if (organisation is not null)
        {
            query = query.Where(v => v.OrganisationId == organisation);
        }
        // Newest first; what the caller may see is decided per row, then paged (only the page is built).
        var violations = await query.OrderByDescending(v => v.LedgerIndex).ToListAsync(ct);
        var visible = await VisibleAsync(db, violations, viewer, ct);
        return TypedResults.Ok(await BuildAsync(db, Paging.Slice(http, visible, page), ct));
    }

    private static async Task<Results<Ok<ViolationDto>, ProblemHttpResult>> Get(string id, HttpContext http, EmbargoDb db, CancellationToken ct)
    {
        var violation = await db.Violations.AsNoTracking().FirstOrDefaultAsync(v => v.Id == id, ct);
        if (violation is null || (await VisibleAsync(db, [violation], OptionalCaller(http), ct)).Count == 0)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"violation {id}"));
        }
        return TypedResults.Ok((await BuildAsync(db, [violation], ct))[0]);
    }

    private static async Task<List<ViolationEntity>> VisibleAsync(EmbargoDb db, IReadOnlyList<ViolationEntity> violations, Caller? viewer, CancellationToken ct)
    {
        var versionIds = violations.Where(v => !ViolationStatus.IsPublic(v.Status)).Select(v => v.ModelVersionId).Distinct().ToList();
        var regulators = (await db.Cases.AsNoTracking().Where(c => versionIds.Contains(c.ModelVersionId)).Select(c => new { c.ModelVersionId, c.RegulatorOrganisationId }).ToListAsync(ct))
            .ToLookup(c => c.ModelVersionId, c => c.RegulatorOrganisationId);
        // Public sightings are everyone's to read; one not yet public is hidden (not found) from whoever the table refuses.
        return violations.Where(v => ViolationStatus.IsPublic(v.Status)
            || Access.Allows(ProtocolAction.ReadSighting, viewer?.Actor, SubjectOf(v, regulators[v.ModelVersionId ?? ""].Distinct().ToList()))).ToList();
    }

    /// <summary>The DTOs of <paramref name="violations"/>, with their decisions and disputes (the caller has checked who may see them).</summary>
    internal static async Task<List<ViolationDto>> BuildAsync(EmbargoDb db, IReadOnlyList<ViolationEntity> violations, CancellationToken ct)
    {
        var ids = violations.Select(v => v.Id).ToList();
        var orgIds = violations.Select(v => v.OrganisationId).Distinct().ToList();
        // Local (unsaved) rows first, then stored ones: a unit of work answers with what it is about to commit.
        var decisions = db.ViolationDecisions.Local.Where(d => ids.Contains(d.ViolationId)).ToList();
        decisions.AddRange((await db.ViolationDecisions.AsNoTracking().Where(d => ids.Contains(d.ViolationId)).ToListAsync(ct)).Where(d => decisions.All(x => x.Id != d.Id)));
        var disputes = db.ViolationDisputes.Local.Where(d => ids.Contains(d.ViolationId)).ToList();
        disputes.AddRange((await db.ViolationDisputes.AsNoTracking().Where(d => ids.Contains(d.ViolationId)).ToListAsync(ct)).Where(d => disputes.All(x => x.Id != d.Id)));
        var names = await db.Organisations.AsNoTracking().Where(o => orgIds.Contains(o.Id)).ToDictionaryAsync(o => o.Id, o => o.Name, ct);
        return violations.Select(v => new ViolationDto
        {
            Id = v.Id, ManifestDigest = v.ManifestDigest, ObservedTier = v.ObservedTier, CertifiedTier = v.CertifiedTier,
            Developer = v.OrganisationId is { } o && names.TryGetValue(o, out var name) ? name : null, DeveloperOrganisationId = v.OrganisationId,
            ModelVersionId = v.ModelVersionId, Recorded = true, Status = v.Status, Verdict = Verdict(v), Source = v.Source, Match = v.Match, MatchedFiles = v.MatchedFiles,
            EvidenceSha256 = v.EvidenceSha256, ReportedAt = v.CreatedAt,
            Evidence = v.EvidenceJson is null ? null : JsonSerializer.Deserialize<SightingEvidenceDto>(v.EvidenceJson, CanonicalJson.Options),
            Decisions = decisions.Where(d => d.ViolationId == v.Id).OrderBy(d => d.LedgerIndex)
                .Select(d => new ViolationDecisionDto { Kind = d.Kind, Reason = d.Reason, OrganisationId = d.OrganisationId, At = d.CreatedAt, LedgerIndex = d.LedgerIndex }).ToList(),
            Disputes = disputes.Where(d => d.ViolationId == v.Id).OrderBy(d => d.LedgerIndex).Select(d => new ViolationDisputeDto
            {
                Id = d.Id, Statement = d.Statement, OrganisationId = d.OrganisationId, At = d.CreatedAt, LedgerIndex = d.LedgerIndex,
                Outcome = d.Outcome, DecisionReason = d.DecisionReason, DecidedAt = d.DecidedAt, DecisionLedgerIndex = d.DecisionLedgerIndex,
            }).ToList(),
        }).ToList();
    }

    private static string MarkReason(ViolationEntity v) =>
        $"weights {v.ManifestDigest} seen at {v.ObservedTier} with {(v.CertifiedTier is null ? "no valid certificate" : $"a certificate only for {v.CertifiedTier}")}";

    private static string Verdict(ViolationEntity v) => v.Status switch
    {
        ViolationStatus.Pending => $"pending: a sighting at {v.ObservedTier} ({v.Match} match) awaits the regulator's confirmation; nobody is marked until then",
        ViolationStatus.Rejected => "rejected by the regulator: nobody is marked",
        ViolationStatus.Confirmed => "violation: " + MarkReason(v),
        ViolationStatus.Overturned => "overturned on dispute: " + MarkReason(v),
        _ => "mark lifted: " + MarkReason(v),
    };

    /// <summary>Recomputes the organisation's public mark from the violations that still stand (status confirmed).</summary>
    private static async Task RefreshMarkAsync(UnitOfWork uow, string organisationId, CancellationToken ct)
    {
        var organisation = await uow.Db.Organisations.FirstAsync(o => o.Id == organisationId, ct);
        // Tracked entities carry this unit's changes; filter in memory so they count.
        var standing = (await uow.Db.Violations.Where(v => v.OrganisationId == organisationId).ToListAsync(ct))
            .Where(v => v.Status == ViolationStatus.Confirmed).OrderBy(v => v.LedgerIndex).ToList();
        organisation.BadActor = standing.Count > 0;
        organisation.BadActorReason = standing.Count > 0 ? MarkReason(standing[^1]) : null;
    }

    private static ViolationDecisionEntity Decision(UnitOfWork uow, string violationId, string kind, string reason, long index) => new()
    {
        Id = Ids.New("vdc"), ViolationId = violationId, Kind = kind, Reason = reason, OrganisationId = uow.Caller.OrganisationId,
        PrincipalId = uow.Caller.PrincipalId, LedgerIndex = index, CreatedAt = uow.Now,
    };

    /// <summary>A regulator of the version's cases confirms (→ a public violation, the developer marked) or rejects a pending sighting.</summary>
    private static async Task<Results<Ok<ViolationDto>, ProblemHttpResult>> Decide(string id, ViolationDecisionRequest request, bool confirm, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<ViolationDto>(caller, async (uow, token) =>
        {
            var violation = await uow.Db.Violations.FirstOrDefaultAsync(v => v.Id == id, token);
            if (violation is null)
            {
                return ProtocolError.NotFound($"violation {id}");
            }
            if (Access.Decide(ProtocolAction.DecideSighting, caller.Actor, await SubjectAsync(uow.Db, violation, token)) is { } denied)
            {
                return denied;
            }
            var reason = ViolationRules.Text(request.Reason, "reason");
            if (!reason.IsOk)
            {
                return reason.Error!;
            }
            var next = ViolationRules.Decide(violation.Status, confirm);
            if (!next.IsOk)
            {
                return next.Error!;
            }
            violation.Status = next.Value;
            long index;
            if (confirm)
            {
                await RefreshMarkAsync(uow, violation.OrganisationId!, token);
                var version = await uow.Db.ModelVersions.AsNoTracking().FirstAsync(v => v.Id == violation.ModelVersionId, token);
                index = uow.Append("violation.recorded", new JsonObject
                {
                    ["violation"] = violation.Id, ["manifestDigest"] = violation.ManifestDigest, ["modelVersion"] = version.Id, ["versionDigest"] = version.ManifestDigest,
                    ["observedTier"] = violation.ObservedTier, ["certifiedTier"] = violation.CertifiedTier, ["developer"] = violation.OrganisationId,
                    ["source"] = violation.Source, ["evidenceSha256"] = violation.EvidenceSha256, ["match"] = violation.Match, ["matchedFiles"] = violation.MatchedFiles,
                    ["reportedBy"] = violation.ReportedBy, ["reason"] = reason.Value, ["rule"] = ViolationRules.Rule,
                });
            }
            else
            {
                // A rejected sighting never becomes public: the ledger fixes the reason by its hash only.
                index = uow.Append("sighting.rejected", new JsonObject
                {
                    ["sighting"] = violation.Id, ["reasonSha256"] = Sha256Digest.Of(Encoding.UTF8.GetBytes(reason.Value)).ToString(), ["rule"] = ViolationRules.Rule,
                });
            }
            uow.Db.ViolationDecisions.Add(Decision(uow, violation.Id, confirm ? "confirmed" : "rejected", reason.Value, index));
            return (await BuildAsync(uow.Db, [violation], token))[0];
        }, ct));
    }

    /// <summary>The marked developer disputes a confirmed violation, once, with a statement (public).</summary>
    private static async Task<Results<Ok<ViolationDto>, ProblemHttpResult>> Dispute(string id, DisputeViolationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<ViolationDto>(caller, async (uow, token) =>
        {
            var violation = await uow.Db.Violations.FirstOrDefaultAsync(v => v.Id == id, token);
            if (violation is null || (!ViolationStatus.IsPublic(violation.Status) && caller.OrganisationId != violation.OrganisationId))
            {
                return ProtocolError.NotFound($"violation {id}");
            }
            var earlier = await uow.Db.ViolationDisputes.CountAsync(d => d.ViolationId == id, token);
            if ((Access.Decide(ProtocolAction.DisputeViolation, caller.Actor, await SubjectAsync(uow.Db, violation, token))
                    ?? ViolationRules.Dispute(violation.Status, earlier)) is { } refused)
            {
                return refused;
            }
            var statement = ViolationRules.Text(request.Statement, "statement");
            if (!statement.IsOk)
            {
                return statement.Error!;
            }
            var dispute = new ViolationDisputeEntity
            {
                Id = Ids.New("vds"), ViolationId = id, Statement = statement.Value, OrganisationId = caller.OrganisationId, PrincipalId = caller.PrincipalId, CreatedAt = uow.Now,
            };
            dispute.LedgerIndex = uow.Append("violation.disputed", new JsonObject
            {
                ["violation"] = id, ["dispute"] = dispute.Id, ["developer"] = violation.OrganisationId, ["statement"] = statement.Value, ["rule"] = ViolationRules.Rule,
            });
            uow.Db.ViolationDisputes.Add(dispute);
            return (await BuildAsync(uow.Db, [violation], token))[0];
        }, ct));
    }

    /// <summary>The regulator decides the open dispute: upheld → the violation is overturned and the mark lifted if nothing else stands.</summary>
    private static async Task<Results<Ok<ViolationDto>, ProblemHttpResult>> DecideDispute(string id, DecideDisputeRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<ViolationDto>(caller, async (uow, token) =>
        {
            var violation = await uow.Db.Violations.FirstOrDefaultAsync(v => v.Id == id, token);
            if (violation is null)
            {
                return ProtocolError.NotFound($"violation {id}");
            }
            if (Access.Decide(ProtocolAction.DecideDispute, caller.Actor, await SubjectAsync(uow.Db, violation, token)) is { } denied)
            {
                return denied;
            }
            var reason = ViolationRules.Text(request.Reason, "reason");
            if (!reason.IsOk)
            {
                return reason.Error!;
            }
            var open = await uow.Db.ViolationDisputes.FirstOrDefaultAsync(d => d.ViolationId == id && d.Outcome == null, token);
            var next = ViolationRules.DecideDispute(violation.Status, open is not null, request.Outcome);
            if (!next.IsOk)
            {
                return next.Error!;
            }
            violation.Status = next.Value;
            await RefreshMarkAsync(uow, violation.OrganisationId!, token);
            var marked = (await uow.Db.Organisations.FirstAsync(o => o.Id == violation.OrganisationId, token)).BadActor;
            open!.Outcome = request.Outcome;
            open.DecisionReason = reason.Value;
            open.DecidedBy = caller.PrincipalId;
            open.DecidedAt = uow.Now;
            open.DecisionLedgerIndex = uow.Append("violation.dispute-decided", new JsonObject
            {
                ["violation"] = id, ["dispute"] = open.Id, ["outcome"] = request.Outcome, ["reason"] = reason.Value, ["developer"] = violation.OrganisationId,
                ["developerMarked"] = marked, ["rule"] = ViolationRules.Rule,
            });
            return (await BuildAsync(uow.Db, [violation], token))[0];
        }, ct));
    }

    /// <summary>A regulator with authority over every violation that marks the organisation lifts the mark, with a reason.</summary>
    private static async Task<Results<Ok<BadActorDto>, ProblemHttpResult>> LiftMark(string organisationId, LiftMarkRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<BadActorDto>(caller, async (uow, token) =>
        {
            var organisation = await uow.Db.Organisations.FirstOrDefaultAsync(o => o.Id == organisationId, token);
            if (organisation is null)
            {
                return ProtocolError.NotFound($"organisation {organisationId}");
            }
            var violations = await uow.Db.Violations.Where(v => v.OrganisationId == organisationId).ToListAsync(token);
            var standing = violations.Where(v => v.Status == ViolationStatus.Confirmed).ToList();
            // The caller needs authority over every violation that marks the organisation (over nothing in particular when none does).
            var subjects = new List<Subject>();
            foreach (var v in standing)
            {
                subjects.Add(await SubjectAsync(uow.Db, v, token));
            }
            if (subjects.Count == 0)
            {
                subjects.Add(new Subject { WithoutCase = true });
            }
            if ((subjects.Select(s => Access.Decide(ProtocolAction.LiftMark, caller.Actor, s)).FirstOrDefault(e => e is not null)
                    ?? ViolationRules.LiftMark(standing.Count)) is { } refused)
            {
                return refused;
            }
            var reason = ViolationRules.Text(request.Reason, "reason");
            if (!reason.IsOk)
            {
                return reason.Error!;
            }
            foreach (var v in standing)
            {
                v.Status = ViolationStatus.Lifted;
            }
            organisation.BadActor = false;
            organisation.BadActorReason = null;
            var index = uow.Append("bad-actor.mark-lifted", new JsonObject
            {
                ["organisation"] = organisationId, ["reason"] = reason.Value, ["violations"] = new JsonArray([.. standing.Select(v => (JsonNode)v.Id)]), ["rule"] = ViolationRules.Rule,
            });
            foreach (var v in standing)
            {
                uow.Db.ViolationDecisions.Add(Decision(uow, v.Id, "lifted", reason.Value, index));
            }
            return new BadActorDto
            {
                Id = organisation.Id, Name = organisation.Name, BadActor = false, BadActorReason = null,
                Violations = await BuildAsync(uow.Db, violations.Where(v => ViolationStatus.IsPublic(v.Status)).ToList(), token),
            };
        }, ct));
    }

    /// <summary>The public bad-actors view: each marked organisation with its public violations, disputes and decisions.</summary>
    internal static async Task<List<BadActorDto>> BadActorsAsync(EmbargoDb db, CancellationToken ct, Page? page = null)
    {
        var all = db.Organisations.AsNoTracking().Where(o => o.BadActor).OrderBy(o => o.Name);
        var marked = await (page is { } p ? all.Skip((int)Math.Min(p.Offset, int.MaxValue)).Take(p.Limit) : all).ToListAsync(ct);
        var ids = marked.Select(o => o.Id).ToList();
        var violations = (await db.Violations.AsNoTracking().Where(v => v.OrganisationId != null && ids.Contains(v.OrganisationId)).OrderBy(v => v.LedgerIndex).ToListAsync(ct))
            .Where(v => ViolationStatus.IsPublic(v.Status)).ToList();
        var dtos = await BuildAsync(db, violations, ct);
        return marked.Select(o => new BadActorDto
        {
            Id = o.Id, Name = o.Name, BadActor = true, BadActorReason = o.BadActorReason,
            Violations = dtos.Where(d => d.DeveloperOrganisationId == o.Id).ToList(),
        }).ToList();
    }
}
