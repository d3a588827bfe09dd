using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Models;
using Embargo.Server.Releases;
using Embargo.Server.Storage;
using Embargo.Weights;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Weights;

/// <summary>
/// The `downloadable` tier: the developer deposits a seal's wrapped data keys (one per grantee X25519 key) and
/// grants principals; a grantee receives its wrapped key only while a valid certificate for `downloadable` or
/// higher covers those weights (rule 1). The server never holds the data key or the weights.
/// </summary>
public static class WeightsEndpoints
{
    public static RouteGroupBuilder MapWeights(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/model-versions/{id}").WithTags("Weights").RequireAuthorization();
        group.MapPost("/grants", Grant);
        group.MapPost("/wrapped-keys", Deposit);
        group.MapPost("/key-requests", RequestKey);
        return group;
    }

    private static async Task<Results<Ok<GrantDto>, ProblemHttpResult>> Grant(string id, GrantRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<GrantDto>(caller, async (uow, token) =>
        {
            var owned = await ModelOwnership.OwnedVersionAsync(uow, id, ProtocolAction.GrantWeights, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            var grantee = await uow.Db.Principals.FirstOrDefaultAsync(p => p.Id == request.PrincipalId, token);
            if (grantee is null)
            {
                return ProtocolError.NotFound($"principal {request.PrincipalId}");
            }
            if (grantee.EncryptionKey is null)
            {
                return ProtocolError.Validation($"principal {grantee.Id} has no X25519 encryption key registered; it could not open sealed weights");
            }
            var existing = await uow.Db.WeightsGrants.FirstOrDefaultAsync(g => g.ModelVersionId == id && g.PrincipalId == grantee.Id, token);
            if (existing is not null)
            {
                return new GrantDto { Id = existing.Id, ModelVersionId = id, PrincipalId = grantee.Id };
            }
            var grant = new WeightsGrantEntity { Id = Ids.New("grant"), ModelVersionId = id, PrincipalId = grantee.Id, CreatedAt = uow.Now };
            uow.Db.WeightsGrants.Add(grant);
            uow.Append("weights.granted", new JsonObject { ["grant"] = grant.Id, ["modelVersion"] = id, ["principal"] = grantee.Id, ["organisation"] = grantee.OrganisationId });
            return new GrantDto { Id = grant.Id, ModelVersionId = id, PrincipalId = grantee.Id };
        }, ct));
    }

    private static async Task<Results<Ok<DepositKeysDto>, ProblemHttpResult>> Deposit(string id, DepositKeysRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<DepositKeysDto>(caller, async (uow, token) =>
        {
            var owned = await ModelOwnership.OwnedVersionAsync(uow, id, ProtocolAction.DepositKeys, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            if (request.ManifestDigest != owned.Value.Version.ManifestDigest)
            {
                return ProtocolError.Validation($"the seal is of weights {request.ManifestDigest}, not of this version's {owned.Value.Version.ManifestDigest}");
            }
            if (string.IsNullOrWhiteSpace(request.SealId) || request.Keys.Count == 0)
            {
                return ProtocolError.Validation("a deposit names the seal id and at least one wrapped key");
            }
            foreach (var key in request.Keys)
            {
                if (!key.KeyId.StartsWith("x25519:", StringComparison.Ordinal) || !ApiResults.IsBase64(key.EphemeralPublicKey) || !ApiResults.IsBase64(key.WrappedDataKey))
                {
                    return ProtocolError.Validation($"wrapped key {key.KeyId} is malformed (x25519:<hex> id, base64 ephemeral key and wrapped key)");
                }
            }
            uow.Db.WrappedKeys.AddRange(request.Keys.Select(k => new WrappedKeyEntity
            {
                Id = Ids.New("wk"), ModelVersionId = id, SealId = request.SealId, KeyId = k.KeyId,
                EphemeralPublicKey = k.EphemeralPublicKey, WrappedDataKey = k.WrappedDataKey, CreatedAt = uow.Now,
            }));
            uow.Append("weights.sealed", new JsonObject
            {
                ["modelVersion"] = id, ["sealId"] = request.SealId, ["manifestDigest"] = request.ManifestDigest,
                ["keyIds"] = new JsonArray(request.Keys.Select(k => (JsonNode?)JsonValue.Create(k.KeyId)).ToArray()),
            });
            return new DepositKeysDto { ModelVersionId = id, SealId = request.SealId, Keys = request.Keys.Count };
        }, ct));
    }

    private static async Task<Results<Ok<KeyReleaseDto>, ProblemHttpResult>> RequestKey(string id, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<KeyReleaseDto>(caller, async (uow, token) =>
        {
            // Only a principal holding a grant on the version receives its key (the access table's Grantee relation).
            var owned = await ModelOwnership.OwnedVersionAsync(uow, id, ProtocolAction.ReleaseKey, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            var version = owned.Value.Version;
            // Rule 1 on the signed statements, never on the stored tier column.
            var certificates = await SignedCertificates.IssuedForAsync(uow.Db, version, token);
            var covering = certificates.Where(c => c.Valid && c.SignedTier >= Tier.Downloadable).OrderByDescending(c => c.SignedTier).Select(c => c.Entity).FirstOrDefault();
            if (covering is null)
            {
                return SignedCertificates.Misstated(Tier.Downloadable, certificates, "its key stays sealed")
                    ?? ProtocolError.Violation("rule-1", $"no valid certificate for downloadable or higher covers model version {id}; its key stays sealed");
            }
            var principal = await uow.Db.Principals.FirstAsync(p => p.Id == caller.PrincipalId, token);
            var keyId = principal.EncryptionKey is null ? null : KeyFiles.KeyId(Convert.FromBase64String(principal.EncryptionKey));
            var wrapped = (await uow.Db.WrappedKeys.Where(k => k.ModelVersionId == id && k.KeyId == keyId).ToListAsync(token))
                .OrderByDescending(k => k.CreatedAt).FirstOrDefault();
            if (wrapped is null)
            {
                return ProtocolError.NotFound($"a wrapped key for {keyId ?? "the caller (no encryption key registered)"} on model version {id}");
            }
            uow.Append("weights.key-released", new JsonObject
            {
                ["modelVersion"] = id, ["sealId"] = wrapped.SealId, ["principal"] = caller.PrincipalId, ["keyId"] = wrapped.KeyId, ["certificate"] = covering.Id,
            });
            return new KeyReleaseDto
            {
                ModelVersionId = id, SealId = wrapped.SealId, CertificateId = covering.Id,
                Key = new WrappedKeyDto { KeyId = wrapped.KeyId, EphemeralPublicKey = wrapped.EphemeralPublicKey, WrappedDataKey = wrapped.WrappedDataKey },
            };
        }, ct));
    }

}
