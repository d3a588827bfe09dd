using System.Security.Cryptography;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Weights;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Rule 4: weights seen released without a certificate covering that tier are a sighting; once the version's
/// regulator confirms it, a violation is recorded and the developer marked (due process: ViolationDueProcessTests).
/// </summary>
public sealed class Rule4ViolationTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<ViolationDto> Report(ProtocolWorld w, SightingEvidenceDto evidence, string tier) =>
        w.MailParty.PostAsync<ViolationDto>("/api/violations", new ReportViolationRequest { ObservedTier = tier, Source = "https://torrent.example/camelid", Evidence = evidence }, default);

    private static Task<ViolationDto> Report(ProtocolWorld w, string tier) =>
        Report(w, new SightingEvidenceDto { ManifestDigest = w.Version.ManifestDigest, Files = w.Version.Files }, tier);

    private static Task<ViolationDto> Confirm(ProtocolWorld w, string id) =>
        w.Regulator.PostAsync<ViolationDto>($"/api/violations/{id}/confirm", new ViolationDecisionRequest { Reason = "files match" }, default);

    private async Task<bool> IsBadActor(string org) =>
        (await Host.Anonymous.GetAllAsync<BadActorDto>("/api/public/bad-actors", default)).Any(o => o.Id == org);

    [Fact]
    public async Task RegisteredWeightsSeenOpenWithoutACertificateRecordAViolationOnceTheRegulatorConfirms()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        Assert.False(await IsBadActor(w.DeveloperOrg));
        var size = await LedgerSizeAsync(Host);
        var v = await Report(w, "open");
        Assert.True(v.Recorded);
        Assert.Equal("pending", v.Status);
        Assert.Null(v.CertifiedTier);
        Assert.StartsWith("vio_", v.Id, StringComparison.Ordinal);
        Assert.False(await IsBadActor(w.DeveloperOrg));
        await Confirm(w, v.Id);
        var leaves = await LeavesAsync(Host, size);
        Assert.Equal(["sighting.reported", "violation.recorded"], leaves.Select(l => l.Type));
        Assert.Equal(w.DeveloperOrg, leaves[1].Data["developer"]!.GetValue<string>());
        var badActors = await Host.Anonymous.GetAllAsync<BadActorDto>("/api/public/bad-actors", default);
        var developer = Assert.Single(badActors, o => o.Id == w.DeveloperOrg);
        Assert.True(developer.BadActor);
        Assert.Contains(w.Version.ManifestDigest, developer.BadActorReason);
    }

    [Fact]
    public async Task ASightingCoveredByACertificateIsNotAViolation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var size = await LedgerSizeAsync(Host);
        var hosted = await Report(w, "hosted");
        var staged = await Report(w, "staged");
        Assert.False(hosted.Recorded);
        Assert.False(staged.Recorded);
        Assert.Equal("covered", hosted.Status);
        Assert.Equal("hosted", hosted.CertifiedTier);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.False(await IsBadActor(w.DeveloperOrg));

        // Above the certified tier it is a sighting, and a violation once confirmed.
        var open = await Report(w, "open");
        Assert.True(open.Recorded);
        Assert.Equal("hosted", open.CertifiedTier);
        Assert.False(await IsBadActor(w.DeveloperOrg));
        await Confirm(w, open.Id);
        Assert.True(await IsBadActor(w.DeveloperOrg));
    }

    [Fact]
    public async Task AnUnregisteredDigestIsNotRecorded()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var file = new WeightsFileDto { Path = "model.bin", Bytes = 4096, Sha256 = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) };
        var evidence = new SightingEvidenceDto { ManifestDigest = ManifestDigest.Compute([(file.Path, file.Sha256)]), Files = [file] };
        var v = await Report(w, evidence, "open");
        Assert.False(v.Recorded);
        Assert.StartsWith("unregistered", v.Verdict, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.False(await IsBadActor(w.DeveloperOrg));
    }

    [Fact]
    public async Task InternalUseIsNeverAViolation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        Assert.False((await Report(w, "internal")).Recorded);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.False(await IsBadActor(w.DeveloperOrg));
    }
}
