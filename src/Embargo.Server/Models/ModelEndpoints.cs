using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Embargo.Weights;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Models;

public static class ModelEndpoints
{
    public static RouteGroupBuilder MapModels(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Models").RequireAuthorization();
        group.MapPost("/models", RegisterModel);
        group.MapPost("/models/{modelId}/versions", RegisterVersion);
        group.MapGet("/model-versions/{id}", GetVersion);
        group.MapPost("/model-versions/{id}/conditions", RegisterCondition);
        group.MapGet("/model-versions/{id}/conditions", ListConditions);
        group.MapGet("/models", ListModels);
        group.MapGet("/models/{modelId}/versions", ListVersions);
        group.MapPost("/model-versions/{id}/withdraw", WithdrawVersion);
        group.MapPost("/reference-models", RegisterReferenceModel);
        app.MapGet("/api/reference-models", ListReferenceModels).WithTags("Models").AllowAnonymous();
        app.MapGet("/api/weights/{digest}", WeightsStatus).WithTags("Models").AllowAnonymous();
        return group;
    }

    internal static IReadOnlyList<WeightsFileDto> Files(ModelVersionEntity v) =>
        JsonSerializer.Deserialize<List<WeightsFileDto>>(v.FilesJson, CanonicalJson.Options) ?? [];

    internal static ModelVersionDto ToDto(ModelVersionEntity v, string modelName, IReadOnlyList<string>? cases = null) => new()
    {
        Id = v.Id, ModelId = v.ModelId, Model = modelName, Version = v.Version, ManifestDigest = v.ManifestDigest, Files = Files(v),
        RegisteredAt = v.CreatedAt, UsedByCases = cases, WithdrawnAt = v.WithdrawnAt, WithdrawalReason = v.WithdrawalReason,
    };

