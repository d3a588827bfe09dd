using System.Net;
using System.Security.Cryptography;
using System.Text;
using Embargo.Protocol.Contracts;
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

        var advisories = await Host.Anonymous.GetTextAsync("/api/public/advisories", default);
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
        var advisories = await Host.Anonymous.GetTextAsync("/api/public/advisories", default);
        var body = w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg, w.BioOrg);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.PostAsync<DisclosureDto>($"/api/findings/{w.PhishingFinding!.Id}/disclosures", body, default));
        Assert.Contains(w.BioOrg, e.Detail);
        Assert.Equal(advisories, await Host.Anonymous.GetTextAsync("/api/public/advisories", default));
    }

    [Fact]
    public async Task SealedDetailMustBeCiphertextNotPlaintext()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var body = new DiscloseRequest
        {
            AdvisoryTitle = "t", AdvisorySummary = "s",
            Sealed = [new SealedDetailDto { OrganisationId = w.MailOrg, Ciphertext = "step 1: write the lure like this!" }],
        };
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Evaluator.PostAsync<DisclosureDto>($"/api/findings/{w.PhishingFinding!.Id}/disclosures", body, default));
    }

    [Fact]
    public async Task SealedDetailIsNotInTheAdvisoryEvenWhenItIsTheOnlyDetail()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var marker = Convert.ToBase64String(Encoding.UTF8.GetBytes("SECRET-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8))));
        var disclosure = await w.Evaluator.PostAsync<DisclosureDto>($"/api/findings/{w.PhishingFinding!.Id}/disclosures", new DiscloseRequest
        {
            AdvisoryTitle = "Phishing uplift", AdvisorySummary = "Details sealed to recipients.",
            Sealed = [new SealedDetailDto { OrganisationId = w.RegulatorOrg, Ciphertext = marker }],
        }, default);
        Assert.DoesNotContain(marker, Json(disclosure));
        Assert.DoesNotContain(marker, await Host.Anonymous.GetTextAsync("/api/public/advisories", default));
        Assert.DoesNotContain(marker, await LeavesTextAsync(Host));
        Assert.DoesNotContain(marker, await w.CaseTextAsync());
    }
}
