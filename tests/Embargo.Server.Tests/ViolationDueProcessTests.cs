using System.Net;
using System.Security.Cryptography;
using System.Text;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Weights;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Rule 4 with due process (issue 13, item 10): a sighting needs evidence that recomputes; it stays pending and
/// marks nobody until a regulator of the version's cases confirms it; the developer can dispute; the regulator
/// decides the dispute or lifts the mark; anonymous digest lookups show released versions only.
/// </summary>
public sealed class ViolationDueProcessTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static SightingEvidenceDto EvidenceOf(ProtocolWorld w) => new() { ManifestDigest = w.Version.ManifestDigest, Files = w.Version.Files };

    /// <summary>Consistent evidence for a made-up list of files (the digest recomputes from them).</summary>
    private static SightingEvidenceDto EvidenceFor(params WeightsFileDto[] files) => new()
    {
        ManifestDigest = ManifestDigest.Compute(files.Select(f => (f.Path, f.Sha256))), Files = files,
    };

    private static WeightsFileDto RandomFile(string path, long bytes) => new() { Path = path, Bytes = bytes, Sha256 = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) };

    private static ReportViolationRequest Sighting(SightingEvidenceDto evidence, string tier = "open") =>
        new() { ObservedTier = tier, Source = "https://torrent.example/camelid", Evidence = evidence };

    private static Task<ViolationDto> Report(ProtocolWorld w, SightingEvidenceDto evidence, EmbargoClient? who = null, string tier = "open") =>
        (who ?? w.MailParty).PostAsync<ViolationDto>("/api/violations", Sighting(evidence, tier), default);

    private static Task<ViolationDto> Confirm(ProtocolWorld w, string id, EmbargoClient? who = null) =>
        (who ?? w.Regulator).PostAsync<ViolationDto>($"/api/violations/{id}/confirm", new ViolationDecisionRequest { Reason = "the torrent's files match the registered weights" }, default);

    private static Task<ViolationDto> Dispute(ProtocolWorld w, string id, EmbargoClient? who = null) =>
        (who ?? w.Developer).PostAsync<ViolationDto>($"/api/violations/{id}/dispute", new DisputeViolationRequest { Statement = "The torrent was seeded from a stolen laptop; we reported the theft." }, default);

    private static Task<ViolationDto> DecideDispute(ProtocolWorld w, string id, string outcome, EmbargoClient? who = null) =>
        (who ?? w.Regulator).PostAsync<ViolationDto>($"/api/violations/{id}/dispute/decision", new DecideDisputeRequest { Outcome = outcome, Reason = "police report checked" }, default);

    private async Task<BadActorDto?> MarkOf(string org) =>
        (await Host.Anonymous.GetAllAsync<BadActorDto>("/api/public/bad-actors", default)).SingleOrDefault(o => o.Id == org);

    private async Task<ViolationDto> ConfirmedViolation(ProtocolWorld w)
    {
        var pending = await Report(w, EvidenceOf(w));
        return await Confirm(w, pending.Id);
    }

    /// <summary>Runs a refused attempt and asserts the ledger, the sighting and the public marks are unchanged.</summary>
    private async Task RefusedWithNothingChanged(ProtocolWorld w, HttpStatusCode status, string? rule, string? violationId, Func<Task> attempt)
    {
        var size = await LedgerSizeAsync(Host);
        var marks = await Host.Anonymous.GetTextAsync("/api/public/bad-actors", default);
        var before = violationId is null ? null : await w.Admin.GetTextAsync($"/api/violations/{violationId}", default);
        await Refused(status, rule, attempt);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Equal(marks, await Host.Anonymous.GetTextAsync("/api/public/bad-actors", default));
        if (violationId is not null)
        {
            Assert.Equal(before, await w.Admin.GetTextAsync($"/api/violations/{violationId}", default));
        }
    }

    [Fact]
    public async Task AnISaySoReportWithoutEvidenceIsRefusedNamingTheEvidence()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var e = await Refused(HttpStatusCode.BadRequest, null, () => w.MailParty.PostAsync<ViolationDto>("/api/violations",
            new { observedTier = "open", source = "I say so" }, default));
        Assert.Contains("evidence", e.Detail, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Null(await MarkOf(w.DeveloperOrg));
    }

    [Fact]
    public async Task EvidenceWhoseManifestDigestDoesNotRecomputeIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var files = w.Version.Files.ToList();
        files[0] = files[0] with { Sha256 = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)) };
        var forged = new SightingEvidenceDto { ManifestDigest = w.Version.ManifestDigest, Files = files };
        var e = await Refused(HttpStatusCode.BadRequest, null, () => Report(w, forged));
        Assert.StartsWith("evidence.manifestDigest", e.Detail, StringComparison.Ordinal);

        var badHash = new SightingEvidenceDto { ManifestDigest = w.Version.ManifestDigest, Files = [w.Version.Files[0] with { Sha256 = "not-a-hash" }] };
        e = await Refused(HttpStatusCode.BadRequest, null, () => Report(w, badHash));
        Assert.StartsWith("evidence.files[0].sha256", e.Detail, StringComparison.Ordinal);

        var noFiles = new SightingEvidenceDto { ManifestDigest = w.Version.ManifestDigest, Files = [] };
        e = await Refused(HttpStatusCode.BadRequest, null, () => Report(w, noFiles));
        Assert.StartsWith("evidence.files", e.Detail, StringComparison.Ordinal);
        Assert.Null(await MarkOf(w.DeveloperOrg));
    }

    [Fact]
    public async Task AMalformedSightingIsA400NamingTheMemberAndChangesNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var e = await Refused(HttpStatusCode.BadRequest, null, () => w.MailParty.PostAsync<ViolationDto>("/api/violations",
            new { observedTier = "open", source = "tracker", evidence = (object?)null }, default));
        Assert.StartsWith("evidence", e.Detail, StringComparison.Ordinal);
        e = await Refused(HttpStatusCode.BadRequest, null, () => w.MailParty.PostAsync<ViolationDto>("/api/violations",
            Sighting(EvidenceOf(w)) with { Source = new string('x', 2_001) }, default));
        Assert.StartsWith("source", e.Detail, StringComparison.Ordinal);
        e = await Refused(HttpStatusCode.BadRequest, null, () => w.MailParty.PostAsync<ViolationDto>("/api/violations",
            Sighting(EvidenceOf(w)) with { Source = "tracker\u001b[2J" }, default));
        Assert.StartsWith("source", e.Detail, StringComparison.Ordinal);
        var tensors = EvidenceOf(w) with { Tensors = [new TensorFactDto { File = "elsewhere.bin", Name = "w", Dtype = "F16", Shape = [2, 2] }] };
        e = await Refused(HttpStatusCode.BadRequest, null, () => Report(w, tensors));
        Assert.StartsWith("evidence.tensors[0].file", e.Detail, StringComparison.Ordinal);
        e = await Refused(HttpStatusCode.BadRequest, null, () => Report(w, EvidenceOf(w), tier: "galactic"));
        Assert.StartsWith("observedTier", e.Detail, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task EvidenceMatchingNoRegisteredVersionIsNotRecorded()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var v = await Report(w, EvidenceFor(RandomFile("model.safetensors", 1 << 20)));
        Assert.False(v.Recorded);
        Assert.Equal("unregistered", v.Status);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task AConsistentReportIsPendingMarksNobodyAndIsSeenOnlyByTheRegulatorAndTheDeveloper()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var v = await Report(w, EvidenceOf(w));
        Assert.True(v.Recorded);
        Assert.Equal(ViolationStatus.Pending, v.Status);
        Assert.Equal("manifest", v.Match);
        Assert.Equal(w.Version.Id, v.ModelVersionId);
        Assert.Null(await MarkOf(w.DeveloperOrg));

        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("sighting.reported", leaf.Type);
        Assert.Equal(v.Id, leaf.Data["sighting"]!.GetValue<string>());
        Assert.Equal(v.EvidenceSha256, leaf.Data["evidenceSha256"]!.GetValue<string>());
        // Not public: the leaf names neither the weights nor the developer.
        Assert.DoesNotContain(w.Version.ManifestDigest, leaf.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(w.DeveloperOrg, leaf.Text, StringComparison.Ordinal);

        await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.GetAsync<ViolationDto>($"/api/violations/{v.Id}", default));
        await Refused(HttpStatusCode.NotFound, null, () => w.OtherRegulator.GetAsync<ViolationDto>($"/api/violations/{v.Id}", default));
        await Refused(HttpStatusCode.NotFound, null, () => w.OtherDeveloper.GetAsync<ViolationDto>($"/api/violations/{v.Id}", default));
        Assert.DoesNotContain(await Host.Anonymous.GetAllAsync<ViolationDto>("/api/violations", default), x => x.Id == v.Id);
        Assert.Contains(await w.Regulator.GetAllAsync<ViolationDto>("/api/violations?status=pending", default), x => x.Id == v.Id);
        Assert.Equal(ViolationStatus.Pending, (await w.Developer.GetAsync<ViolationDto>($"/api/violations/{v.Id}", default)).Status);
        Assert.Equal(w.Version.Files.Count, (await w.Regulator.GetAsync<ViolationDto>($"/api/violations/{v.Id}", default)).Evidence!.Files.Count);
    }

    [Fact]
    public async Task APartialMatchNeedsTheVersionsFilesHoldingHalfItsBytes()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var weights = w.Version.Files.Single(f => f.Path == "model.bin");
        var config = w.Version.Files.Single(f => f.Path == "config.json");

        // The 4 KiB weights file, renamed, beside files of its own: most of the version's bytes, so a partial match.
        var partial = await Report(w, EvidenceFor(weights with { Path = "pytorch_model.bin" }, RandomFile("README.md", 900)));
        Assert.Equal(ViolationStatus.Pending, partial.Status);
        Assert.Equal("partial", partial.Match);
        Assert.Equal(1, partial.MatchedFiles);

        // Only the small config file matches: not enough to name anyone.
        var size = await LedgerSizeAsync(Host);
        var tooLittle = await Report(w, EvidenceFor(config, RandomFile("model.safetensors", 8192)));
        Assert.False(tooLittle.Recorded);
        Assert.Equal("unregistered", tooLittle.Status);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task TheCaseRegulatorsConfirmationMarksTheDeveloperPublicly()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var pending = await Report(w, EvidenceOf(w));
        var size = await LedgerSizeAsync(Host);
        var confirmed = await Confirm(w, pending.Id);
        Assert.Equal(ViolationStatus.Confirmed, confirmed.Status);

        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("violation.recorded", leaf.Type);
        Assert.Equal(w.DeveloperOrg, leaf.Data["developer"]!.GetValue<string>());
        Assert.Equal(w.Version.ManifestDigest, leaf.Data["manifestDigest"]!.GetValue<string>());
        Assert.Equal(pending.EvidenceSha256, leaf.Data["evidenceSha256"]!.GetValue<string>());
        Assert.Equal("the torrent's files match the registered weights", leaf.Data["reason"]!.GetValue<string>());
        Assert.Equal("rule-4", leaf.Data["rule"]!.GetValue<string>());

        var mark = await MarkOf(w.DeveloperOrg);
        Assert.NotNull(mark);
        Assert.Contains(w.Version.ManifestDigest, mark.BadActorReason, StringComparison.Ordinal);
        var shown = Assert.Single(mark.Violations);
        Assert.Equal(pending.Id, shown.Id);
        var decision = Assert.Single(shown.Decisions);
        Assert.Equal("confirmed", decision.Kind);
        Assert.Equal(w.RegulatorOrg, decision.OrganisationId);
        Assert.Equal(size, decision.LedgerIndex);
        // Public now, evidence included, so anyone can check it against the leaf's evidenceSha256.
        var anonymous = await Host.Anonymous.GetAsync<ViolationDto>($"/api/violations/{pending.Id}", default);
        Assert.Equal(w.Version.Files.Count, anonymous.Evidence!.Files.Count);
    }

    [Fact]
    public async Task AnyRegulatorConfirmsASightingOfAVersionThatHasNoCaseWhichOnlyItsDeveloperAndReporterSeePending()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        List<WeightsFileDto> files = [RandomFile("model.bin", 4096), RandomFile("config.json", 64)];
        var evidence = EvidenceFor([.. files]);
        var model = await w.Developer.PostAsync<ModelDto>("/api/models", new RegisterModelRequest { Name = $"caseless-{w.Tag}" }, default);
        var version = await w.Developer.PostAsync<ModelVersionDto>($"/api/models/{model.Id}/versions",
            new RegisterVersionRequest { Version = "0.1", ManifestDigest = evidence.ManifestDigest, Files = files }, default);
        var pending = await Report(w, evidence);
        Assert.Equal(version.Id, pending.ModelVersionId);
        Assert.Equal(ViolationStatus.Pending, (await w.MailParty.GetAsync<ViolationDto>($"/api/violations/{pending.Id}", default)).Status);
        Assert.Equal(ViolationStatus.Pending, (await w.Developer.GetAsync<ViolationDto>($"/api/violations/{pending.Id}", default)).Status);
        await Refused(HttpStatusCode.NotFound, null, () => w.BioParty.GetAsync<ViolationDto>($"/api/violations/{pending.Id}", default));
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", pending.Id, () => Confirm(w, pending.Id, w.Developer));
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", pending.Id, () => Confirm(w, pending.Id, w.MailParty));

        var confirmed = await Confirm(w, pending.Id, w.OtherRegulator);

        Assert.Equal(ViolationStatus.Confirmed, confirmed.Status);
        Assert.Equal(w.OtherRegulatorOrg, Assert.Single(confirmed.Decisions).OrganisationId);
        Assert.NotNull(await MarkOf(w.DeveloperOrg));
    }

    [Fact]
    public async Task OnlyARegulatorOfTheVersionsCaseMayConfirmOrReject()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var pending = await Report(w, EvidenceOf(w));
        foreach (var who in new[] { w.OtherRegulator, w.MailParty, w.Developer, w.Certifier })
        {
            await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", pending.Id, () => Confirm(w, pending.Id, who));
            await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", pending.Id, () =>
                who.PostAsync<ViolationDto>($"/api/violations/{pending.Id}/reject", new ViolationDecisionRequest { Reason = "no" }, default));
        }
        Assert.Equal(ViolationStatus.Pending, (await w.Regulator.GetAsync<ViolationDto>($"/api/violations/{pending.Id}", default)).Status);
        Assert.Null(await MarkOf(w.DeveloperOrg));
    }

    [Fact]
    public async Task ARejectedSightingMarksNobodyAndItsReasonStaysOffThePublicLedger()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var pending = await Report(w, EvidenceOf(w));
        var size = await LedgerSizeAsync(Host);
        const string reason = "the listing is a fake: the files never downloaded";
        var rejected = await w.Regulator.PostAsync<ViolationDto>($"/api/violations/{pending.Id}/reject", new ViolationDecisionRequest { Reason = reason }, default);
        Assert.Equal(ViolationStatus.Rejected, rejected.Status);
        Assert.Equal(reason, Assert.Single(rejected.Decisions).Reason);

        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("sighting.rejected", leaf.Type);
        Assert.Equal(Sha256Digest.Of(Encoding.UTF8.GetBytes(reason)).ToString(), leaf.Data["reasonSha256"]!.GetValue<string>());
        Assert.DoesNotContain("fake", leaf.Text, StringComparison.Ordinal);
        Assert.Null(await MarkOf(w.DeveloperOrg));
        await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.GetAsync<ViolationDto>($"/api/violations/{pending.Id}", default));
        // Decided once: it cannot be confirmed afterwards.
        await RefusedWithNothingChanged(w, HttpStatusCode.Conflict, "rule-4", pending.Id, () => Confirm(w, pending.Id));
    }

    [Fact]
    public async Task ADisputeAndTheRegulatorsDecisionArePublicAndOnTheLedger()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var violation = await ConfirmedViolation(w);
        var size = await LedgerSizeAsync(Host);
        var disputed = await Dispute(w, violation.Id);
        var dispute = Assert.Single(disputed.Disputes);
        Assert.Null(dispute.Outcome);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("violation.disputed", leaf.Type);
        Assert.Equal(dispute.Statement, leaf.Data["statement"]!.GetValue<string>());
        Assert.Equal(dispute.Id, leaf.Data["dispute"]!.GetValue<string>());

        size = await LedgerSizeAsync(Host);
        var decided = await DecideDispute(w, violation.Id, "rejected");
        Assert.Equal(ViolationStatus.Confirmed, decided.Status);
        leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("violation.dispute-decided", leaf.Type);
        Assert.Equal("rejected", leaf.Data["outcome"]!.GetValue<string>());
        Assert.True(leaf.Data["developerMarked"]!.GetValue<bool>());

        var mark = await MarkOf(w.DeveloperOrg);
        Assert.NotNull(mark);
        var shown = Assert.Single(Assert.Single(mark.Violations).Disputes);
        Assert.Equal("rejected", shown.Outcome);
        Assert.Equal("police report checked", shown.DecisionReason);
        Assert.Equal(size, shown.DecisionLedgerIndex);

        // A violation is disputed once.
        await RefusedWithNothingChanged(w, HttpStatusCode.Conflict, "rule-4", violation.Id, () => Dispute(w, violation.Id));
    }

    [Fact]
    public async Task AnUpheldDisputeClearsTheMark()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var violation = await ConfirmedViolation(w);
        await Dispute(w, violation.Id);
        Assert.NotNull(await MarkOf(w.DeveloperOrg));
        var size = await LedgerSizeAsync(Host);
        var decided = await DecideDispute(w, violation.Id, "upheld");
        Assert.Equal(ViolationStatus.Overturned, decided.Status);
        Assert.Null(await MarkOf(w.DeveloperOrg));
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("upheld", leaf.Data["outcome"]!.GetValue<string>());
        Assert.False(leaf.Data["developerMarked"]!.GetValue<bool>());
        var organisations = await Host.Anonymous.GetAllAsync<OrganisationDto>("/api/organisations", default);
        Assert.False(organisations.Single(o => o.Id == w.DeveloperOrg).BadActor);
        // The record of it stays public.
        Assert.Equal("upheld", Assert.Single((await Host.Anonymous.GetAsync<ViolationDto>($"/api/violations/{violation.Id}", default)).Disputes).Outcome);
    }

    [Fact]
    public async Task ARegulatorOfTheCaseLiftsAMarkWithAReason()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var violation = await ConfirmedViolation(w);
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", violation.Id, () =>
            w.OtherRegulator.PostAsync<BadActorDto>($"/api/bad-actors/{w.DeveloperOrg}/lift", new LiftMarkRequest { Reason = "not mine to lift" }, default));
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", violation.Id, () =>
            w.Developer.PostAsync<BadActorDto>($"/api/bad-actors/{w.DeveloperOrg}/lift", new LiftMarkRequest { Reason = "we are sorry" }, default));

        var size = await LedgerSizeAsync(Host);
        var lifted = await w.Regulator.PostAsync<BadActorDto>($"/api/bad-actors/{w.DeveloperOrg}/lift", new LiftMarkRequest { Reason = "weights withdrawn; fine paid" }, default);
        Assert.False(lifted.BadActor);
        Assert.Equal(ViolationStatus.Lifted, Assert.Single(lifted.Violations).Status);
        Assert.Null(await MarkOf(w.DeveloperOrg));
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("bad-actor.mark-lifted", leaf.Type);
        Assert.Equal("weights withdrawn; fine paid", leaf.Data["reason"]!.GetValue<string>());
        Assert.Equal(violation.Id, Assert.Single(leaf.Data["violations"]!.AsArray())!.GetValue<string>());

        // Nothing left to lift, and a lifted violation is not disputed.
        await RefusedWithNothingChanged(w, HttpStatusCode.Conflict, "rule-4", violation.Id, () =>
            w.Regulator.PostAsync<BadActorDto>($"/api/bad-actors/{w.DeveloperOrg}/lift", new LiftMarkRequest { Reason = "again" }, default));
        await RefusedWithNothingChanged(w, HttpStatusCode.Conflict, "rule-4", violation.Id, () => Dispute(w, violation.Id));
    }

    [Fact]
    public async Task OnlyTheVersionsRegulatorDecidesADisputeAndOnlyTheMarkedDeveloperDisputes()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var violation = await ConfirmedViolation(w);
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", violation.Id, () => Dispute(w, violation.Id, w.OtherDeveloper));
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", violation.Id, () => Dispute(w, violation.Id, w.MailParty));
        await Dispute(w, violation.Id);
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", violation.Id, () => DecideDispute(w, violation.Id, "upheld", w.OtherRegulator));
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", violation.Id, () => DecideDispute(w, violation.Id, "upheld", w.Developer));
        Assert.NotNull(await MarkOf(w.DeveloperOrg));
    }

    [Fact]
    public async Task ADeveloperCannotReportAViolation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", null, () => Report(w, EvidenceOf(w), w.OtherDeveloper));
        await RefusedWithNothingChanged(w, HttpStatusCode.Forbidden, "rule-4", null, () => Report(w, EvidenceOf(w), w.Developer));
    }

    [Fact]
    public async Task AnonymousLookupOfAnUnreleasedVersionIsNotFoundLikeAnUnregisteredDigest()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var path = $"/api/weights/{w.Version.ManifestDigest}";
        var unreleased = await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.GetAsync<WeightsStatusDto>(path, default));
        await Refused(HttpStatusCode.NotFound, null, () => w.OtherDeveloper.GetAsync<WeightsStatusDto>(path, default));
        await Refused(HttpStatusCode.NotFound, null, () => w.OtherRegulator.GetAsync<WeightsStatusDto>(path, default));
        Assert.DoesNotContain("camelid", unreleased.Detail, StringComparison.Ordinal);
        var stranger = "sha256:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var unregistered = await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.GetAsync<WeightsStatusDto>($"/api/weights/{stranger}", default));
        Assert.Equal(unreleased.Detail.Replace(w.Version.ManifestDigest, "D", StringComparison.Ordinal), unregistered.Detail.Replace(stranger, "D", StringComparison.Ordinal));

        Assert.Equal($"camelid-{w.Tag}@1.0", (await w.Developer.GetAsync<WeightsStatusDto>(path, default)).Model);
        Assert.Equal(w.Version.Id, (await w.Regulator.GetAsync<WeightsStatusDto>(path, default)).ModelVersionId);
        Assert.Equal(w.Version.Id, (await w.Evaluator.GetAsync<WeightsStatusDto>(path, default)).ModelVersionId);

        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");
        var released = await Host.Anonymous.GetAsync<WeightsStatusDto>(path, default);
        Assert.Equal(["hosted"], released.ReleasedTiers);
    }

    [Fact]
    public void PartialMatchCountsTheVersionsBytesWhateverThePaths()
    {
        var big = new EvidenceFile("model-00001.safetensors", 600, new string('a', 64));
        var small = new EvidenceFile("config.json", 400, new string('b', 64));
        var empty = new EvidenceFile("empty.txt", 0, new string('c', 64));
        IReadOnlyList<EvidenceFile> version = [big, small, empty];
        Assert.Equal("manifest", ViolationRules.Match("sha256:x", [], "sha256:x", version)!.Kind);
        var renamed = ViolationRules.Match("sha256:y", [big with { Path = "renamed.bin" }], "sha256:x", version);
        Assert.Equal(new SightingMatch("partial", 1, 600, 1000), renamed);
        Assert.Null(ViolationRules.Match("sha256:y", [small], "sha256:x", version));
        Assert.Null(ViolationRules.Match("sha256:y", [empty], "sha256:x", version));
        Assert.Equal(new SightingMatch("partial", 1, 500, 1000), ViolationRules.Match("sha256:y", [big with { Bytes = 1 }], "sha256:x",
            [big with { Bytes = 500 }, small with { Bytes = 500 }]));
    }
}
