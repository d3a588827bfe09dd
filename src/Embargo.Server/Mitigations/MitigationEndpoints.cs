using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Disclosures;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Mitigations;

public static class MitigationEndpoints
{
    public static IServiceCollection AddMitigations(this IServiceCollection services) =>
        services.AddHostedService<EscalationService>();

    public static RouteGroupBuilder MapMitigations(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/mitigations").WithTags("Mitigations").RequireAuthorization();
        group.MapPost("/{id}/deadline", SetDeadline);
        group.MapPost("/{id}/report", Report);
        group.MapPost("/{id}/verify", Verify);
        group.MapPost("/{id}/fines", Fine);
        group.MapPost("/escalations", Escalate);
        return group;
    }

    private static async Task<Result<T>> OnMitigation<T>(HttpContext http, LedgerWriter writer, string id,
        Func<UnitOfWork, CaseSnapshot, MitigationEntity, Caller, CancellationToken, Task<Result<T>>> body, CancellationToken ct)
    {
        var db = http.RequestServices.GetRequiredService<EmbargoDb>();
        var caseId = await (from m in db.Mitigations join f in db.Findings on m.FindingId equals f.Id where m.Id == id select f.CaseId).FirstOrDefaultAsync(ct);
        if (caseId is null)
        {
            return ProtocolError.NotFound($"mitigation {id}");
        }
        var caller = Caller.From(http.User);
        return await CaseEndpoints.OnCase<T>(writer, caller, caseId, (uow, snap, token) => body(uow, snap, snap.Mitigations.First(m => m.Id == id), caller, token), ct);
    }

    /// <summary>Rule 3: only the case's regulator sets, extends or shortens a deadline.</summary>
    internal static async Task<Results<Ok<MitigationDto>, ProblemHttpResult>> SetDeadline(string id, SetDeadlineRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct) =>
        ApiResults.From(await OnMitigation<MitigationDto>(http, writer, id, (uow, snap, m, caller, token) =>
        {
            Result<MitigationDto> result;
            if (snap.Decide(ProtocolAction.SetDeadline, caller) is { } denied)
            {
                result = denied;
            }
            else if (request.DueAt <= uow.Now)
            {
                result = ProtocolError.Validation($"the deadline {request.DueAt:O} is not in the future");
            }
            else if (m.Status == MitigationStatus.Verified)
            {
                result = ProtocolError.Validation($"mitigation {id} is already verified");
            }
            else
            {
                var previous = m.DueAt;
                m.DueAt = request.DueAt;
                uow.Append(previous is null ? "deadline.set" : "deadline.changed", new JsonObject
                {
                    ["mitigation"] = id, ["case"] = snap.Case.Id, ["party"] = m.PartyOrganisationId,
                    ["dueAt"] = m.DueAt.Value.UtcDateTime.ToString("O"), ["previous"] = previous?.UtcDateTime.ToString("O"),
                });
                result = CaseSnapshot.ToDto(m);
            }
            return Task.FromResult(result);
        }, ct));

    internal static async Task<Results<Ok<MitigationDto>, ProblemHttpResult>> Report(string id, ReportMitigationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct) =>
        ApiResults.From(await OnMitigation<MitigationDto>(http, writer, id, (uow, snap, m, caller, token) =>
        {
            Result<MitigationDto> result;
            if (snap.Decide(ProtocolAction.ReportMitigation, caller, [m.PartyOrganisationId]) is { } denied)
            {
                result = denied;
            }
            else if (m.Status == MitigationStatus.Verified)
            {
                result = ProtocolError.Validation($"mitigation {id} is already verified");
            }
            else if (Explanations.Reason(request.Description, "description") is { } vague)
            {
                result = vague;
            }
            else
            {
                m.Status = MitigationStatus.Reported;
                m.Description = request.Description;
                m.ReportedAt = uow.Now;
                m.ReportedIndex = uow.Append("mitigation.reported", new JsonObject { ["mitigation"] = id, ["case"] = snap.Case.Id, ["party"] = m.PartyOrganisationId });
                AdvisoryCsaf.Revise(uow, snap, m.FindingId, m.ReportedIndex.Value, $"A mitigation ({id}) was reported; it awaits verification.");
                result = CaseSnapshot.ToDto(m);
            }
            return Task.FromResult(result);
        }, ct));

