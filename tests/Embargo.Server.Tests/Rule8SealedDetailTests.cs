using System.Net;
using System.Security.Cryptography;
using System.Text;
using Embargo.Contracts;
using Embargo.Protocol.Disclosures;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 8: public advisories never contain private details; private detail arrives sealed, only for recipients.</summary>
public sealed class Rule8SealedDetailTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task SealedDetailNeverAppearsInAdvisoriesOrTheLedger()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        Assert.Equal(4, w.SealedCiphertexts.Count);

        var advisories = await Host.Anonymous.GetTextAsync(ApiRoutes.Disclosures.Advisories.With(), default);
        Assert.Contains(w.PhishingDisclosure!.AdvisoryTitle, advisories);
        var jsonl = await LeavesTextAsync(Host);
        var leaves = Decode(jsonl);
        Assert.Contains(leaves, l => l.Type == "finding.disclosed" && l.Data["disclosure"]!.GetValue<string>() == w.PhishingDisclosure.Id);
        var disclosureResponses = Json(w.PhishingDisclosure) + Json(w.BioDisclosure!);
        foreach (var ciphertext in w.SealedCiphertexts.Values)
        {
            var raw = Convert.FromBase64String(ciphertext);
            var hex = Convert.ToHexStringLower(raw);
            Assert.DoesNotContain(ciphertext, advisories);
            Assert.DoesNotContain(ciphertext, jsonl);
            Assert.DoesNotContain(ciphertext, disclosureResponses);
            Assert.All(leaves, l =>
            {
                Assert.DoesNotContain(ciphertext, l.Text);
                Assert.DoesNotContain(hex, l.Text);
                Assert.True(l.Bytes.AsSpan().IndexOf(raw) < 0);
            });
        }
    }

    [Fact]
    public async Task SealedDetailForANonRecipientIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var advisories = await Host.Anonymous.GetTextAsync(ApiRoutes.Disclosures.Advisories.With(), default);
        var body = w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg, w.BioOrg);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.Disclosures.DiscloseAsync(w.PhishingFinding!.Id, body, default));
        Assert.Contains(w.BioOrg, e.Detail);
        Assert.Equal(advisories, await Host.Anonymous.GetTextAsync(ApiRoutes.Disclosures.Advisories.With(), default));
    }

    [Fact]
    public async Task SealedDetailMustBeCiphertextNotPlaintext()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var body = w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg);
        var plain = body with { Sealed = body.Sealed.Select((d, i) => i == 0 ? d with { Ciphertext = "step 1: write the lure like this!" } : d).ToList() };
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.Disclosures.DiscloseAsync(w.PhishingFinding!.Id, plain, default));
        Assert.Contains("sealed[0].ciphertext", e.Detail);
    }

    [Fact]
    public async Task BaseSixtyFourOfPlaintextIsNotASealedEnvelope()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var body = w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg);
        var plaintext = Convert.ToBase64String(Encoding.UTF8.GetBytes("step 1: write the lure like this, then send it to every address you scraped"));
        var mailIndex = body.Sealed.ToList().FindIndex(s => s.OrganisationId == w.MailOrg);
        var forged = body with { Sealed = body.Sealed.Select((s, i) => i == mailIndex ? s with { Ciphertext = plaintext } : s).ToList() };
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.Disclosures.DiscloseAsync(w.PhishingFinding!.Id, forged, default));
        Assert.Contains($"sealed[{mailIndex}].ciphertext", e.Detail);
        Assert.DoesNotContain(plaintext, await LeavesTextAsync(Host));
    }

    [Fact]
    public async Task AnEmptySealedListIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var body = w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg) with { Sealed = [] };
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.Disclosures.DiscloseAsync(w.PhishingFinding!.Id, body, default));
        Assert.StartsWith("sealed is empty", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EachStoredEnvelopeOpensForItsRecipientAndForNobodyElse()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var findingId = w.PhishingFinding!.Id;
        var regulatorKey = w.RecipientKeys.Single(k => k.OrganisationId == w.RegulatorOrg);
        var mailKey = w.RecipientKeys.Single(k => k.OrganisationId == w.MailOrg);
        foreach (var (client, own, other) in new[] { (w.Regulator, regulatorKey, mailKey), (w.MailParty, mailKey, regulatorKey) })
        {
            var stored = await client.Disclosures.SealedAsync(w.PhishingDisclosure!.Id, default);
            Assert.Equal(own.PrincipalId, stored.PrincipalId);
            var context = SealedEnvelope.Context(findingId, own.OrganisationId);
            Assert.StartsWith("SAMPLE detail of cyber-phishing", Encoding.UTF8.GetString(SealedEnvelope.Open(stored.Ciphertext, own.PrivateKey, context).Value), StringComparison.Ordinal);
            Assert.False(SealedEnvelope.Open(stored.Ciphertext, other.PrivateKey, context).IsOk);
            Assert.False(SealedEnvelope.Open(stored.Ciphertext, other.PrivateKey, SealedEnvelope.Context(findingId, other.OrganisationId)).IsOk);
        }
        // Bio is not a recipient of the phishing finding: it has nothing to fetch.
        await Refused(HttpStatusCode.NotFound, null, () => w.BioParty.Disclosures.SealedAsync(w.PhishingDisclosure!.Id, default));
    }

    [Fact]
    public async Task EveryKeyHolderOfARecipientOrganisationGetsItsOwnEnvelope()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        using var second = NSec.Cryptography.Key.Create(NSec.Cryptography.KeyAgreementAlgorithm.X25519,
            new NSec.Cryptography.KeyCreationParameters { ExportPolicy = NSec.Cryptography.KeyExportPolicies.AllowPlaintextExport });
        var secondPublic = second.PublicKey.Export(NSec.Cryptography.KeyBlobFormat.RawPublicKey);
        var created = await w.Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
        {
            OrganisationId = w.MailOrg, Name = "second-mail", Role = "affected-party", EncryptionKey = Embargo.Weights.KeyFiles.Armor(Embargo.Weights.KeyFiles.PublicLabel, secondPublic),
        }, default);
        var findingId = w.PhishingFinding!.Id;

        // Sealed to the regulator and the first Mail key holder only: the second one was left out.
        var partial = w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Evaluator.Disclosures.DiscloseAsync(findingId, partial, default));
        Assert.Contains(created.Principal.Id, e.Detail);

        // An envelope addressed to a principal of another organisation is refused, naming the member.
        var misaddressed = partial with
        {
            Sealed = [.. partial.Sealed, new SealedDetailDto
            {
                OrganisationId = w.MailOrg, PrincipalId = w.PrincipalIds[w.BioParty],
                Ciphertext = SealedEnvelope.Seal("x"u8, w.RecipientKeys.Single(k => k.OrganisationId == w.BioOrg).PublicKey, SealedEnvelope.Context(findingId, w.MailOrg)),
            }],
        };
        e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Evaluator.Disclosures.DiscloseAsync(findingId, misaddressed, default));
        Assert.Contains($"sealed[{partial.Sealed.Count}].principalId", e.Detail);

        var complete = partial with
        {
            Sealed = [.. partial.Sealed, new SealedDetailDto
            {
                OrganisationId = w.MailOrg, PrincipalId = created.Principal.Id,
                Ciphertext = SealedEnvelope.Seal("SAMPLE detail for the second key holder"u8, secondPublic, SealedEnvelope.Context(findingId, w.MailOrg)),
            }],
        };
        var disclosure = await w.Evaluator.Disclosures.DiscloseAsync(findingId, complete, default);
        var stored = await w.Admin.As(created.Token).Disclosures.SealedAsync(disclosure.Id, default);
        Assert.Equal("SAMPLE detail for the second key holder"u8.ToArray(),
            SealedEnvelope.Open(stored.Ciphertext, second.Export(NSec.Cryptography.KeyBlobFormat.RawPrivateKey), SealedEnvelope.Context(findingId, w.MailOrg)).Value);
        Assert.Equal(new[] { w.MailOrg, w.RegulatorOrg }.Order(StringComparer.Ordinal), disclosure.Recipients.Select(r => r.OrganisationId).Order(StringComparer.Ordinal));
        Assert.DoesNotContain((await w.CaseAsync()).Blockers, b => b.Contains(findingId) && b.Contains("not disclosed"));
    }
}
