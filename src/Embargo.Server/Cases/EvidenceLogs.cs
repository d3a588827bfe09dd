using System.Globalization;
using System.Security.Cryptography;
using Embargo.Contracts;
using Embargo.Evaluation;
using Embargo.Evaluation.Running;
using Embargo.Evaluation.Statistics;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Cases;

/// <summary>
/// Evidence is a run, not a number (rule "evidence"). A run's log is uploaded to its case first
/// (<c>POST /api/cases/{id}/evaluation-logs</c>, the log's bytes as the body, under its own size limit); the evaluation
/// then cites it by sha256 and the server recomputes every figure from the log's per-sample records, refusing any claimed
/// figure that differs. The log is bound to that one evaluation. Its transcripts are never public: the case's regulator and
/// its reviewing certifier read it (<c>GET /api/evaluations/{id}/log</c>).
/// </summary>
public static class EvidenceLogs
{
    public static IEndpointRouteBuilder MapEvidenceLogs(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/cases/{id}/evaluation-logs", Upload).WithTags("Cases").RequireAuthorization();
        app.MapGet("/api/evaluations/{id}/log", Read).WithTags("Cases").RequireAuthorization();
        return app;
    }

    private static async Task<Results<Created<EvaluationLogDto>, Ok<EvaluationLogDto>, ProblemHttpResult>> Upload(string id, HttpContext http, LedgerWriter writer,
        IOptions<EmbargoOptions> options, CancellationToken ct)
    {
        var limit = options.Value.MaxEvaluationLogBytes;
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }
        byte[] bytes;
        try
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer, ct);
            bytes = buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TypedResults.Problem($"the log is larger than the limit of {limit} bytes", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Log too large");
        }
        if (bytes.Length > limit)
        {
            return TypedResults.Problem($"the log is larger than the limit of {limit} bytes", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Log too large");
        }
        if (!LogEvidence.TryRead(bytes, out var log, out var unreadable))
        {
            return ApiResults.Problem(Invalid("log", unreadable));
        }
        if (!LogEvidence.TryRecompute(log, Verdicts.DefaultMargin, out _, out var broken))
        {
            return ApiResults.Problem(Invalid("log", broken));
        }
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var caller = Caller.From(http.User);
        var created = false;
        var result = await CaseEndpoints.OnCase<EvaluationLogDto>(writer, caller, id, async (uow, snap, token) =>
        {
            if (snap.Decide(ProtocolAction.SubmitEvaluation, caller) is { } refused)
            {
                return refused;
            }
            var existing = await uow.Db.EvaluationLogs.AsNoTracking().FirstOrDefaultAsync(l => l.Sha256 == sha, token);
            var legacy = existing is null
                ? await uow.Db.Evaluations.AsNoTracking().Where(e => e.LogSha256 == sha).Select(e => e.CaseId).FirstOrDefaultAsync(token)
                : null;
            if (Evidence.UploadRefusal(sha, id, existing?.CaseId ?? legacy) is { } elsewhere)
            {
                return elsewhere;
            }
            if (existing is not null)
            {
                return ToDto(existing); // the same bytes again for the same case: the stored log
            }
            var entity = new EvaluationLogEntity
            {
                Sha256 = sha, CaseId = id, Content = bytes, Bytes = bytes.Length, Task = log.Task.Name, Capability = log.Task.Capability,
                SubjectModel = log.Subject.Model!, UploadedBy = caller.PrincipalId, UploadedAt = uow.Now,
            };
            uow.Db.EvaluationLogs.Add(entity);
            created = true;
            return ToDto(entity);
        }, ct);
        if (!result.IsOk)
        {
            return ApiResults.Problem(result.Error!);
        }
        return created ? TypedResults.Created($"/api/cases/{id}/evaluation-logs/{sha}", result.Value) : TypedResults.Ok(result.Value);
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> Read(string id, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        var evaluation = await db.Evaluations.AsNoTracking().FirstOrDefaultAsync(e => e.Id == id, ct);
        if (evaluation is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"evaluation {id}"));
        }
        var snap = await CaseSnapshot.LoadAsync(db, evaluation.CaseId, ct);
        if (snap!.Decide(ProtocolAction.ReadEvaluationLog, Caller.From(http.User)) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        var log = evaluation.LogSha256 is { } sha ? await db.EvaluationLogs.AsNoTracking().FirstOrDefaultAsync(l => l.Sha256 == sha, ct) : null;
        if (log is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"the log of evaluation {id} (it was recorded before logs were stored)"));
        }
        return TypedResults.File(log.Content, "application/json", $"{log.Sha256}.json");
    }

    /// <summary>
    /// The submission's evidence: the stored log it cites, bound to this case, evaluation, capability, task and subject
    /// model, recomputed; every figure the request claims must equal the recomputation. Returns the recomputed summary
    /// (whose figures are what gets recorded) and the log row to bind.
    /// </summary>
    internal static async Task<Result<(EvalSummary Summary, EvaluationLogEntity Log)>> CheckAsync(UnitOfWork uow, CaseSnapshot snap,
        SubmitEvaluationRequest request, bool verification, CancellationToken ct)
    {
        if (request.LogSha256 is not { } claimedSha)
        {
            return Invalid("logSha256", $"an evaluation is recorded only with its log: upload the log to POST /api/cases/{snap.Case.Id}/evaluation-logs and name its sha256 here");
        }
        var sha = claimedSha.StartsWith("sha256:", StringComparison.Ordinal) ? claimedSha["sha256:".Length..] : claimedSha;
        sha = sha.ToLowerInvariant();
        var stored = await uow.Db.EvaluationLogs.FirstOrDefaultAsync(l => l.Sha256 == sha, ct);
        if (stored is null)
        {
            return Invalid("logSha256", $"no log with sha256 {Cut(claimedSha)} was uploaded; upload it to POST /api/cases/{snap.Case.Id}/evaluation-logs first");
        }
        if (!LogEvidence.TryRead(stored.Content, out var log, out var unreadable))
        {
            return Invalid("logSha256", unreadable);
        }
        var usedBy = stored.EvaluationId
            ?? await uow.Db.Evaluations.AsNoTracking().Where(e => e.LogSha256 == sha).Select(e => e.Id).FirstOrDefaultAsync(ct);
        var (expected, source) = await ExpectedSubjectAsync(uow.Db, snap, request.SubjectCondition, verification, ct);
        if (Evidence.BindingRefusal(new EvidenceBinding
            {
                Sha256 = sha, CaseId = snap.Case.Id, LogCaseId = stored.CaseId, AlreadyEvidenceOf = usedBy,
                Capability = request.Capability, Task = request.Task, LogCapability = log.Task.Capability, LogTask = log.Task.Name,
                LogSubjectModel = log.Subject.Model ?? "", ExpectedSubjectModel = expected, ExpectedSubjectSource = source,
            }) is { } unbound)
        {
            return unbound;
        }
        // The margin δ is the capability's threat model's.
        var margin = snap.Margin(request.Capability);
        if (!LogEvidence.TryRecompute(log, margin, out var s, out var broken))
        {
            return Invalid("logSha256", broken);
        }
        if (log.Status != EvalStatus.Complete || s.Status != EvalStatus.Complete)
        {
            return Invalid("status", $"the log's run ended '{(log.Status != EvalStatus.Complete ? log.Status : s.Status)}'{(s.StatusReason is { } why ? $" ({why})" : "")}: it is not evidence; ask its errored samples again (embargo eval run --retry-errors LOG) and submit the complete run");
        }
        if (EvidenceFigures.FirstDifference(EvidenceFigures.Of(request), Figures(s)) is { } differs)
        {
            return Invalid(differs.Member, $"the request says {Cut(differs.Claimed)}, the log's records give {Cut(differs.Actual)}; every figure is recomputed from the log");
        }
        var inv = CultureInfo.InvariantCulture;
        if (request.Errors is { } errors && errors != s.Errors)
        {
            return Invalid("errors", string.Create(inv, $"the request says {errors}, the log holds {s.Errors} errored records"));
        }
        if (request.Records is { } records && records != s.Records)
        {
            return Invalid("records", string.Create(inv, $"the request says {records}, the log planned {s.Records} records"));
        }
        if (request.Margin is { } claimedMargin && Math.Abs(claimedMargin - margin) > EvidenceFigures.Tolerance)
        {
            return Invalid("margin", string.Create(inv, $"the run was judged against {claimedMargin}, the threat model's margin is {margin}"));
        }
        if (request.Verdict is { } verdict && verdict != (s.Verdict?.Verdict ?? ""))
        {
            return Invalid("verdict", $"the request says '{Cut(verdict)}', the log's records give '{s.Verdict?.Verdict ?? "none (no baseline)"}'");
        }
        if (request.UpliftUpper is { } upper && (s.Verdict is null || Math.Abs(upper - s.Verdict.Upper) > EvidenceFigures.Tolerance))
        {
            return Invalid("upliftUpper", string.Create(inv, $"the request says {upper:R}, the log's records give {(s.Verdict is { } v ? v.Upper.ToString("R", inv) : "none (no baseline)")}"));
        }
        return (s, stored);
    }

    /// <summary>
    /// The model the log's subject must be: the claimed registered condition's; without one, for a case run, the
    /// version's base condition's when it registered one. A verification run without a condition ran against the
    /// mitigated system, which is no registered condition: its subject is recorded as the log names it.
    /// </summary>
    private static async Task<(string? Model, string Source)> ExpectedSubjectAsync(EmbargoDb db, CaseSnapshot snap, string? condition, bool verification, CancellationToken ct)
    {
        if (condition is not null)
        {
            var model = await db.Conditions.AsNoTracking().Where(c => c.ModelVersionId == snap.Case.ModelVersionId && c.Name == condition).Select(c => c.ModelName).FirstOrDefaultAsync(ct);
            return (model, $"registered condition '{condition}'");
        }
        if (verification)
        {
            return (null, "");
        }
        var @base = await db.Conditions.AsNoTracking().Where(c => c.ModelVersionId == snap.Case.ModelVersionId && c.Kind == "base")
            .OrderBy(c => c.Name).Select(c => c.ModelName).FirstOrDefaultAsync(ct);
        return (@base, "the version's base condition (name the registered condition the subject ran as in subjectCondition)");
    }

    /// <summary>The recomputed summary in the contract's shape (what is recorded and compared).</summary>
    public static EvidenceFigures Figures(EvalSummary s) => new()
    {
        Task = s.Task,
        Capability = s.Capability,
        Samples = s.Samples,
        Subject = Condition(s.Subject),
        Baseline = s.Baseline is null ? null : Condition(s.Baseline),
        Uplift = s.Uplift is null ? null : new UpliftDto { Estimate = s.Uplift.Estimate, Ci95Low = s.Uplift.Ci95Low, Ci95High = s.Uplift.Ci95High, P = s.Uplift.P, Test = s.Uplift.Test },
    };

    private static ConditionDto Condition(ConditionResult c) => new()
    {
        Model = c.Model, Correct = c.Correct, Total = c.Total, Accuracy = c.Accuracy, Ci95Low = c.Ci95Low, Ci95High = c.Ci95High,
    };

    private static EvaluationLogDto ToDto(EvaluationLogEntity l) => new()
    {
        Sha256 = l.Sha256, CaseId = l.CaseId, Bytes = l.Bytes, Task = l.Task, Capability = l.Capability, SubjectModel = l.SubjectModel, EvaluationId = l.EvaluationId,
    };

    private static ProtocolError Invalid(string member, string problem) => ProtocolError.Validation($"{member}: {problem}") with { Member = member };

    private static string Cut(string text) => text.Length > 80 ? text[..80] + "…" : text;
}