    /// <summary>
    /// A mitigation is verified by re-running the finding's evaluation against the mitigated system: only a not-novel
    /// verdict (uplift shown below the threat model's margin) verifies; novel fails it; inconclusive is refused (rule 9).
    /// </summary>
    private static async Task<Results<Ok<MitigationDto>, ProblemHttpResult>> Verify(string id, VerifyMitigationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct) =>
        ApiResults.From(await OnMitigation<MitigationDto>(http, writer, id, (uow, snap, m, caller, token) =>
        {
            Result<MitigationDto> result;
            var evaluation = snap.Evaluation(request.EvaluationId);
            var finding = snap.Findings.First(f => f.Id == m.FindingId);
            if (snap.Decide(ProtocolAction.VerifyMitigation, caller) is { } denied)
            {
                result = denied;
            }
            else if (m.Status != MitigationStatus.Reported)
            {
                result = ProtocolError.Violation("rule-2", $"mitigation {id} is {m.Status}; only a reported mitigation can be verified");
            }
            else if (evaluation is null || evaluation.Purpose != EvaluationPurpose.Verification || evaluation.MitigationId != id)
            {
                result = ProtocolError.Validation($"evaluation {request.EvaluationId} is not a verification run for mitigation {id}");
            }
            else if (evaluation.Capability != finding.Capability)
            {
                result = ProtocolError.Validation($"evaluation {evaluation.Id} measured '{evaluation.Capability}', not '{finding.Capability}'");
            }
            else if (Evidence.CitationRefusal(evaluation.Id, evaluation.Uplift is not null) is { } baselineless)
            {
                result = baselineless;
            }
            else if (!snap.CountsAsSafetyEvidence(evaluation))
            {
                result = ProtocolError.Violation("rule-9", $"verification run {evaluation.Id} was not submitted by an independent evaluator assigned to the case; it cannot verify a mitigation");
            }
            else if (Verification.RunRefusal(id, m.ReportedIndex, evaluation.LedgerIndex, snap.CurrentReference(evaluation)) is { } beforeTheFix)
            {
                result = beforeTheFix;
            }
            else if (EvidenceVerdicts.VerificationRefusal(id, evaluation.Id, snap.Verdict(evaluation)) is { } undecided)
            {
                // Rule 9: an inconclusive run neither verifies nor fails the mitigation; it changes nothing.
                result = undecided;
            }
            else if (!snap.Verdict(evaluation).IsNotNovel)
            {
                var failedAt = uow.Append("mitigation.verification-failed", new JsonObject
                {
                    ["mitigation"] = id, ["evaluation"] = evaluation.Id, ["uplift"] = evaluation.Uplift, ["p"] = evaluation.P, ["verdict"] = snap.Verdict(evaluation).Verdict,
                });
                m.Status = MitigationStatus.Required;
                AdvisoryCsaf.Revise(uow, snap, m.FindingId, failedAt, $"The verification of mitigation {id} failed; the mitigation is required again.");
                result = CaseSnapshot.ToDto(m);
            }
            else
            {
                m.Status = MitigationStatus.Verified;
                m.VerifiedAt = uow.Now;
                m.VerificationEvaluationId = evaluation.Id;
                var verifiedAt = uow.Append("mitigation.verified", new JsonObject
                {
                    ["mitigation"] = id, ["case"] = snap.Case.Id, ["finding"] = finding.Id, ["evaluation"] = evaluation.Id,
                    ["uplift"] = evaluation.Uplift, ["p"] = evaluation.P,
                    ["verdict"] = snap.Verdict(evaluation).Verdict, ["margin"] = snap.Verdict(evaluation).Margin, ["upliftUpper"] = snap.Verdict(evaluation).Upper,
                });
                AdvisoryCsaf.Revise(uow, snap, m.FindingId, verifiedAt, $"Mitigation {id} is verified: the finding's evaluation re-run against the mitigated system shows no novel uplift.");
                result = CaseSnapshot.ToDto(m);
            }
            return Task.FromResult(result);
        }, ct));

