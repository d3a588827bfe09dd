using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Weights;
using static Embargo.Cli.Infrastructure.Common;

namespace Embargo.Cli.Commands;

/// <summary>The `downloadable` tier over the server: grant, deposit a seal's wrapped keys, fetch your key.</summary>
public static class WeightsKeyCommands
{
    public static Command Grant()
    {
        var version = new Argument<string>("model-version-id");
        var principal = Required("--principal", "the grantee principal id (it must have an X25519 encryption key)");
        return Verb("grant", "grant a principal the sealed weights of a version (developer)", [version, principal],
            async (r, c, ct) => await c.Weights.GrantAsync(r.GetValue(version)!, new GrantRequest { PrincipalId = r.GetValue(principal)! }, ct));
    }

    public static Command Deposit()
    {
        var sealedDir = new Argument<string>("sealed-dir");
        var version = Required("--version", "model version id");
        var strip = new Option<bool>("--strip") { Description = "then remove the wrapped keys from sealed.json, so the seal can be published" };
        return Verb("deposit-keys", "hand a seal's wrapped keys to the server, released to grantees only under a downloadable certificate (developer)", [sealedDir, version, strip],
            async (r, c, ct) =>
            {
                var dir = r.GetValue(sealedDir)!;
                var manifest = Unwrap(WeightsSealer.ReadManifest(dir));
                var result = await c.Weights.DepositKeysAsync(r.GetValue(version)!, new DepositKeysRequest
                {
                    SealId = manifest.SealId, ManifestDigest = manifest.ManifestDigest,
                    Keys = manifest.Recipients.Select(k => new WrappedKeyDto { KeyId = k.KeyId, EphemeralPublicKey = k.EphemeralPublicKey, WrappedDataKey = k.WrappedDataKey }).ToList(),
                }, ct);
                if (r.GetValue(strip))
                {
                    Unwrap(WeightsSealer.ReplaceRecipients(dir, []));
                }
                return result;
            });
    }

    public static Command FetchKey()
    {
        var sealedDir = new Argument<string>("sealed-dir");
        var version = Required("--version", "model version id");
        return Verb("fetch-key", "ask the server for your wrapped key and put it into sealed.json (grantee)", [sealedDir, version],
            async (r, c, ct) =>
            {
                var dir = r.GetValue(sealedDir)!;
                var manifest = Unwrap(WeightsSealer.ReadManifest(dir));
                var release = await c.Weights.RequestKeyAsync(r.GetValue(version)!, ct);
                if (release.SealId != manifest.SealId)
                {
                    throw new UserInputException($"the server released a key for seal {release.SealId}, but {dir} is seal {manifest.SealId}");
                }
                var key = new WrappedKey { KeyId = release.Key.KeyId, EphemeralPublicKey = release.Key.EphemeralPublicKey, WrappedDataKey = release.Key.WrappedDataKey };
                Unwrap(WeightsSealer.ReplaceRecipients(dir, [.. manifest.Recipients.Where(k => k.KeyId != key.KeyId), key]));
                return release;
            });
    }

    private static T Unwrap<T>(WeightsResult<T> result) => result.IsOk ? result.Value : throw new UserInputException(result.Error!.ToString());
}
