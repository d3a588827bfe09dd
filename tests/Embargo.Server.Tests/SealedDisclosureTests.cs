using System.Net;
using System.Text;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Protocol.Disclosures;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Weights;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 8 end to end: private detail is sealed on the discloser's machine to each recipient's X25519 key; only they can open it.</summary>
public sealed class SealedDisclosureTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    /// <summary>A recipient principal with an X25519 key in <paramref name="org"/>; returns its client and private key file.</summary>
    private async Task<(EmbargoClient Client, string KeyFile)> KeyHolderAsync(ProtocolWorld w, string org, string role)
    {
        var stem = Path.Combine(Host.DataDirectory, $"{role}-{Guid.NewGuid():N}");
        Assert.True(KeyFiles.Generate(stem).IsOk);
        var created = await w.Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
        {
            OrganisationId = org, Name = "key-holder", Role = role, EncryptionKey = await File.ReadAllTextAsync(stem + ".pub"),
        }, default);
        return (w.Admin.As(created.Token), stem + ".key");
    }

    [Fact]
    public async Task EachRecipientOpensItsOwnSealedDetailAndThePlaintextNeverReachesTheServer()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, recipientKeys: false);
        await w.DriveToAsync(Milestone.Disclosure);
        var regulator = await KeyHolderAsync(w, w.RegulatorOrg, "regulator");
        var mail = await KeyHolderAsync(w, w.MailOrg, "affected-party");
        var detail = Encoding.UTF8.GetBytes("SAMPLE reproduction detail " + Guid.NewGuid());
        var findingId = w.PhishingFinding!.Id;

        var sealedDetails = await DisclosureSealing.SealForRecipientsAsync(w.Evaluator, findingId, detail, default);
        Assert.Equal(new[] { w.RegulatorOrg, w.MailOrg }.Order(StringComparer.Ordinal), sealedDetails.Select(s => s.OrganisationId).Order(StringComparer.Ordinal));
        var disclosure = await w.Evaluator.Disclosures.DiscloseAsync(findingId, new DiscloseRequest
        {
            AdvisoryTitle = "advisory", AdvisorySummary = "no reproduction detail", Sealed = sealedDetails,
        }, default);

        Assert.Equal(detail, await DisclosureSealing.OpenAsync(mail.Client, disclosure.Id, mail.KeyFile, default));
        Assert.Equal(detail, await DisclosureSealing.OpenAsync(regulator.Client, disclosure.Id, regulator.KeyFile, default));

        // Another organisation has nothing to fetch; another recipient's key does not open it.
        await Refused(HttpStatusCode.NotFound, null, () => w.Developer.Disclosures.SealedAsync(disclosure.Id, default));
        var mailCiphertext = sealedDetails.Single(s => s.OrganisationId == w.MailOrg).Ciphertext;
        var regulatorPrivate = KeyFiles.ReadPrivate(regulator.KeyFile).Value;
        Assert.False(SealedEnvelope.Open(mailCiphertext, regulatorPrivate, SealedEnvelope.Context(findingId, w.RegulatorOrg)).IsOk);
        // Nor can the ciphertext be moved to another finding or recipient: the context is bound in.
        var mailPrivate = KeyFiles.ReadPrivate(mail.KeyFile).Value;
        Assert.True(SealedEnvelope.Open(mailCiphertext, mailPrivate, SealedEnvelope.Context(findingId, w.MailOrg)).IsOk);
        Assert.False(SealedEnvelope.Open(mailCiphertext, mailPrivate, SealedEnvelope.Context(w.BioFinding!.Id, w.MailOrg)).IsOk);

        var plaintext = Encoding.UTF8.GetString(detail);
        Assert.DoesNotContain(await LeavesAsync(Host), l => l.Text.Contains(plaintext, StringComparison.Ordinal));
        var advisories = await Host.Anonymous.GetTextAsync(ApiRoutes.Disclosures.Advisories.With(), default);
        Assert.DoesNotContain(plaintext, advisories);
        Assert.DoesNotContain(mailCiphertext, advisories);
    }

    [Fact]
    public async Task DetailCannotBeSealedToARecipientWithoutAKey()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, recipientKeys: false);
        await w.DriveToAsync(Milestone.Disclosure);
        await KeyHolderAsync(w, w.RegulatorOrg, "regulator");
        var before = await LedgerSizeAsync(Host);
        var e = await Assert.ThrowsAsync<UserInputException>(() => DisclosureSealing.SealForRecipientsAsync(w.Evaluator, w.PhishingFinding!.Id, [1, 2, 3], default));
        Assert.Contains(w.MailOrg, e.Message);
        Assert.Equal(before, await LedgerSizeAsync(Host));
    }

    [Fact]
    public void ATamperedEnvelopeDoesNotOpen()
    {
        var stem = Path.Combine(Host.DataDirectory, $"tamper-{Guid.NewGuid():N}");
        Assert.True(KeyFiles.Generate(stem).IsOk);
        var sealedText = SealedEnvelope.Seal("detail"u8, KeyFiles.ReadPublic(stem + ".pub").Value, "ctx");
        var bytes = Convert.FromBase64String(sealedText);
        var privateKey = KeyFiles.ReadPrivate(stem + ".key").Value;
        Assert.Equal("detail"u8.ToArray(), SealedEnvelope.Open(sealedText, privateKey, "ctx").Value);
        for (var i = 0; i < bytes.Length; i++)
        {
            var copy = (byte[])bytes.Clone();
            copy[i] ^= 0x01;
            Assert.False(SealedEnvelope.Open(Convert.ToBase64String(copy), privateKey, "ctx").IsOk);
        }
    }
}