    private static async Task<Results<Ok<MitigationDto>, ProblemHttpResult>> Fine(string id, FineRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct) =>
        ApiResults.From(await OnMitigation<MitigationDto>(http, writer, id, (uow, snap, m, caller, token) =>
        {
            Result<MitigationDto> result;
            if (snap.Decide(ProtocolAction.Fine, caller) is { } denied)
            {
                result = denied;
            }
            else if (request.Amount <= 0 || string.IsNullOrWhiteSpace(request.Currency) || request.Currency.Length != 3 || string.IsNullOrWhiteSpace(request.Reason))
            {
                result = ProtocolError.Validation("a fine needs a positive amount, a 3-letter currency and a reason");
            }
            else if (m.Escalations == 0)
            {
                result = ProtocolError.Violation("rule-3", $"mitigation {id} has not been escalated as overdue; fines follow escalation");
            }
            else
            {
                var fine = new FineEntity { Id = Ids.New("fine"), MitigationId = id, OrganisationId = m.PartyOrganisationId, Amount = request.Amount, Currency = request.Currency.ToUpperInvariant(), Reason = request.Reason, CreatedAt = uow.Now };
                uow.Db.Fines.Add(fine);
                uow.Append("fine.recorded", new JsonObject
                {
                    ["fine"] = fine.Id, ["mitigation"] = id, ["organisation"] = fine.OrganisationId,
                    ["amount"] = fine.Amount.ToString(System.Globalization.CultureInfo.InvariantCulture), ["currency"] = fine.Currency, ["reason"] = fine.Reason,
                });
                result = CaseSnapshot.ToDto(m);
            }
            return Task.FromResult(result);
        }, ct));

    private static async Task<Results<Ok<EscalationReportDto>, ProblemHttpResult>> Escalate(HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        if (Access.Decide(ProtocolAction.Escalate, caller.Actor, Subject.None) is { } denied)
        {
            return ApiResults.Problem(denied);
        }
        return ApiResults.From(await EscalateOverdueAsync(writer, caller, ct, http.RequestServices.GetRequiredService<IOptions<EmbargoOptions>>().Value.AcknowledgementWindow));
    }

    /// <summary>
    /// Rule 3: every unverified mitigation past its deadline escalates, once per deadline passed. The same sweep reminds
    /// each recipient that left a disclosure unacknowledged past <paramref name="acknowledgementWindow"/> (once).
    /// </summary>
    public static Task<Result<EscalationReportDto>> EscalateOverdueAsync(LedgerWriter writer, Caller caller, CancellationToken ct, TimeSpan? acknowledgementWindow = null) =>
        writer.ExecuteAsync<EscalationReportDto>(caller, async (uow, token) =>
        {
            var open = await uow.Db.Mitigations.Where(m => m.Status != MitigationStatus.Verified && m.DueAt != null).ToListAsync(token);
            var overdue = open.Where(m => m.DueAt < uow.Now && m.EscalatedDueAt != m.DueAt).ToList();
            foreach (var m in overdue)
            {
                m.Escalations++;
                m.EscalatedDueAt = m.DueAt;
                uow.Append("mitigation.escalated", new JsonObject
                {
                    ["mitigation"] = m.Id, ["party"] = m.PartyOrganisationId, ["dueAt"] = m.DueAt!.Value.UtcDateTime.ToString("O"), ["rule"] = "rule-3",
                });
            }
            var reminded = await DisclosureInbox.RemindAsync(uow, acknowledgementWindow ?? Embargo.Protocol.Disclosures.Inbox.DefaultAcknowledgementWindow, token);
            return new EscalationReportDto { Escalated = overdue.Select(CaseSnapshot.ToDto).ToList(), Reminded = reminded };
        }, ct);
}

/// <summary>Escalates overdue mitigations on a timer (TimeProvider-driven, so tests can move time).</summary>
public sealed partial class EscalationService(LedgerWriter writer, TimeProvider time, IOptions<EmbargoOptions> options, ILogger<EscalationService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var period = new PeriodicTimer(options.Value.EscalationInterval, time);
        try
        {
            while (await period.WaitForNextTickAsync(stoppingToken))
            {
                var result = await MitigationEndpoints.EscalateOverdueAsync(writer, Caller.System, stoppingToken, options.Value.AcknowledgementWindow);
                if (result.IsOk && result.Value.Escalated.Count > 0)
                {
                    LogEscalated(logger, result.Value.Escalated.Count);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Escalated {Count} overdue mitigations")]
    private static partial void LogEscalated(ILogger logger, int count);
}
