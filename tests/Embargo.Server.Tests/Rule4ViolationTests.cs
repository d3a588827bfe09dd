using System.Security.Cryptography;
using Embargo.Protocol.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 4: weights seen released without a certificate covering that tier record a violation and mark the developer.</summary>
public sealed class Rule4ViolationTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<ViolationDto> Report(ProtocolWorld w, string digest, string tier) =>
        w.MailParty.PostAsync<ViolationDto>("/api/violations", new ReportViolationRequest { ManifestDigest = digest, ObservedTier = tier, Source = "https://torrent.example/camelid" }, default);

    private async Task<bool> IsBadActor(string org) =>
        (await Host.Anonymous.GetAsync<List<OrganisationDto>>("/api/public/bad-actors", default)).Any(o => o.Id == org);

    [Fact]
    public async Task RegisteredWeightsSeenOpenWithoutACertificateRecordAViolation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        Assert.False(await IsBadActor(w.DeveloperOrg));
        var size = await LedgerSizeAsync(Host);
        var v = await Report(w, w.Version.ManifestDigest, "open");
        Assert.True(v.Recorded);
        Assert.Null(v.CertifiedTier);
        Assert.StartsWith("vio_", v.Id, StringComparison.Ordinal);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("violation.recorded", leaf.Type);
        Assert.Equal(w.DeveloperOrg, leaf.Data["developer"]!.GetValue<string>());
        var badActors = await Host.Anonymous.GetAsync<List<OrganisationDto>>("/api/public/bad-actors", default);
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
        var hosted = await Report(w, w.Version.ManifestDigest, "hosted");
        var staged = await Report(w, w.Version.ManifestDigest, "staged");
        Assert.False(hosted.Recorded);
        Assert.False(staged.Recorded);
        Assert.Equal("hosted", hosted.CertifiedTier);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.False(await IsBadActor(w.DeveloperOrg));

        // Above the certified tier it is one.
        var open = await Report(w, w.Version.ManifestDigest, "open");
        Assert.True(open.Recorded);
        Assert.Equal("hosted", open.CertifiedTier);
        Assert.True(await IsBadActor(w.DeveloperOrg));
    }

    [Fact]
    public async Task AnUnregisteredDigestIsNotRecorded()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var digest = "sha256:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var v = await Report(w, digest, "open");
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
        Assert.False((await Report(w, w.Version.ManifestDigest, "internal")).Recorded);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.False(await IsBadActor(w.DeveloperOrg));
    }
}
