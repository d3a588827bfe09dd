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
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

public static class CaseEndpoints
{
    public static RouteGroupBuilder MapCases(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/cases").WithTags("Cases").RequireAuthorization();
        group.MapPost("/", Open);
        group.MapGet("/", List);
        group.MapGet("/{id}", Get);
        group.MapGet("/{id}/threat-model-drafts", Drafts);
        group.MapPost("/{id}/threat-models", AddThreatModel);
        group.MapPost("/{id}/threat-model-drafts", DraftThreatModel);
        group.MapPost("/{id}/threat-models/{threatModelId}/accept", AcceptThreatModel);
        group.MapPost("/{id}/advance", Advance);
        group.MapPost("/{id}/commitments", AddCommitment);
        group.MapPost("/{id}/evaluations", SubmitEvaluation);
        group.MapPost("/{id}/findings", RecordFinding);
        group.MapPost("/{id}/deny", Deny);
        return group;
    }

    /// <summary>Runs <paramref name="body"/> on a loaded case inside a unit of work; a missing case is a 404.</summary>
    internal static Task<Result<T>> OnCase<T>(LedgerWriter writer, Caller caller, string caseId,
        Func<UnitOfWork, CaseSnapshot, CancellationToken, Task<Result<T>>> body, CancellationToken ct) =>
        writer.ExecuteAsync<T>(caller, async (uow, token) =>
        {
            var snapshot = await CaseSnapshot.LoadAsync(uow.Db, caseId, token);
            return snapshot is null ? ProtocolError.NotFound($"case {caseId}") : await body(uow, snapshot, token);
        }, ct);

