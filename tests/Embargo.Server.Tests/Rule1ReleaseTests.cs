using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 1: no release to a tier without a valid certificate for that weights digest at a tier at least as high.</summary>
public sealed class Rule1ReleaseTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task ReleaseWithoutAnyCertificateIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("hosted"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("staged"));
        var status = await w.Developer.Models.WeightsStatusAsync(w.Version.ManifestDigest, default);
        Assert.Empty(status.ReleasedTiers);
    }

    [Fact]
    public async Task ReleaseAboveTheCertifiedTierIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        Assert.Equal("issued", w.Certificate!.Status);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("api"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("open"));
        Assert.Equal("certification", (await w.CaseAsync()).State);
    }

    [Fact]
    public async Task ReleaseAtTheCertifiedTierSucceedsAndIsLogged()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var size = await LedgerSizeAsync(Host);
        var release = await w.ReleaseAsync("hosted");
        Assert.Equal("hosted", release.Tier);
        Assert.Equal(w.Certificate!.Id, release.CertificateId);
        Assert.Equal(size, release.LedgerIndex);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("release.published", leaf.Type);
        Assert.Equal(release.Id, leaf.Data["release"]!.GetValue<string>());
        Assert.Equal(w.Version.ManifestDigest, leaf.Data["manifestDigest"]!.GetValue<string>());
        Assert.Equal("hosted", leaf.Data["tier"]!.GetValue<string>());
        Assert.Equal("released", (await w.CaseAsync()).State);
        var status = await Host.Anonymous.Models.WeightsStatusAsync(w.Version.ManifestDigest, default);
        Assert.Equal(["hosted"], status.ReleasedTiers);
    }

    [Fact]
    public async Task ReleaseBelowTheCertifiedTierIsAllowed()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var release = await w.ReleaseAsync("staged");
        Assert.Equal("staged", release.Tier);
    }

    [Fact]
    public async Task FlaggedCertificateNoLongerAllowsARelease()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var stronger = await w.Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"frontier-next-{w.Tag}", Strength = w.Reference.Strength + 1 }, default);
        Assert.Contains(w.Certificate!.Id, stronger.FlaggedCertificates);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("hosted"));
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("staged"));
    }

    [Fact]
    public async Task OnlyTheModelsDeveloperReleasesIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.Regulator.Releases.ReleaseAsync(new ReleaseRequest { ModelVersionId = w.Version.Id, Tier = "hosted" }, default));
    }

    [Fact]
    public async Task ADeniedCaseCannotBeReleasedOnItsEarlierCertificate()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var denied = await w.Regulator.Cases.DenyAsync(w.CaseId, new DenyRequest { Reason = "new evidence: no plausible mitigation" }, default);
        Assert.Equal("denied", denied.State);
        // The denial stands for the version at hosted and above (rule 11), whatever certificate there was.
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-11", () => w.ReleaseAsync("hosted"));
    }

    /// <summary>
    /// closed and internal are not releases: the developer keeps the weights, so no certificate is needed (Rules.ReleaseAllowed)
    /// and nothing is published. Asking to "release" at them is bad input naming the tier, and writes nothing.
    /// </summary>
    [Theory]
    [InlineData("internal")]
    [InlineData("closed")]
    public async Task AReleaseAtInternalOrClosedIsBadInputNamingTheTierAndWritesNothing(string tier)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var refused = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.ReleaseAsync(tier));
        Assert.StartsWith($"tier: {tier} is not a release", refused.Detail, StringComparison.Ordinal);
        var status = await w.Developer.Models.WeightsStatusAsync(w.Version.ManifestDigest, default);
        Assert.Empty(status.ReleasedTiers);
    }
}
