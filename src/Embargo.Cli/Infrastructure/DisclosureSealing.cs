using Embargo.Contracts;
using Embargo.Protocol.Disclosures;
using Embargo.Weights;

namespace Embargo.Cli.Infrastructure;

/// <summary>Private disclosure detail is sealed here, on the discloser's machine, to each recipient's key; the server only relays ciphertext.</summary>
public static class DisclosureSealing
{
    /// <summary>Seals <paramref name="detail"/> to every key of every recipient organisation (one envelope per key holder).</summary>
    public static async Task<IReadOnlyList<SealedDetailDto>> SealForRecipientsAsync(EmbargoClient client, string findingId, byte[] detail, CancellationToken ct)
    {
        var recipients = await client.Disclosures.RecipientKeysAsync(findingId, ct);
        var missing = recipients.Where(r => r.PublicKey is null).Select(r => r.OrganisationId).ToList();
        if (missing.Count > 0)
        {
            throw new UserInputException($"no X25519 key registered for recipient organisation(s) {string.Join(", ", missing)}: their detail cannot be sealed");
        }
        return recipients.Select(r => new SealedDetailDto
        {
            OrganisationId = r.OrganisationId,
            PrincipalId = r.PrincipalId,
            Ciphertext = SealedEnvelope.Seal(detail, Convert.FromBase64String(r.PublicKey!), SealedEnvelope.Context(findingId, r.OrganisationId)),
        }).ToList();
    }

    public static async Task<byte[]> OpenAsync(EmbargoClient client, string disclosureId, string identityFile, CancellationToken ct)
    {
        var key = KeyFiles.ReadPrivate(identityFile);
        if (!key.IsOk)
        {
            throw new UserInputException(key.Error!.ToString());
        }
        var sealedDetail = await client.Disclosures.SealedAsync(disclosureId, ct);
        var opened = SealedEnvelope.Open(sealedDetail.Ciphertext, key.Value, SealedEnvelope.Context(sealedDetail.FindingId!, sealedDetail.OrganisationId));
        return opened.IsOk ? opened.Value : throw new CommandFailedException(opened.Error!.Message);
    }
}