    private static async Task<Results<Created<CaseDto>, ProblemHttpResult>> Open(OpenCaseRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<string>(caller, async (uow, token) =>
        {
            var tier = Tiers.Parse(request.RequestedTier, "requestedTier");
            if (!tier.IsOk)
            {
                return tier.Error!;
            }
            var owned = await ModelOwnership.OwnedVersionAsync(uow, request.ModelVersionId, ProtocolAction.OpenCase, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            var version = owned.Value.Version;
            if (VersionWithdrawal.OpenRefusal(version.Id, version.WithdrawnAt is not null) is { } withdrawn)
            {
                return withdrawn;
            }
            var regulatorIsOne = await uow.Db.Principals.AnyAsync(p => p.OrganisationId == request.RegulatorOrganisationId && p.Role == "regulator", token);
            if (!regulatorIsOne)
            {
                return ProtocolError.Validation($"organisation {request.RegulatorOrganisationId} has no regulator principal; a case needs a regulator");
            }
            if (!await uow.Db.ReferenceModels.AnyAsync(r => r.Id == request.ReferenceModelId, token))
            {
                return ProtocolError.NotFound($"reference model {request.ReferenceModelId}");
            }
            var evaluators = (request.EvaluatorOrganisationIds ?? []).Distinct(StringComparer.Ordinal).ToList();
            if (evaluators.Count == 0)
            {
                return ProtocolError.Validation("a case names at least one evaluator organisation (evaluatorOrganisationIds)");
            }
            foreach (var evaluator in evaluators)
            {
                if (!await uow.Db.Principals.AnyAsync(p => p.OrganisationId == evaluator && p.Role == "evaluator", token))
                {
                    return ProtocolError.Validation($"organisation {evaluator} has no evaluator principal");
                }
            }
            // Rule 5: the strongest reference model; rule 11: not at or above a tier the version was denied.
            var reference = await uow.Db.ReferenceModels.FirstAsync(r => r.Id == request.ReferenceModelId, token);
            if ((ReferenceModels.OpenRefusal(await ReevaluationEndpoints.FactsAsync(uow.Db, reference, token))
                 ?? Denials.OpenRefusal(tier.Value, await DenialEndpoints.StandingAsync(uow.Db, version.Id, token))) is { } ruled)
            {
                return ruled;
            }
            var entity = new CaseEntity
            {
                Id = Ids.New("case"),
                ModelVersionId = version.Id,
                DeveloperOrganisationId = caller.OrganisationId,
                RegulatorOrganisationId = request.RegulatorOrganisationId,
                RequestedTier = tier.Value.Name(),
                State = CaseState.Scoping.Name(),
                ReferenceModelId = request.ReferenceModelId,
                EvaluatorOrganisationsJson = JsonSerializer.Serialize(evaluators),
                CreatedAt = uow.Now,
            };
            uow.Db.Cases.Add(entity);
            uow.Append("case.opened", new JsonObject
            {
                ["case"] = entity.Id, ["modelVersion"] = version.Id, ["manifestDigest"] = version.ManifestDigest,
                ["requestedTier"] = entity.RequestedTier, ["regulator"] = entity.RegulatorOrganisationId, ["referenceModel"] = entity.ReferenceModelId,
                ["evaluators"] = new JsonArray(evaluators.Select(e => (JsonNode?)JsonValue.Create(e)).ToArray()),
            });
            return entity.Id;
        }, ct);
        if (!result.IsOk)
        {
            return ApiResults.Problem(result.Error!);
        }
        var dto = await LoadDtoAsync(http, result.Value, ct);
        return TypedResults.Created($"/api/cases/{dto.Id}", dto);
    }

    private static async Task<CaseDto> LoadDtoAsync(HttpContext http, string caseId, CancellationToken ct)
    {
        var db = http.RequestServices.GetRequiredService<EmbargoDb>();
        return (await CaseSnapshot.LoadAsync(db, caseId, ct))!.ToDto();
    }

    /// <summary>Cases, newest first; optionally only those in one state.</summary>
    private static async Task<Results<Ok<List<CaseSummaryDto>>, ProblemHttpResult>> List(EmbargoDb db, HttpContext http, string? state, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        if (state is not null && !CaseStates.Parse(state).IsOk)
        {
            return ApiResults.Problem(CaseStates.Parse(state).Error!);
        }
        var rows = await (from c in db.Cases.AsNoTracking()
                          join v in db.ModelVersions on c.ModelVersionId equals v.Id
                          join m in db.Models on v.ModelId equals m.Id
                          where state == null || c.State == state
                          select new { c, v.ManifestDigest, Model = m.Name + "@" + v.Version }).ToListAsync(ct);
        // Tenant isolation: only the cases the caller may read (the access table's ReadCase row).
        var caller = Caller.From(http.User);
        var subjects = await CaseSubjects.ForCasesAsync(db, rows.Select(r => r.c).ToList(), ct);
        rows = rows.Where(r => Access.Allows(ProtocolAction.ReadCase, caller.Actor, subjects[r.c.Id])).ToList();
        return TypedResults.Ok(Paging.Slice(http, rows.OrderByDescending(r => r.c.CreatedAt).ThenBy(r => r.c.Id, StringComparer.Ordinal).Select(r => new CaseSummaryDto
        {
            Id = r.c.Id, Model = r.Model, ManifestDigest = r.ManifestDigest, DeveloperOrganisationId = r.c.DeveloperOrganisationId,
            RequestedTier = r.c.RequestedTier, State = r.c.State, ReevaluationFlag = r.c.ReevaluationFlag,
        }).ToList(), page));
    }

    private static async Task<Results<Ok<CaseDto>, ProblemHttpResult>> Get(string id, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        var snapshot = await CaseSnapshot.LoadAsync(db, id, ct);
        if (snapshot is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"case {id}"));
        }
        return snapshot.Decide(ProtocolAction.ReadCase, Caller.From(http.User)) is { } refused ? ApiResults.Problem(refused) : TypedResults.Ok(snapshot.ToDto());
    }

    /// <summary>The case's threat-model drafts in creation order, paged (the case view carries only the first <see cref="CaseSnapshot.DraftsInView"/>).</summary>
    private static async Task<Results<Ok<List<ThreatModelDto>>, ProblemHttpResult>> Drafts(string id, EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        var snapshot = await CaseSnapshot.LoadAsync(db, id, ct);
        if (snapshot is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"case {id}"));
        }
        if (snapshot.Decide(ProtocolAction.ReadCase, Caller.From(http.User)) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        Paging.SetHeaders(http, snapshot.DraftCount, page, "offset");
        var skip = (int)Math.Min(page.Offset, int.MaxValue);
        return TypedResults.Ok(snapshot.DraftPage(skip, page.Limit).Select(CaseSnapshot.ToDto).ToList());
    }

    private static async Task<Results<Ok<ThreatModelDto>, ProblemHttpResult>> AddThreatModel(string id, AddThreatModelRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await OnCase<ThreatModelDto>(writer, caller, id, async (uow, snap, token) =>
        {
            // An accepted threat model is evidence of safety (rule 9): the developer may only propose drafts.
            if ((CaseDecisions.ThreatModel(snap.PhaseFacts(), caller.Actor, snap.Subject(), ThreatModelMove.AddAccepted) ?? ValidateCapability(snap, request.Capability)
                 ?? EvidenceVerdicts.ValidateMargin(request.Margin)) is { } invalid)
            {
                return invalid;
            }
            var parties = request.AffectedParties.Distinct(StringComparer.Ordinal).ToList();
            if (await ValidateAffectedPartiesAsync(uow, parties, token) is { } badParties)
            {
                return badParties;
            }
            var entity = new ThreatModelEntity
            {
                Id = Ids.New("thr"),
                CaseId = id,
                Capability = request.Capability,
                Description = request.Description,
                StepsJson = JsonSerializer.Serialize(request.Steps),
                AffectedPartiesJson = JsonSerializer.Serialize(parties),
                Status = ThreatModelStatus.Accepted,
                Margin = request.Margin ?? EvidenceVerdicts.DefaultMargin,
                CreatedAt = uow.Now,
            };
            uow.Db.ThreatModels.Add(entity);
            uow.Append("threat-model.added", new JsonObject
            {
                ["case"] = id, ["threatModel"] = entity.Id, ["capability"] = entity.Capability,
                ["affectedParties"] = new JsonArray(parties.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
                ["margin"] = entity.Margin,
            });
            return CaseSnapshot.ToDto(entity);
        }, ct));
    }

    private static ProtocolError? ValidateCapability(CaseSnapshot snap, string capability) =>
        CaseDecisions.NewCapability(snap.PhaseFacts(), snap.ThreatModels.Select(t => t.Capability).ToList(), capability);

    private static async Task<ProtocolError?> ValidateAffectedPartiesAsync(UnitOfWork uow, IReadOnlyList<string> parties, CancellationToken ct)
    {
        if (parties.Count == 0)
        {
            return ProtocolError.Validation("a threat model names at least one affected party");
        }
        foreach (var party in parties)
        {
            if (!await uow.Db.Principals.AnyAsync(p => p.OrganisationId == party && p.Role == "affected-party", ct))
            {
                return ProtocolError.Validation($"organisation {party} has no affected-party principal");
            }
        }
        return null;
    }

    /// <summary>A threat model drafted with the reference model is stored as a draft: it counts for nothing until an evaluator accepts it.</summary>
    private static async Task<Results<Ok<ThreatModelDto>, ProblemHttpResult>> DraftThreatModel(string id, DraftThreatModelRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await OnCase<ThreatModelDto>(writer, caller, id, (uow, snap, token) =>
        {
            Result<ThreatModelDto> result;
            if ((CaseDecisions.ThreatModel(snap.PhaseFacts(), caller.Actor, snap.Subject(), ThreatModelMove.Propose) ?? ValidateCapability(snap, request.Capability)
                 ?? EvidenceVerdicts.ValidateMargin(request.Margin)) is { } refused)
            {
                result = refused;
            }
            else if (request.Steps.Count == 0 || string.IsNullOrWhiteSpace(request.ReferenceModel))
            {
                result = ProtocolError.Validation("a draft carries the reference model's steps and names the reference model");
            }
            else
            {
                var entity = new ThreatModelEntity
                {
                    Id = Ids.New("thr"), CaseId = id, Capability = request.Capability, Description = request.Description,
                    StepsJson = JsonSerializer.Serialize(request.Steps), AffectedPartiesJson = "[]", Status = ThreatModelStatus.Draft,
                    DraftedWith = request.ReferenceModel, Margin = request.Margin ?? EvidenceVerdicts.DefaultMargin, CreatedAt = uow.Now,
                };
                uow.Db.ThreatModels.Add(entity);
                uow.Append("threat-model.drafted", new JsonObject
                {
                    ["case"] = id, ["threatModel"] = entity.Id, ["capability"] = entity.Capability, ["referenceModel"] = request.ReferenceModel, ["steps"] = request.Steps.Count,
                    ["margin"] = entity.Margin,
                });
                result = CaseSnapshot.ToDto(entity);
            }
            return Task.FromResult(result);
        }, ct));
    }

    private static async Task<Results<Ok<ThreatModelDto>, ProblemHttpResult>> AcceptThreatModel(string id, string threatModelId, AcceptThreatModelRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await OnCase<ThreatModelDto>(writer, caller, id, async (uow, snap, token) =>
        {
            // Acceptance is the independent evaluator's judgement, never automatic and never the developer's (rule 9).
            if (CaseDecisions.ThreatModel(snap.PhaseFacts(), caller.Actor, snap.Subject(), ThreatModelMove.Accept) is { } refused)
            {
                return refused;
            }
            var draft = snap.Draft(threatModelId);
            if (draft is null)
            {
                return ProtocolError.NotFound($"threat-model draft {threatModelId} in case {id}");
            }
            if ((ValidateCapability(snap, draft.Capability) ?? EvidenceVerdicts.ValidateMargin(request.Margin)) is { } duplicate)
            {
                return duplicate;
            }
            var parties = request.AffectedParties.Distinct(StringComparer.Ordinal).ToList();
            if (await ValidateAffectedPartiesAsync(uow, parties, token) is { } badParties)
            {
                return badParties;
            }
            var edited = request.Steps is not null || request.Description is not null;
            draft.Status = ThreatModelStatus.Accepted;
            draft.AffectedPartiesJson = JsonSerializer.Serialize(parties);
            draft.Description = request.Description ?? draft.Description;
            draft.Margin = request.Margin ?? draft.Margin;
            if (request.Steps is not null)
            {
                draft.StepsJson = JsonSerializer.Serialize(request.Steps);
            }
            uow.Append("threat-model.accepted", new JsonObject
            {
                ["case"] = id, ["threatModel"] = draft.Id, ["capability"] = draft.Capability, ["edited"] = edited,
                ["affectedParties"] = new JsonArray(parties.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
                ["margin"] = draft.Margin,
            });
            return CaseSnapshot.ToDto(draft);
        }, ct));
    }

    private static async Task<Results<Ok<CaseDto>, ProblemHttpResult>> Advance(string id, AdvanceCaseRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await OnCase<string>(writer, caller, id, (uow, snap, token) =>
        {
            var to = CaseStates.Parse(request.To);
            if (!to.IsOk)
            {
                return Task.FromResult<Result<string>>(to.Error!);
            }
            var moved = CaseDecisions.Advance(snap.Facts(), caller.Actor, snap.Subject(), to.Value);
            if (!moved.IsOk)
            {
                return Task.FromResult<Result<string>>(moved.Error!);
            }
            var from = snap.Case.State;
            snap.Case.State = moved.Value.Name();
            uow.Append("case.advanced", new JsonObject { ["case"] = id, ["from"] = from, ["to"] = snap.Case.State });
            return Task.FromResult<Result<string>>(id);
        }, ct);
        return result.IsOk ? TypedResults.Ok(await LoadDtoAsync(http, id, ct)) : ApiResults.Problem(result.Error!);
    }

    private static async Task<Results<Ok<CommitmentDto>, ProblemHttpResult>> AddCommitment(string id, AddCommitmentRequest request, HttpContext http, LedgerWriter writer, ICommitmentEngine engine, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await OnCase<CommitmentDto>(writer, caller, id, (uow, snap, token) =>
        {
            Result<CommitmentDto> Fail(ProtocolError e) => e;
            if (CaseDecisions.Commit(snap.PhaseFacts(), caller.Actor, snap.Subject()) is { } refused)
            {
                return Task.FromResult(Fail(refused));
            }
            if (engine.Validate(request.Expression) is { } invalid)
            {
                return Task.FromResult(Fail(invalid));
            }
            var entity = new CommitmentEntity { Id = Ids.New("cmt"), CaseId = id, Expression = request.Expression.Trim(), CreatedBy = caller.PrincipalId, CreatedAt = uow.Now };
            uow.Db.Commitments.Add(entity);
            uow.Append("commitment.added", new JsonObject { ["case"] = id, ["commitment"] = entity.Id, ["expression"] = entity.Expression });
            return Task.FromResult<Result<CommitmentDto>>(new CommitmentDto { Id = entity.Id, Expression = entity.Expression });
        }, ct));
    }

    private static ProtocolError? ValidateEvaluation(SubmitEvaluationRequest r)
    {
        static bool Unit(double v) => double.IsFinite(v) && v is >= 0 and <= 1;
        static bool Condition(ConditionDto c) => c.Total > 0 && c.Correct >= 0 && c.Correct <= c.Total && Unit(c.Accuracy) && Unit(c.Ci95Low) && Unit(c.Ci95High) && !string.IsNullOrWhiteSpace(c.Model);
        // Errors are not answers: only a run that completed within its error tolerance is evidence.
        if (r.Status is { } status && status != "complete")
        {
            return ProtocolError.Validation($"status: a run that ended '{status}' is not evidence; ask its errored samples again (embargo eval run --retry-errors LOG) and submit the complete run");
        }
        if (r.Errors is < 0 || r.Records is < 0 || (r.Errors is { } errors && r.Records is { } records && errors > records))
        {
            return ProtocolError.Validation("errors and records are counts: 0 ≤ errors ≤ records");
        }
        if (string.IsNullOrWhiteSpace(r.Capability) || string.IsNullOrWhiteSpace(r.Task) || r.Samples < 1)
        {
            return ProtocolError.Validation("an evaluation needs a capability, a task and at least one sample");
        }
        if (!Condition(r.Subject) || (r.Baseline is not null && !Condition(r.Baseline)))
        {
            return ProtocolError.Validation("each condition needs a model, 0 ≤ correct ≤ total, total > 0 and accuracies and intervals in [0, 1]");
        }
        if (r.Uplift is { } u && (!double.IsFinite(u.Estimate) || u.Estimate is < -1 or > 1 || !Unit(u.P) || string.IsNullOrWhiteSpace(u.Test)))
        {
            return ProtocolError.Validation("uplift needs an estimate in [-1, 1], a p-value in [0, 1] and the test used");
        }
        if (r.Uplift is not null && r.Baseline is null)
        {
            return ProtocolError.Validation("uplift needs a baseline condition");
        }
        return ValidateVerdictFigures(r);
    }

    /// <summary>The runner's verdict figures in range: a one-sided upper bound in [-1, 1], a margin in (0, 1), a known verdict.</summary>
    private static ProtocolError? ValidateVerdictFigures(SubmitEvaluationRequest r)
    {
        if (r.UpliftUpper is { } upper)
        {
            if (r.Uplift is not { } u)
            {
                return ProtocolError.Validation("upliftUpper: an upper bound needs the uplift it bounds");
            }
            // Its value is checked against the recomputation from the run's log (rule "evidence"); here only its range.
            if (!double.IsFinite(upper) || upper is < -1 or > 1)
            {
                return ProtocolError.Validation("upliftUpper: the one-sided upper bound lies in [-1, 1]");
            }
        }
        if (EvidenceVerdicts.ValidateMargin(r.Margin) is { } badMargin)
        {
            return badMargin;
        }
        return r.Verdict is null or "novel" or "not-novel" or "inconclusive"
            ? null
            : ProtocolError.Validation("verdict: one of novel, not-novel, inconclusive");
    }

    private static async Task<Results<Ok<EvaluationDto>, ProblemHttpResult>> SubmitEvaluation(string id, SubmitEvaluationRequest request, HttpContext http, LedgerWriter writer, ICommitmentEngine engine, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var audited = await Gateway.GatewayControl.AuditedLogAsync(http, id, request.LogSha256, caller.OrganisationId, ct);
        return ApiResults.From(await OnCase<EvaluationDto>(writer, caller, id, async (uow, snap, token) =>
        {
            if (CaseDecisions.SubmitEvaluation(snap.PhaseFacts(), caller.Actor, snap.Subject(), new EvaluationCommand(request.Capability, request.MitigationId)) is { } refused)
            {
                return refused;
            }
            if (ValidateEvaluation(request) is { } invalid)
            {
                return invalid;
            }
            MitigationEntity? mitigation = null;
            if (request.MitigationId is not null)
            {
                mitigation = snap.Mitigations.FirstOrDefault(m => m.Id == request.MitigationId);
                if (mitigation is null)
                {
                    return ProtocolError.NotFound($"mitigation {request.MitigationId} in case {id}");
                }
                if (Verification.SubmissionRefusal(mitigation.Id, mitigation.Status) is { } early)
                {
                    return early;
                }
            }
            if (!snap.ThreatModels.Any(t => t.Capability == request.Capability))
            {
                return ProtocolError.Validation($"the case has no threat model for capability '{request.Capability}'");
            }
            if (request.SubjectCondition is { } conditionName
                && !await uow.Db.Conditions.AnyAsync(c => c.ModelVersionId == snap.Case.ModelVersionId && c.Name == conditionName, token))
            {
                return ProtocolError.Validation($"model version {snap.Case.ModelVersionId} has no registered condition '{conditionName}'");
            }
            // Rule "evidence": the figures are recomputed from the run's log, which binds to this one evaluation.
            var evidence = await EvidenceLogs.CheckAsync(uow, snap, request, mitigation is not null, token);
            if (!evidence.IsOk)
            {
                return evidence.Error!;
            }
            var (run, log) = evidence.Value;
            var figures = EvidenceLogs.Figures(run);
            var e = new EvaluationEntity
            {
                Id = Ids.New("evl"),
                CaseId = id,
                Capability = request.Capability,
                Task = request.Task,
                Purpose = mitigation is null ? EvaluationPurpose.Case : EvaluationPurpose.Verification,
                MitigationId = mitigation?.Id,
                Samples = figures.Samples,
                SubjectModel = figures.Subject.Model,
                SubjectCondition = request.SubjectCondition,
                SubjectCorrect = figures.Subject.Correct,
                SubjectTotal = figures.Subject.Total,
                SubjectAccuracy = figures.Subject.Accuracy,
                SubjectCiLow = figures.Subject.Ci95Low,
                SubjectCiHigh = figures.Subject.Ci95High,
                BaselineModel = figures.Baseline?.Model,
                BaselineCorrect = figures.Baseline?.Correct,
                BaselineTotal = figures.Baseline?.Total,
                BaselineAccuracy = figures.Baseline?.Accuracy,
                BaselineCiLow = figures.Baseline?.Ci95Low,
                BaselineCiHigh = figures.Baseline?.Ci95High,
                Uplift = figures.Uplift?.Estimate,
                UpliftCiLow = figures.Uplift?.Ci95Low,
                UpliftCiHigh = figures.Uplift?.Ci95High,
                P = figures.Uplift?.P,
                Test = figures.Uplift?.Test,
                UpliftUpper = run.Verdict?.Upper,
                LogSha256 = log.Sha256,
                ReferenceModelId = snap.Case.ReferenceModelId,
                SubmittedBy = caller.PrincipalId,
                CreatedAt = uow.Now,
            };
            // Control evidence is checked, not claimed: the run counts as through the gateway only if the gateway's own audit shows it.
            if (audited == log.Sha256)
            {
                e.ThroughGatewayScreensDigest = await Gateway.GatewayControl.ScreensDigestAsync(uow.Db, snap.Case.ModelVersionId, token) ?? "";
            }
            uow.Db.Evaluations.Add(e);
            log.EvaluationId = e.Id;
            var recorded = new JsonObject
            {
                ["case"] = id, ["evaluation"] = e.Id, ["capability"] = e.Capability, ["task"] = e.Task, ["purpose"] = e.Purpose,
                ["mitigation"] = e.MitigationId, ["subject"] = e.SubjectModel, ["condition"] = e.SubjectCondition, ["subjectAccuracy"] = e.SubjectAccuracy,
                ["baseline"] = e.BaselineModel, ["baselineAccuracy"] = e.BaselineAccuracy, ["uplift"] = e.Uplift, ["p"] = e.P,
                ["test"] = e.Test, ["logSha256"] = e.LogSha256, ["referenceModel"] = e.ReferenceModelId,
                ["upliftUpper"] = e.UpliftUpper, ["margin"] = snap.Margin(e.Capability), ["verdict"] = snap.Verdict(e).Verdict,
            };
            if (e.ThroughGatewayScreensDigest is { } screensDigest)
            {
                recorded["throughGateway"] = new JsonObject { ["gateway"] = Gateway.ServerGateway.Name, ["screensDigest"] = screensDigest };
            }
            e.LedgerIndex = uow.Append("evaluation.recorded", recorded);
            if (mitigation is null && snap.Verdict(e).IsNovel)
            {
                // New significant evidence makes every finding on the capability novel, whatever run it cited.
                foreach (var finding in snap.Findings.Where(f => f.Capability == e.Capability && !f.Novel))
                {
                    finding.Novel = true;
                    var novelAt = uow.Append("finding.novel", new JsonObject { ["case"] = id, ["finding"] = finding.Id, ["evaluation"] = e.Id });
                    Disclosures.AdvisoryCsaf.Revise(uow, snap, finding.Id, novelAt, $"New evidence ({e.Id}) shows the capability novel.");
                }
            }
            var fired = mitigation is null ? FireCommitments(uow, snap, e, engine) : [];
            return CaseSnapshot.ToDto(e, fired, snap.Verdict(e));
        }, ct));
    }

    /// <summary>Rule 6: evaluate every commitment on the new result; a commitment that fires creates a finding that caps the tier.</summary>
    private static List<FindingDto> FireCommitments(UnitOfWork uow, CaseSnapshot snap, EvaluationEntity latest, ICommitmentEngine engine)
    {
        if (snap.Commitments.Count == 0)
        {
            return [];
        }
        var latestByCapability = snap.LatestCaseEvaluations(latest);
        var created = new List<FindingDto>();
        foreach (var commitment in snap.Commitments)
        {
            var verdict = engine.Evaluate(commitment.Expression, latestByCapability, snap.Verdict);
            if (!verdict.Fired)
            {
                continue;
            }
            foreach (var capability in verdict.Capabilities)
            {
                var threat = snap.ThreatModels.FirstOrDefault(t => t.Capability == capability);
                if (threat is null || !latestByCapability.TryGetValue(capability, out var evidence)
                    || snap.Findings.Any(f => f.CommitmentId == commitment.Id && f.Capability == capability))
                {
                    continue;
                }
                var finding = new FindingEntity
                {
                    Id = Ids.New("fnd"),
                    CaseId = snap.Case.Id,
                    ThreatModelId = threat.Id,
                    Capability = capability,
                    Title = $"Commitment fired: {commitment.Expression}",
                    Novel = snap.CapabilityNovel(capability, latest),
                    EvaluationId = evidence.Id,
                    Source = "commitment",
                    CommitmentId = commitment.Id,
                    CapTier = verdict.MaxTier?.Name(),
                    CreatedAt = uow.Now,
                };
                uow.Db.Findings.Add(finding);
                uow.Append("commitment.fired", new JsonObject
                {
                    ["case"] = snap.Case.Id, ["commitment"] = commitment.Id, ["expression"] = commitment.Expression,
                    ["finding"] = finding.Id, ["capability"] = capability, ["evaluation"] = evidence.Id,
                    ["novel"] = finding.Novel, ["maxTier"] = finding.CapTier, ["rule"] = "rule-6",
                });
                created.Add(CaseSnapshot.ToDto(finding, snap.Commitments));
            }
        }
        return created;
    }

    private static async Task<Results<Ok<FindingDto>, ProblemHttpResult>> RecordFinding(string id, RecordFindingRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await OnCase<FindingDto>(writer, caller, id, (uow, snap, token) =>
        {
            Result<FindingDto> Fail(ProtocolError e) => e;
            // Who may record a finding, and in which phase, before anything about the case is looked up.
            if (CaseDecisions.MayRecordFinding(snap.PhaseFacts(), caller.Actor, snap.Subject()) is { } refused)
            {
                return Task.FromResult(Fail(refused));
            }
            var threat = snap.ThreatModels.FirstOrDefault(t => t.Id == request.ThreatModelId);
            var evidence = snap.Evaluation(request.EvaluationId) is { Purpose: EvaluationPurpose.Case } cited ? cited : null;
            if (threat is null)
            {
                return Task.FromResult(Fail(ProtocolError.NotFound($"threat model {request.ThreatModelId} in case {id}")));
            }
            if (evidence is null)
            {
                return Task.FromResult(Fail(ProtocolError.NotFound($"evaluation {request.EvaluationId} in case {id}")));
            }
            if (Evidence.CitationRefusal(evidence.Id, evidence.Uplift is not null) is { } baselineless)
            {
                return Task.FromResult(Fail(baselineless));
            }
            if (evidence.Capability != threat.Capability)
            {
                return Task.FromResult(Fail(ProtocolError.Validation($"evaluation {evidence.Id} measured '{evidence.Capability}', not the threat model's '{threat.Capability}'")));
            }
            if (string.IsNullOrWhiteSpace(request.Title) || request.Title.Length > 300)
            {
                return Task.FromResult(Fail(ProtocolError.Validation("a finding needs a title of 1–300 characters")));
            }
            // Rule 9: evidence of danger counts from anyone; a finding "not novel" is evidence of safety and counts only
            // from an independent evaluator assigned to the case, citing an independent evaluator's run.
            var decided = CaseDecisions.RecordFinding(snap.PhaseFacts(), caller.Actor, snap.Subject(),
                new FindingCommand(threat.Capability, snap.CapabilityNovel(threat.Capability), evidence.Id, snap.CountsAsSafetyEvidence(evidence))
                {
                    EvidenceVerdict = snap.Verdict(evidence),
                    Inconclusive = EvidenceVerdicts.OfCapability(threat.Capability, snap.Evidence()) is (Embargo.Evaluation.Statistics.Verdicts.Inconclusive, { } open) ? open : null,
                });
            if (!decided.IsOk)
            {
                return Task.FromResult(Fail(decided.Error!));
            }
            var novel = decided.Value;
            var finding = new FindingEntity
            {
                Id = Ids.New("fnd"),
                CaseId = id,
                ThreatModelId = threat.Id,
                Capability = threat.Capability,
                Title = request.Title,
                // Novelty comes from all the capability's evidence, never from the caller's say-so or choice of run.
                Novel = novel,
                EvaluationId = evidence.Id,
                Source = caller.Role.Name(),
                CreatedAt = uow.Now,
            };
            uow.Db.Findings.Add(finding);
            uow.Append("finding.recorded", new JsonObject
            {
                ["case"] = id, ["finding"] = finding.Id, ["capability"] = finding.Capability, ["evaluation"] = evidence.Id,
                ["novel"] = finding.Novel, ["uplift"] = evidence.Uplift, ["p"] = evidence.P,
                ["verdict"] = snap.Verdict(evidence).Verdict, ["margin"] = snap.Verdict(evidence).Margin,
            });
            return Task.FromResult<Result<FindingDto>>(CaseSnapshot.ToDto(finding, snap.Commitments));
        }, ct));
    }

    private static async Task<Results<Ok<CaseDto>, ProblemHttpResult>> Deny(string id, DenyRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await OnCase<string>(writer, caller, id, async Task<Result<string>> (uow, snap, token) =>
        {
            if (snap.Decide(ProtocolAction.Deny, caller) is { } denied)
            {
                return denied;
            }
            if (Rules.IsTerminal(snap.State))
            {
                return ProtocolError.Violation("case-phase", $"the case is already {snap.Case.State}");
            }
            if (string.IsNullOrWhiteSpace(request.Reason))
            {
                return ProtocolError.Validation("a denial needs a reason");
            }
            snap.Case.State = CaseState.Denied.Name();
            snap.Case.DenialReason = request.Reason;
            uow.Append("case.denied", new JsonObject { ["case"] = id, ["tier"] = snap.Case.RequestedTier, ["reason"] = request.Reason });
            // A denial withdraws any certificate the case already has: it can no longer back a release.
            foreach (var certificate in await uow.Db.Certificates.Where(c => c.CaseId == id && c.Status != CertificateStatus.Revoked).ToListAsync(token))
            {
                certificate.Status = CertificateStatus.Revoked;
                certificate.FlagReason = "the case was denied: " + request.Reason;
                uow.Append("certificate.revoked", new JsonObject { ["certificate"] = certificate.Id, ["case"] = id, ["reason"] = certificate.FlagReason });
            }
            return id;
        }, ct);
        return result.IsOk ? TypedResults.Ok(await LoadDtoAsync(http, id, ct)) : ApiResults.Problem(result.Error!);
    }
}