    /// <summary>Each version with its cases and whether the caller may read it (the access table's ReadVersion row).</summary>
    private static async Task<List<(ModelVersionEntity Version, List<string> Cases, bool Readable)>> VersionsWithAccessAsync(
        EmbargoDb db, Actor actor, IReadOnlyList<ModelVersionEntity> versions, IReadOnlyDictionary<string, string> developers, CancellationToken ct)
    {
        var ids = versions.Select(v => v.Id).ToList();
        var cases = await db.Cases.AsNoTracking().Where(c => ids.Contains(c.ModelVersionId)).ToListAsync(ct);
        var subjects = await Cases.CaseSubjects.ForCasesAsync(db, cases, ct);
        var grants = (await db.WeightsGrants.AsNoTracking().Where(g => ids.Contains(g.ModelVersionId)).Select(g => new { g.ModelVersionId, g.PrincipalId }).ToListAsync(ct))
            .ToLookup(g => g.ModelVersionId, g => g.PrincipalId, StringComparer.Ordinal);
        var byVersion = cases.ToLookup(c => c.ModelVersionId, StringComparer.Ordinal);
        return versions.Select(v =>
        {
            var own = byVersion[v.Id].ToList();
            var parts = own.Select(c => subjects[c.Id]).ToList();
            var subject = new Subject
            {
                DeveloperOrganisation = developers[v.ModelId],
                EvaluatorOrganisations = parts.SelectMany(p => p.EvaluatorOrganisations).Distinct(StringComparer.Ordinal).ToList(),
                RegulatorOrganisations = parts.SelectMany(p => p.RegulatorOrganisations).Distinct(StringComparer.Ordinal).ToList(),
                AffectedParties = parts.SelectMany(p => p.AffectedParties).Distinct(StringComparer.Ordinal).ToList(),
                Grantees = grants[v.Id].ToList(),
                OpenToCertifiers = parts.Any(p => p.OpenToCertifiers),
            };
            return (v, own.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id, StringComparer.Ordinal).Select(c => c.Id).ToList(),
                Access.Allows(ProtocolAction.ReadVersion, actor, subject));
        }).ToList();
    }

    /// <summary>The models the caller can see: its own organisation's (all of them), and those with a version it may read.</summary>
    private static async Task<Results<Ok<List<ModelDto>>, ProblemHttpResult>> ListModels(EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        var actor = Caller.From(http.User).Actor;
        var models = await db.Models.AsNoTracking().ToListAsync(ct);
        var versions = await db.ModelVersions.AsNoTracking().ToListAsync(ct);
        var access = await VersionsWithAccessAsync(db, actor, versions, models.ToDictionary(m => m.Id, m => m.OrganisationId, StringComparer.Ordinal), ct);
        var counts = versions.CountBy(v => v.ModelId).ToDictionary(StringComparer.Ordinal);
        var readable = access.Where(a => a.Readable).Select(a => a.Version.ModelId).ToHashSet(StringComparer.Ordinal);
        var visible = models
            .Where(m => readable.Contains(m.Id) || Access.Allows(ProtocolAction.ReadVersion, actor, new Subject { DeveloperOrganisation = m.OrganisationId }))
            .OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Id, StringComparer.Ordinal)
            .Select(m => new ModelDto { Id = m.Id, Name = m.Name, OrganisationId = m.OrganisationId, Versions = counts.GetValueOrDefault(m.Id) })
            .ToList();
        return TypedResults.Ok(Paging.Slice(http, visible, page));
    }

    /// <summary>A model's versions the caller may read, oldest first, with the cases that used each and whether it was withdrawn.</summary>
    private static async Task<Results<Ok<List<ModelVersionDto>>, ProblemHttpResult>> ListVersions(string modelId, EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        var model = await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == modelId, ct);
        if (model is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"model {modelId}"));
        }
        var actor = Caller.From(http.User).Actor;
        var versions = await db.ModelVersions.AsNoTracking().Where(v => v.ModelId == modelId).ToListAsync(ct);
        var access = await VersionsWithAccessAsync(db, actor, versions, new Dictionary<string, string> { [modelId] = model.OrganisationId }, ct);
        var readable = access.Where(a => a.Readable).ToList();
        // Someone who may read none of its versions is refused as for one of them (the developer always may).
        if (readable.Count == 0 && Access.Decide(ProtocolAction.ReadVersion, actor, new Subject { DeveloperOrganisation = model.OrganisationId }) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        return TypedResults.Ok(Paging.Slice(http, readable
            .OrderBy(a => a.Version.CreatedAt).ThenBy(a => a.Version.Id, StringComparer.Ordinal)
            .Select(a => ToDto(a.Version, model.Name, a.Cases)).ToList(), page));
    }

    /// <summary>
    /// Withdraws a version no case has used (its developer only; case-phase once a case used it). Logged as
    /// model.version.withdrawn; the version's label and weights may then be registered again, and no new case may use it.
    /// </summary>
    private static async Task<Results<Ok<ModelVersionDto>, ProblemHttpResult>> WithdrawVersion(
        string id, WithdrawVersionRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<ModelVersionDto>(caller, async (uow, token) =>
        {
            if (await Cases.CaseSubjects.ForVersionAsync(uow.Db, id, token) is not { } found)
            {
                return ProtocolError.NotFound($"model version {id}");
            }
            var cases = await uow.Db.Cases.AsNoTracking().Where(c => c.ModelVersionId == id).Select(c => c.Id).ToListAsync(token);
            var facts = new VersionWithdrawalFacts
            {
                VersionId = id, Subject = found.Subject, Cases = cases.Order(StringComparer.Ordinal).ToList(),
                AlreadyWithdrawn = found.Version.WithdrawnAt is not null, Reason = request.Reason,
            };
            if (VersionWithdrawal.Decide(facts, caller.Actor) is { } refused)
            {
                return refused;
            }
            found.Version.WithdrawnAt = uow.Now;
            found.Version.WithdrawalReason = request.Reason;
            var withdrawn = new JsonObject
            {
                ["modelVersion"] = id, ["model"] = found.Model.Name, ["version"] = found.Version.Version, ["manifestDigest"] = found.Version.ManifestDigest,
            };
            if (request.Reason is not null)
            {
                withdrawn["reason"] = request.Reason;
            }
            uow.Append("model.version.withdrawn", withdrawn);
            return ToDto(found.Version, found.Model.Name, []);
        }, ct);
        return ApiResults.From(result);
    }

    private static async Task<Results<Created<ModelDto>, ProblemHttpResult>> RegisterModel(
        RegisterModelRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<ModelDto>(caller, async (uow, token) =>
        {
            if (Access.Decide(ProtocolAction.RegisterModel, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            var name = request.Name?.Trim() ?? "";
            if (name.Length is 0 or > 200 || name.Any(char.IsWhiteSpace))
            {
                return ProtocolError.Validation("a model name must be 1–200 characters without spaces");
            }
            if (await uow.Db.Models.AnyAsync(m => m.OrganisationId == caller.OrganisationId && m.Name == name, token))
            {
                return ProtocolError.Validation($"the organisation already has a model named '{name}'");
            }
            var model = new ModelEntity { Id = Ids.New("mdl"), OrganisationId = caller.OrganisationId, Name = name, CreatedAt = uow.Now };
            uow.Db.Models.Add(model);
            uow.Append("model.registered", new JsonObject { ["model"] = model.Id, ["name"] = name, ["organisation"] = caller.OrganisationId });
            return new ModelDto { Id = model.Id, Name = name, OrganisationId = caller.OrganisationId };
        }, ct);
        return ApiResults.Created(result, m => $"/api/models/{m.Id}");
    }

    private static async Task<Results<Created<ModelVersionDto>, ProblemHttpResult>> RegisterVersion(
        string modelId, RegisterVersionRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<ModelVersionDto>(caller, async (uow, token) =>
        {
            var model = await uow.Db.Models.FirstOrDefaultAsync(m => m.Id == modelId, token);
            if (model is null)
            {
                return ProtocolError.NotFound($"model {modelId}");
            }
            if (Access.Decide(ProtocolAction.RegisterVersion, caller.Actor, new Subject { DeveloperOrganisation = model.OrganisationId }) is { } denied)
            {
                return denied;
            }
            var digest = Sha256Digest.Parse(request.ManifestDigest, "manifestDigest");
            if (!digest.IsOk)
            {
                return digest.Error!;
            }
            if (request.Files.Count == 0)
            {
                return ProtocolError.Validation("a model version needs at least one weights file");
            }
            foreach (var f in request.Files)
            {
                if (string.IsNullOrEmpty(f.Path) || f.Path.StartsWith('/') || f.Path.Contains('\\', StringComparison.Ordinal) || f.Path.Split('/').Any(s => s is "" or "." or ".."))
                {
                    return ProtocolError.Validation($"file path '{f.Path}' must be relative, '/'-separated, without '.' or '..' segments");
                }
                if (f.Bytes < 0 || !Sha256Digest.Parse(f.Sha256, $"sha256 of {f.Path}").IsOk)
                {
                    return ProtocolError.Validation($"file '{f.Path}' needs bytes ≥ 0 and a 64-hex sha256");
                }
            }
            if (request.Files.Select(f => f.Path).Distinct(StringComparer.Ordinal).Count() != request.Files.Count)
            {
                return ProtocolError.Validation("the file list names a path twice");
            }
            var computed = ManifestDigest.Compute(request.Files.Select(f => (f.Path, f.Sha256.ToLowerInvariant())));
            if (computed != digest.Value.ToString())
            {
                return ProtocolError.Validation($"manifestDigest {digest.Value} does not match the file list (computed {computed})");
            }
            if (await uow.Db.ModelVersions.AnyAsync(v => v.ManifestDigest == computed && v.WithdrawnAt == null, token))
            {
                return ProtocolError.Validation($"weights {computed} are already registered");
            }
            if (await uow.Db.ModelVersions.AnyAsync(v => v.ModelId == modelId && v.Version == request.Version && v.WithdrawnAt == null, token))
            {
                return ProtocolError.Validation($"version '{request.Version}' already exists for {model.Name}");
            }
            var fingerprints = Violations.FingerprintEvidence.Parse(request.Fingerprints, "fingerprints");
            if (!fingerprints.IsOk)
            {
                return fingerprints.Error!;
            }
            var files = request.Files.OrderBy(f => f.Path, ManifestDigest.PathOrder)
                .Select(f => f with { Sha256 = f.Sha256.ToLowerInvariant() }).ToList();
            var version = new ModelVersionEntity
            {
                Id = Ids.New("ver"),
                ModelId = modelId,
                Version = request.Version,
                ManifestDigest = computed,
                FilesJson = JsonSerializer.Serialize(files, CanonicalJson.Options),
                CreatedAt = uow.Now,
                FingerprintsJson = Violations.FingerprintEvidence.ToJson(fingerprints.Value),
            };
            uow.Db.ModelVersions.Add(version);
            var leaf = new JsonObject
            {
                ["modelVersion"] = version.Id,
                ["model"] = model.Name,
                ["version"] = version.Version,
                ["manifestDigest"] = computed,
                ["files"] = JsonSerializer.SerializeToNode(files, CanonicalJson.Options),
            };
            if (version.FingerprintsJson is { } fingerprintsJson)
            {
                // The ledger commits to the tensor fingerprints a later scan is matched against.
                leaf["fingerprints"] = fingerprints.Value.Count;
                leaf["fingerprintsSha256"] = Sha256Digest.Of(System.Text.Encoding.UTF8.GetBytes(fingerprintsJson)).ToString();
            }
            uow.Append("model.version.registered", leaf);
            return ToDto(version, model.Name);
        }, ct);
        return ApiResults.Created(result, v => $"/api/model-versions/{v.Id}");
    }

    private static async Task<Results<Ok<ModelVersionDto>, ProblemHttpResult>> GetVersion(string id, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        if (await Cases.CaseSubjects.ForVersionAsync(db, id, ct) is not { } found)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"model version {id}"));
        }
        // Tenant isolation: the version's developer and the parties of its cases read it.
        if (Access.Decide(ProtocolAction.ReadVersion, Caller.From(http.User).Actor, found.Subject) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        return TypedResults.Ok(ToDto(found.Version, found.Model.Name));
    }

    private static readonly IReadOnlyList<string> ConditionKinds = Embargo.Protocol.ConditionKinds.All;

    internal static ModelConditionDto ToDto(ConditionEntity c) => new()
    {
        Id = c.Id, ModelVersionId = c.ModelVersionId, Name = c.Name, Kind = c.Kind, ModelName = c.ModelName, Endpoint = c.Endpoint, Description = c.Description,
        TrainingFileSha256 = c.TrainingFileSha256, FineTuningJobId = c.FineTuningJobId,
    };

    /// <summary>
    /// A condition is a way the version is run for evaluation — its base weights, a fine-tune, with tools, assisted
    /// by the reference model — at an OpenAI-compatible endpoint. Evaluations name the condition their subject ran as.
    /// </summary>
    private static async Task<Results<Created<ModelConditionDto>, ProblemHttpResult>> RegisterCondition(
        string id, RegisterModelConditionRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<ModelConditionDto>(caller, async (uow, token) =>
        {
            if (await ModelOwnership.OwnedVersionAsync(uow, id, ProtocolAction.RegisterCondition, token) is { IsOk: false } notOwned)
            {
                return notOwned.Error!;
            }
            if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 100 || !ConditionKinds.Contains(request.Kind) || string.IsNullOrWhiteSpace(request.ModelName))
            {
                return ProtocolError.Validation($"a condition needs a name (≤ 100 characters), a model name and a kind: {string.Join(", ", ConditionKinds)}");
            }
            // No secrets in public records: user info or a query string is refused, never stored or logged.
            var endpoint = EndpointUrls.Check(request.Endpoint, "endpoint");
            if (!endpoint.IsOk)
            {
                return endpoint.Error!;
            }
            if (FineTuneProvenance(request) is { IsOk: false } provenance)
            {
                return provenance.Error!;
            }
            if (await uow.Db.Conditions.AnyAsync(c => c.ModelVersionId == id && c.Name == request.Name, token))
            {
                return ProtocolError.Validation($"model version {id} already has a condition named '{request.Name}'");
            }
            var condition = new ConditionEntity
            {
                Id = Ids.New("cnd"), ModelVersionId = id, Name = request.Name, Kind = request.Kind, ModelName = request.ModelName,
                Endpoint = endpoint.Value, Description = request.Description, CreatedAt = uow.Now,
                TrainingFileSha256 = FineTuneProvenance(request).Value, FineTuningJobId = request.FineTuningJobId,
            };
            uow.Db.Conditions.Add(condition);
            var registered = new JsonObject
            {
                ["modelVersion"] = id, ["condition"] = condition.Id, ["name"] = condition.Name, ["kind"] = condition.Kind,
                ["modelName"] = condition.ModelName, ["endpoint"] = condition.Endpoint,
            };
            if (condition.TrainingFileSha256 is not null)
            {
                registered["trainingFileSha256"] = condition.TrainingFileSha256;
            }
            if (condition.FineTuningJobId is not null)
            {
                registered["fineTuningJobId"] = condition.FineTuningJobId;
            }
            uow.Append("condition.registered", registered);
            return ToDto(condition);
        }, ct);
        return ApiResults.Created(result, c => $"/api/model-versions/{id}/conditions");
    }

    /// <summary>
    /// A fine-tune's provenance (training file digest, job id) is optional and belongs only to kind fine-tuned.
    /// Returns the digest normalised to "sha256:hex" (or null when absent).
    /// </summary>
    private static Result<string?> FineTuneProvenance(RegisterModelConditionRequest request)
    {
        if ((request.TrainingFileSha256 is not null || request.FineTuningJobId is not null) && request.Kind != "fine-tuned")
        {
            return ProtocolError.Validation("trainingFileSha256 and fineTuningJobId belong to a condition of kind fine-tuned");
        }
        if (request.FineTuningJobId is { } job && (string.IsNullOrWhiteSpace(job) || job.Length > 200 || job.Any(char.IsControl)))
        {
            return ProtocolError.Validation("fineTuningJobId must be 1–200 printable characters");
        }
        if (request.TrainingFileSha256 is null)
        {
            return (string?)null;
        }
        var digest = Sha256Digest.Parse(request.TrainingFileSha256, "trainingFileSha256");
        return digest.IsOk ? digest.Value.ToString() : digest.Error!;
    }

    private static async Task<Results<Ok<List<ModelConditionDto>>, ProblemHttpResult>> ListConditions(string id, EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        if (await Cases.CaseSubjects.ForVersionAsync(db, id, ct) is not { } found)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"model version {id}"));
        }
        if (Access.Decide(ProtocolAction.ReadConditions, Caller.From(http.User).Actor, found.Subject) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        return TypedResults.Ok(Paging.Slice(http, (await db.Conditions.AsNoTracking().Where(c => c.ModelVersionId == id).ToListAsync(ct))
            .OrderBy(c => c.Name, StringComparer.Ordinal).Select(ToDto).ToList(), page));
    }

    /// <summary>Registered reference models, strongest first (public: cases must be opened with the strongest).</summary>
    private static async Task<Results<Ok<List<ReferenceModelDto>>, ProblemHttpResult>> ListReferenceModels(EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        return TypedResults.Ok(Paging.Slice(http, (await db.ReferenceModels.AsNoTracking().ToListAsync(ct))
            .OrderByDescending(r => r.Strength).ThenBy(r => r.CreatedAt).ThenBy(r => r.Id, StringComparer.Ordinal)
            .Select(r => new ReferenceModelDto { Id = r.Id, Name = r.Name, Strength = r.Strength }).ToList(), page));
    }

    /// <summary>Rule 5: a stronger reference model flags certificates of cases that used a weaker one.</summary>
    private static async Task<Results<Created<ReferenceModelDto>, ProblemHttpResult>> RegisterReferenceModel(
        RegisterReferenceModelRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<ReferenceModelDto>(caller, async (uow, token) =>
        {
            if (Access.Decide(ProtocolAction.RegisterReferenceModel, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            if (string.IsNullOrWhiteSpace(request.Name) || !double.IsFinite(request.Strength))
            {
                return ProtocolError.Validation("a reference model needs a name and a finite strength");
            }
            if (await uow.Db.ReferenceModels.AnyAsync(r => r.Name == request.Name, token))
            {
                return ProtocolError.Validation($"reference model '{request.Name}' is already registered");
            }
            var reference = new ReferenceModelEntity { Id = Ids.New("ref"), Name = request.Name, Strength = request.Strength, CreatedAt = uow.Now };
            uow.Db.ReferenceModels.Add(reference);
            uow.Append("reference-model.registered", new JsonObject { ["referenceModel"] = reference.Id, ["name"] = reference.Name, ["strength"] = reference.Strength });

            var weaker = await uow.Db.ReferenceModels.Where(r => r.Strength < request.Strength).Select(r => r.Id).ToListAsync(token);
            var cases = await uow.Db.Cases.Where(c => weaker.Contains(c.ReferenceModelId)).ToListAsync(token);
            var caseIds = cases.Select(c => c.Id).ToList();
            // Issued certificates and approved-but-unsigned ones alike: neither may back a release any more.
            var flagged = await uow.Db.Certificates
                .Where(c => caseIds.Contains(c.CaseId) && (c.Status == CertificateStatus.Issued || c.Status == CertificateStatus.Pending))
                .ToListAsync(token);
            foreach (var certificate in flagged)
            {
                certificate.Status = CertificateStatus.Flagged;
                certificate.FlagReason = $"reference model {reference.Name} (strength {reference.Strength}) is stronger than the one the case used";
                var @case = cases.First(c => c.Id == certificate.CaseId);
                @case.ReevaluationFlag = true;
                @case.ReevaluationReason = certificate.FlagReason;
                uow.Append("certificate.flagged-for-reevaluation", new JsonObject
                {
                    ["certificate"] = certificate.Id, ["case"] = certificate.CaseId, ["rule"] = "rule-5", ["referenceModel"] = reference.Id,
                });
            }
            return new ReferenceModelDto { Id = reference.Id, Name = reference.Name, Strength = reference.Strength, FlaggedCertificates = flagged.Select(f => f.Id).ToList() };
        }, ct);
        return ApiResults.Created(result, r => $"/api/reference-models/{r.Id}");
    }

    /// <summary>
    /// Lookup by weights digest. Released versions are public; a registered but unreleased version is shown only to
    /// its developer and its cases' organisations. Everyone else gets the same 404 as for an unregistered digest.
    /// </summary>
    private static async Task<Results<Ok<WeightsStatusDto>, ProblemHttpResult>> WeightsStatus(string digest, HttpContext http, EmbargoDb db, CancellationToken ct)
    {
        var parsed = Sha256Digest.Parse(digest);
        if (!parsed.IsOk)
        {
            return ApiResults.Problem(parsed.Error!);
        }
        var d = parsed.Value.ToString();
        var notFound = ApiResults.Problem(ProtocolError.NotFound($"a released model version with weights {d}"));
        // A withdrawn version's weights may have been registered again: the live registration answers.
        var version = await db.ModelVersions.AsNoTracking().Where(v => v.ManifestDigest == d).OrderBy(v => v.WithdrawnAt != null).FirstOrDefaultAsync(ct);
        if (version is null)
        {
            return notFound;
        }
        var model = await db.Models.AsNoTracking().FirstAsync(m => m.Id == version.ModelId, ct);
        var caller = http.User.Identity?.IsAuthenticated == true ? Caller.From(http.User) : null;
        if (!await Violations.VersionAccess.CanSeeAsync(db, caller, version, model.OrganisationId, ct))
        {
            return notFound;
        }
        var developer = await db.Organisations.AsNoTracking().FirstAsync(o => o.Id == model.OrganisationId, ct);
        var certified = await Certificates.CertificateEndpoints.HighestValidTierAsync(db, version.Id, ct);
        var released = await db.Releases.AsNoTracking().Where(r => r.ModelVersionId == version.Id).Select(r => r.Tier).Distinct().ToListAsync(ct);
        return TypedResults.Ok(new WeightsStatusDto
        {
            ManifestDigest = d, Registered = true, ModelVersionId = version.Id, Model = $"{model.Name}@{version.Version}",
            Developer = developer.Name, CertifiedTier = certified?.Name(), ReleasedTiers = released,
        });
    }
}
