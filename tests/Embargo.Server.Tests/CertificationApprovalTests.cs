using System.Net;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Approvals are idempotent: one approval per case and tier, a repeat answered with the approval already made, at
/// most one signable certificate per case however the approvals race, and a wrong key never leaves a leaf.
/// </summary>
public sealed class CertificationApprovalTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<CertificationDraftDto> Approve(ProtocolWorld w, EmbargoClient who, string tier, SigningKey key) =>
        who.Certificates.ApproveAsync(w.CaseId, new CertificationRequest { Tier = tier, KeyId = key.PublicKey.KeyId }, default);

    private static Task<CertificateDto> Sign(EmbargoClient who, CertificationDraftDto draft, SigningKey key) =>
        who.Certificates.SignAsync(draft.CertificateId, new SubmitCertificateRequest
        {
            Envelope = DsseEnvelope.Sign(Convert.FromBase64String(draft.Statement), draft.PayloadType, key).ToJson(),
        }, default);

    private Task<CertificateDto> Status(string certificateId) => Host.Anonymous.Certificates.GetAsync(certificateId, default);

    private async Task<List<Leaf>> CaseLeavesAsync(ProtocolWorld w, string type) =>
        (await LeavesAsync(Host)).Where(l => l.Type == type && l.Data["case"]?.GetValue<string>() == w.CaseId).ToList();

    [Fact]
    public async Task ARepeatedApprovalIsAnsweredWithTheSamePendingCertificateAndLogsNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var first = await Approve(w, w.Certifier, "hosted", w.CertifierKey);
        var size = await LedgerSizeAsync(Host);

        var again = await Approve(w, w.Certifier, "hosted", w.CertifierKey);

        Assert.Equal(first.CertificateId, again.CertificateId);
        Assert.Equal(first.Statement, again.Statement);
        Assert.Equal(first.CertificationIndex, again.CertificationIndex);
        Assert.Equal("pending", again.Status);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Single(await CaseLeavesAsync(w, "certification.approved"));
    }

    [Fact]
    public async Task ASignatureByTheWrongKeyLeavesNoLeafAndTheNextAttemptReusesTheApproval()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var draft = await Approve(w, w.Certifier, "hosted", w.CertifierKey);
        using var stranger = SigningKey.Generate();

        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "certificate-signature", () => Sign(w.Certifier, draft, stranger));
        Assert.Equal("pending", (await Status(draft.CertificateId)).Status);

        var certificate = await Embargo.Cli.Commands.ProtocolCommands.CertifyAsync(w.Certifier, w.CaseId, "hosted", w.CertifierKey, default);
        Assert.Equal(draft.CertificateId, certificate.Id);
        Assert.Equal("issued", certificate.Status);
        Assert.Single(await CaseLeavesAsync(w, "certification.approved"));
        Assert.Single(await CaseLeavesAsync(w, "certificate.issued"));
    }

    [Fact]
    public async Task AnApprovalNamingAKeyOtherThanTheRegisteredOneIsRefusedAndLogsNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "certificate-signature", () => Approve(w, w.Certifier, "hosted", w.OtherCertifierKey));
        Assert.Contains("keyId", e.Detail);
        Assert.Empty(await CaseLeavesAsync(w, "certification.approved"));
    }

    [Fact]
    public async Task AnApprovalAtAnotherTierWithdrawsTheUnsignedOneWhichCanNoLongerBeSigned()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var hosted = await Approve(w, w.Certifier, "hosted", w.CertifierKey);
        var size = await LedgerSizeAsync(Host);

        var staged = await Approve(w, w.Certifier, "staged", w.CertifierKey);

        Assert.NotEqual(hosted.CertificateId, staged.CertificateId);
        var leaves = await LeavesAsync(Host, size);
        var withdrawn = Assert.Single(leaves, l => l.Type == "certification.withdrawn");
        Assert.Equal(hosted.CertificateId, withdrawn.Data["certificate"]!.GetValue<string>());
        Assert.Equal(staged.CertificateId, withdrawn.Data["replacedBy"]!.GetValue<string>());
        Assert.Equal(staged.CertificationIndex, Assert.Single(leaves, l => l.Type == "certification.approved").Index);
        Assert.Equal("withdrawn", (await Status(hosted.CertificateId)).Status);

        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => Sign(w.Certifier, hosted, w.CertifierKey));
        Assert.Equal("issued", (await Sign(w.Certifier, staged, w.CertifierKey)).Status);
    }

    [Fact]
    public async Task OnceACertificateIsIssuedARepeatIsAnsweredWithItAndAnyOtherApprovalIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var size = await LedgerSizeAsync(Host);

        var repeat = await Approve(w, w.Certifier, "hosted", w.CertifierKey);
        Assert.Equal(w.Certificate!.Id, repeat.CertificateId);
        Assert.Equal("issued", repeat.Status);
        var resubmitted = await Sign(w.Certifier, repeat, w.CertifierKey);
        Assert.Equal(w.Certificate.Envelope, resubmitted.Envelope);
        Assert.Equal(size, await LedgerSizeAsync(Host));

        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => Approve(w, w.Certifier, "staged", w.CertifierKey));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => Approve(w, w.OtherCertifier, "hosted", w.OtherCertifierKey));
        Assert.Equal("issued", (await Status(w.Certificate.Id)).Status);
    }

    [Fact]
    public async Task ConcurrentCertificationAttemptsLeaveExactlyOneIssuedCertificatePerCase()
    {
        var attempts = new (Func<ProtocolWorld, EmbargoClient> Who, Func<ProtocolWorld, SigningKey> Key, string Tier)[]
        {
            (w => w.Certifier, w => w.CertifierKey, "hosted"),
            (w => w.Certifier, w => w.CertifierKey, "hosted"),
            (w => w.Certifier, w => w.CertifierKey, "staged"),
            (w => w.OtherCertifier, w => w.OtherCertifierKey, "hosted"),
            (w => w.Certifier, w => w.CertifierKey, "hosted"),
            (w => w.OtherCertifier, w => w.OtherCertifierKey, "staged"),
            (w => w.Certifier, w => w.CertifierKey, "staged"),
            (w => w.Certifier, w => w.CertifierKey, "hosted"),
        };
        for (var round = 0; round < 5; round++)
        {
            using var w = await ProtocolWorld.CreateAsync(Host);
            await w.DriveToAsync(Milestone.Certification);
            var drafts = new System.Collections.Concurrent.ConcurrentBag<string>();
            var issued = new System.Collections.Concurrent.ConcurrentBag<string>();
            var refusals = new System.Collections.Concurrent.ConcurrentBag<ApiException>();
            await Task.WhenAll(attempts.Select(a => Task.Run(async () =>
            {
                try
                {
                    var draft = await Approve(w, a.Who(w), a.Tier, a.Key(w));
                    drafts.Add(draft.CertificateId);
                    issued.Add((await Sign(a.Who(w), draft, a.Key(w))).Id);
                }
                catch (ApiException e)
                {
                    refusals.Add(e);
                }
            })));

            Assert.All(refusals, e => Assert.True(e.Status == HttpStatusCode.Conflict && e.Rule == "case-phase", $"round {round}: unexpected refusal {e.Message}"));
            var issuedId = Assert.Single(issued.Distinct());
            var ids = drafts.Distinct().ToList();
            foreach (var id in ids)
            {
                Assert.Equal(id == issuedId ? "issued" : "withdrawn", (await Status(id)).Status);
            }
            Assert.Equal(ids.Count, (await CaseLeavesAsync(w, "certification.approved")).Count);
            Assert.Equal(ids.Count - 1, (await CaseLeavesAsync(w, "certification.withdrawn")).Count);
            Assert.Equal(issuedId, Assert.Single(await CaseLeavesAsync(w, "certificate.issued")).Data["certificate"]!.GetValue<string>());
        }
    }
}
