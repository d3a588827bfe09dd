using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Protocol.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Models;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Releases;

public static class ReleaseEndpoints
{
    public static RouteGroupBuilder MapReleases(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Releases").RequireAuthorization();
        group.MapPost("/releases", Release);
        group.MapPost("/violations", ReportViolation);
        return group;
    }

    /// <summary>Rule 1: no release to a tier without a valid certificate for those weights at a tier at least as high.</summary>
    private static async Task<Results<Ok<ReleaseDto>, ProblemHttpResult>> Release(ReleaseRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<ReleaseDto>(caller, async (uow, token) =>
        {
            var tier = Tiers.Parse(request.Tier);
            if (!tier.IsOk)
            {
                return tier.Error!;
            }
            if (tier.Value <= Tier.Internal)
            {
                return ProtocolError.Validation($"{tier.Value.Name()} is not a release: the developer keeps the weights; releases start at staged");
            }
            var owned = await ModelOwnership.OwnedVersionAsync(uow, request.ModelVersionId, ProtocolAction.Release, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            var version = owned.Value.Version;
            var certificates = await uow.Db.Certificates.Where(c => c.ModelVersionId == version.Id && c.Status != CertificateStatus.Pending).ToListAsync(token);
            var judged = certificates.Select(c => (Tiers.Parse(c.Tier).Value, c.Status == CertificateStatus.Issued)).ToList();
            if (Rules.ReleaseAllowed(tier.Value, judged) is { } refused)
            {
                return refused;
            }
            var certificate = certificates.Where(c => c.Status == CertificateStatus.Issued && Tiers.Parse(c.Tier).Value >= tier.Value)
                .OrderBy(c => Tiers.Parse(c.Tier).Value).First();
            var release = new ReleaseEntity { Id = Ids.New("rel"), ModelVersionId = version.Id, Tier = tier.Value.Name(), CertificateId = certificate.Id, CreatedAt = uow.Now };
            uow.Db.Releases.Add(release);
            var @case = await uow.Db.Cases.FirstAsync(c => c.Id == certificate.CaseId, token);
            if (@case.State == CaseState.Certification.Name())
            {
                @case.State = CaseState.Released.Name();
            }
            var index = uow.Append("release.published", new JsonObject
            {
                ["release"] = release.Id, ["modelVersion"] = version.Id, ["manifestDigest"] = version.ManifestDigest,
                ["tier"] = release.Tier, ["certificate"] = certificate.Id, ["case"] = @case.Id,
            });
            return new ReleaseDto { Id = release.Id, ModelVersionId = version.Id, Tier = release.Tier, CertificateId = certificate.Id, LedgerIndex = index };
        }, ct));
    }

    /// <summary>Rule 4: weights seen released above what a valid certificate allows record a violation and mark the developer.</summary>
    private static async Task<Results<Ok<ViolationDto>, ProblemHttpResult>> ReportViolation(ReportViolationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<ViolationDto>(caller, async (uow, token) =>
        {
            // A sighting marks a developer publicly: rival labs cannot file them; regulators, evaluators,
            // affected parties and certifiers can.
            if (Access.Decide(ProtocolAction.ReportViolation, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            var digest = Sha256Digest.Parse(request.ManifestDigest, "manifestDigest");
            if (!digest.IsOk)
            {
                return digest.Error!;
            }
            var observed = Tiers.Parse(request.ObservedTier, "observedTier");
            if (!observed.IsOk)
            {
                return observed.Error!;
            }
            if (string.IsNullOrWhiteSpace(request.Source))
            {
                return ProtocolError.Validation("a violation report names its source (where the weights were seen)");
            }
            var d = digest.Value.ToString();
            var version = await uow.Db.ModelVersions.FirstOrDefaultAsync(v => v.ManifestDigest == d, token);
            if (version is null)
            {
                return new ViolationDto { Id = "", ManifestDigest = d, ObservedTier = observed.Value.Name(), Recorded = false, Verdict = "unregistered: these weights are not registered with Embargo" };
            }
            var certified = await CertificateEndpoints.HighestValidTierAsync(uow.Db, version.Id, token);
            if (!Rules.IsViolation(observed.Value, certified))
            {
                return new ViolationDto
                {
                    Id = "", ManifestDigest = d, ObservedTier = observed.Value.Name(), CertifiedTier = certified?.Name(), Recorded = false,
                    Verdict = $"covered: a valid certificate allows {certified?.Name() ?? "internal use only"}",
                };
            }
            var model = await uow.Db.Models.FirstAsync(m => m.Id == version.ModelId, token);
            var developer = await uow.Db.Organisations.FirstAsync(o => o.Id == model.OrganisationId, token);
            var violation = new ViolationEntity
            {
                Id = Ids.New("vio"), ManifestDigest = d, ObservedTier = observed.Value.Name(), CertifiedTier = certified?.Name(),
                ModelVersionId = version.Id, OrganisationId = developer.Id, Source = request.Source, ReportedBy = caller.PrincipalId, CreatedAt = uow.Now,
            };
            uow.Db.Violations.Add(violation);
            developer.BadActor = true;
            developer.BadActorReason = $"weights {d} seen at {observed.Value.Name()} with {(certified is null ? "no valid certificate" : $"a certificate only for {certified.Value.Name()}")}";
            uow.Append("violation.recorded", new JsonObject
            {
                ["violation"] = violation.Id, ["manifestDigest"] = d, ["observedTier"] = violation.ObservedTier, ["certifiedTier"] = violation.CertifiedTier,
                ["developer"] = developer.Id, ["source"] = request.Source, ["rule"] = "rule-4",
            });
            return new ViolationDto
            {
                Id = violation.Id, ManifestDigest = d, ObservedTier = violation.ObservedTier, CertifiedTier = violation.CertifiedTier,
                Developer = developer.Name, Recorded = true, Verdict = "violation: " + developer.BadActorReason,
            };
        }, ct));
    }
}
