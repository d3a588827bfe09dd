using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

/// <summary>Rule 11: a denial stands for the version at its tier and above, across cases, until its regulator lifts it.</summary>
public static class DenialEndpoints
{
    public static RouteGroupBuilder MapDenials(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/cases").WithTags("Cases").RequireAuthorization();
        group.MapPost("/{id}/lift-denial", Lift);
        return group;
    }

    /// <summary>The denials of a model version that stand (denied cases whose denial was not lifted).</summary>
    public static async Task<List<DenialFacts>> StandingAsync(EmbargoDb db, string modelVersionId, CancellationToken ct)
    {
        var denied = CaseState.Denied.Name();
        var cases = await db.Cases.AsNoTracking()
            .Where(c => c.ModelVersionId == modelVersionId && c.State == denied && c.DenialLiftReason == null)
            .ToListAsync(ct);
        return cases.OrderBy(c => c.Id, StringComparer.Ordinal)
            .Select(c => new DenialFacts(c.Id, Tiers.Parse(c.RequestedTier).Value, c.RegulatorOrganisationId, c.DenialReason ?? ""))
            .ToList();
    }

    private static async Task<Results<Ok<CaseDto>, ProblemHttpResult>> Lift(string id, LiftDenialRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await CaseEndpoints.OnCase<string>(writer, caller, id, (uow, snap, token) =>
        {
            Result<string> decided = id;
            if ((snap.Decide(ProtocolAction.LiftDenial, caller)
                    ?? Denials.LiftRefusal(snap.State, snap.Case.DenialLiftReason is not null, request.Reason)) is { } refused)
            {
                decided = refused;
            }
            else
            {
                snap.Case.DenialLiftedAt = uow.Now;
                snap.Case.DenialLiftReason = request.Reason.Trim();
                uow.Append("denial.lifted", new JsonObject
                {
                    ["case"] = id, ["modelVersion"] = snap.Case.ModelVersionId, ["tier"] = snap.Case.RequestedTier,
                    ["reason"] = snap.Case.DenialLiftReason, ["rule"] = "rule-11",
                });
            }
            return Task.FromResult(decided);
        }, ct);
        if (!result.IsOk)
        {
            return ApiResults.Problem(result.Error!);
        }
        var db = http.RequestServices.GetRequiredService<EmbargoDb>();
        return TypedResults.Ok((await CaseSnapshot.LoadAsync(db, id, ct))!.ToDto());
    }
}
