using Embargo.Protocol;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Models;

/// <summary>The one check that the caller is the developer whose organisation owns a model version.</summary>
public static class ModelOwnership
{
    /// <param name="doing">what only the owner may do, for the refusal: "releases it", "manages its grants and keys", …</param>
    public static async Task<Result<(ModelVersionEntity Version, ModelEntity Model)>> OwnedVersionAsync(UnitOfWork uow, string versionId, string doing, CancellationToken ct)
    {
        if (uow.Caller.Require(Role.Developer) is { } denied)
        {
            return denied;
        }
        var version = await uow.Db.ModelVersions.FirstOrDefaultAsync(v => v.Id == versionId, ct);
        if (version is null)
        {
            return ProtocolError.NotFound($"model version {versionId}");
        }
        var model = await uow.Db.Models.FirstAsync(m => m.Id == version.ModelId, ct);
        return model.OrganisationId == uow.Caller.OrganisationId
            ? (version, model)
            : ProtocolError.Forbidden($"only the model's developer {doing}");
    }
}
