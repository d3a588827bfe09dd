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

namespace Embargo.Server.Releases;

public static class ReleaseEndpoints
{
    public static RouteGroupBuilder MapReleases(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Releases").RequireAuthorization();
        group.MapPost("/releases", Release);
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
                return ProtocolError.Validation($"tier: {tier.Value.Name()} is not a release (the developer keeps the weights, no certificate is needed and nothing is published); releases start at staged");
            }
            var owned = await ModelOwnership.OwnedVersionAsync(uow, request.ModelVersionId, ProtocolAction.Release, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            var version = owned.Value.Version;
            // One release per version and tier: a repeat (or a concurrent twin, serialised by the writer) answers with it.
            var tierName = tier.Value.Name();
            var existing = await uow.Db.Releases.AsNoTracking().FirstOrDefaultAsync(r => r.ModelVersionId == version.Id && r.Tier == tierName, token);
            if (existing is not null)
            {
                return await RepeatAsync(uow, version, tier.Value, existing, token);
            }
            if (Denials.ReleaseRefusal(tier.Value, await Cases.DenialEndpoints.StandingAsync(uow.Db, version.Id, token)) is { } denied11)
            {
                return denied11;
            }
            // Rule 1 on the signed statements: the tier a certificate allows is the one its certifier signed.
            var certificates = await SignedCertificates.IssuedForAsync(uow.Db, version, token);
            if (SignedCertificates.ReleaseAllowed(tier.Value, certificates) is { } refused)
            {
                return refused;
            }
            var certificate = certificates.Where(c => c.Valid && c.SignedTier >= tier.Value).OrderBy(c => c.SignedTier).First().Entity;
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
            release.LedgerIndex = index;
            return new ReleaseDto { Id = release.Id, ModelVersionId = version.Id, Tier = release.Tier, CertificateId = certificate.Id, LedgerIndex = index };
        }, ct));
    }

    /// <summary>
    /// A repeated release answers the existing one, unless its certificate no longer holds (flagged after an accepted incident,
    /// superseded) and the version has been re-certified since at a tier at least the release's: then the release is bound to the
    /// newest such certificate, the re-certified case is released again, and a <c>release.published</c> leaf says so
    /// (<c>rebinds</c>: the certificate it was bound to).
    /// </summary>
    private static async Task<Result<ReleaseDto>> RepeatAsync(UnitOfWork uow, ModelVersionEntity version, Tier tier, ReleaseEntity existing, CancellationToken ct)
    {
        var certificates = await SignedCertificates.IssuedForAsync(uow.Db, version, ct);
        var sameCase = await uow.Db.Certificates.AsNoTracking().Where(c => c.ModelVersionId == version.Id && c.IssuedIndex != null).ToListAsync(ct);
        var bound = sameCase.FirstOrDefault(c => c.Id == existing.CertificateId);
        var holds = bound is not null && certificates.Any(c => c.Valid && c.Entity.Id == bound.Id)
            && Gateway.GatewayEndpoints.StandingOf(bound, sameCase.Where(c => c.CaseId == bound.CaseId)) == "valid";
        var newer = certificates.Where(c => c.Valid && c.SignedTier >= tier && c.Entity.Id != existing.CertificateId).MaxBy(c => c.Entity.IssuedIndex)?.Entity;
        if (holds || newer is null)
        {
            return new ReleaseDto { Id = existing.Id, ModelVersionId = version.Id, Tier = existing.Tier, CertificateId = existing.CertificateId, LedgerIndex = existing.LedgerIndex };
        }
        if (Denials.ReleaseRefusal(tier, await Cases.DenialEndpoints.StandingAsync(uow.Db, version.Id, ct)) is { } denied11)
        {
            return denied11;
        }
        var release = await uow.Db.Releases.FirstAsync(r => r.Id == existing.Id, ct);
        var previous = release.CertificateId;
        release.CertificateId = newer.Id;
        var @case = await uow.Db.Cases.FirstAsync(c => c.Id == newer.CaseId, ct);
        if (@case.State == CaseState.Certification.Name())
        {
            @case.State = CaseState.Released.Name();
        }
        release.LedgerIndex = uow.Append("release.published", new JsonObject
        {
            ["release"] = release.Id, ["modelVersion"] = version.Id, ["manifestDigest"] = version.ManifestDigest,
            ["tier"] = release.Tier, ["certificate"] = newer.Id, ["case"] = @case.Id, ["rebinds"] = previous,
        });
        return new ReleaseDto { Id = release.Id, ModelVersionId = version.Id, Tier = release.Tier, CertificateId = newer.Id, LedgerIndex = release.LedgerIndex };
    }
}
