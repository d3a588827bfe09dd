using Embargo.Protocol;
using Embargo.Server.Cases;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;

namespace Embargo.Server.Models;

/// <summary>The one check that the caller may do <c>action</c> on a model version (the access table; for writes: its developer).</summary>
public static class ModelOwnership
{
    public static async Task<Result<(ModelVersionEntity Version, ModelEntity Model)>> OwnedVersionAsync(UnitOfWork uow, string versionId, ProtocolAction action, CancellationToken ct)
    {
        if (await CaseSubjects.ForVersionAsync(uow.Db, versionId, ct) is not { } found)
        {
            return ProtocolError.NotFound($"model version {versionId}");
        }
        return Access.Decide(action, uow.Caller.Actor, found.Subject) is { } refused ? refused : (found.Version, found.Model);
    }
}
