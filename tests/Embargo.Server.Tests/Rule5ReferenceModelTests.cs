using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 5: a stronger reference model than the one a case used flags that case's certificate for re-evaluation.</summary>
public sealed class Rule5ReferenceModelTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task AStrongerReferenceModelFlagsTheCertificate()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var size = await LedgerSizeAsync(Host);
        var stronger = await w.Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"frontier-2-{w.Tag}", Strength = w.Reference.Strength + 0.25 }, default);
        Assert.Contains(w.Certificate!.Id, stronger.FlaggedCertificates);

        var certificate = await Host.Anonymous.Certificates.GetAsync(w.Certificate.Id, default);
        Assert.Equal("flagged", certificate.Status);
        Assert.Contains(stronger.Name, certificate.FlagReason);
        var c = await w.CaseAsync();
        Assert.True(c.ReevaluationFlag);
        Assert.NotNull(c.ReevaluationReason);

        var leaves = await LeavesAsync(Host, size);
        Assert.Equal("reference-model.registered", leaves[0].Type);
        Assert.Contains(leaves, l => l.Type == "certificate.flagged-for-reevaluation" && l.Data["certificate"]!.GetValue<string>() == w.Certificate.Id
                                     && l.Data["rule"]!.GetValue<string>() == "rule-5");
        var status = await w.Developer.Models.WeightsStatusAsync(w.Version.ManifestDigest, default);
        Assert.Null(status.CertifiedTier);
    }

    [Fact]
    public async Task AWeakerReferenceModelFlagsNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, referenceStrength: 1_000_000);
        await w.DriveToAsync(Milestone.Certified);
        var weaker = await w.Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"small-{w.Tag}", Strength = 999_999 }, default);
        Assert.DoesNotContain(w.Certificate!.Id, weaker.FlaggedCertificates);
        Assert.Equal("issued", (await Host.Anonymous.Certificates.GetAsync(w.Certificate.Id, default)).Status);
        Assert.False((await w.CaseAsync()).ReevaluationFlag);
        var equal = await w.Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"same-{w.Tag}", Strength = 1_000_000 }, default);
        Assert.DoesNotContain(w.Certificate.Id, equal.FlaggedCertificates);
        Assert.Equal("issued", (await Host.Anonymous.Certificates.GetAsync(w.Certificate.Id, default)).Status);
    }

    [Fact]
    public async Task OnlyARegulatorRegistersReferenceModels()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.Developer.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"dev-{w.Tag}", Strength = 99 }, default));
        Assert.Equal("issued", (await Host.Anonymous.Certificates.GetAsync(w.Certificate!.Id, default)).Status);
    }

    [Fact]
    public async Task ACertificateSignedAfterAStrongerReferenceModelAppearedCannotBeReleasedOn()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var draft = await w.ApproveAsync(w.Certifier, "hosted");
        await w.Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"frontier-late-{w.Tag}", Strength = w.Reference.Strength + 0.1 }, default);

        // The certifier signs the draft it approved against the weaker reference model: the one answer is rule 5's refusal.
        var envelope = Embargo.Protocol.Certificates.DsseEnvelope.Sign(Convert.FromBase64String(draft.Statement), draft.PayloadType, w.CertifierKey);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-5", () => w.Certifier.Certificates.SignAsync(draft.CertificateId,
            new SubmitCertificateRequest { Envelope = envelope.ToJson() }, default));
        Assert.Equal("flagged", (await Host.Anonymous.Certificates.GetAsync(draft.CertificateId, default)).Status);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("hosted"));
        Assert.True((await w.CaseAsync()).ReevaluationFlag);
    }
}
