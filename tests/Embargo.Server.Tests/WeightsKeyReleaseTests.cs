using System.Net;
using Embargo.Cli.Commands;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Weights;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>The downloadable tier: a wrapped weights key reaches a grantee only under a valid certificate for downloadable or higher.</summary>
public sealed class WeightsKeyReleaseTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private sealed record Grantee(EmbargoClient Client, string PrincipalId, string KeyFile);

    private async Task<Grantee> GranteeAsync(ProtocolWorld w)
    {
        var stem = Path.Combine(Host.DataDirectory, "grantee-" + Guid.NewGuid().ToString("N")[..8]);
        Assert.True(KeyFiles.Generate(stem).IsOk);
        var org = await w.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = "Open Research Lab " + Path.GetFileName(stem) }, default);
        var created = await w.Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
        {
            OrganisationId = org.Id, Name = "researcher", Role = "evaluator", EncryptionKey = await File.ReadAllTextAsync(stem + ".pub"),
        }, default);
        return new Grantee(w.Admin.As(created.Token), created.Principal.Id, stem + ".key");
    }

    /// <summary>Seals the world's weights to the grantee, deposits the wrapped key and publishes the seal without it.</summary>
    private async Task<string> SealAndDepositAsync(ProtocolWorld w, Grantee grantee)
    {
        var sealedDir = Path.Combine(Host.DataDirectory, "sealed-" + Guid.NewGuid().ToString("N")[..8]);
        var seal = await WeightsSealer.SealAsync(w.WeightsDirectory, sealedDir, [grantee.KeyFile[..^4] + ".pub"], null, null, default);
        Assert.True(seal.IsOk, seal.Error?.ToString());
        var deposit = await w.Developer.Weights.DepositKeysAsync(w.Version.Id, new DepositKeysRequest
        {
            SealId = seal.Value.SealId, ManifestDigest = seal.Value.ManifestDigest,
            Keys = seal.Value.Recipients.Select(k => new WrappedKeyDto { KeyId = k.KeyId, EphemeralPublicKey = k.EphemeralPublicKey, WrappedDataKey = k.WrappedDataKey }).ToList(),
        }, default);
        Assert.Equal(1, deposit.Keys);
        Assert.True(WeightsSealer.ReplaceRecipients(sealedDir, []).IsOk);
        return sealedDir;
    }

    private Task<KeyReleaseDto> RequestKey(ProtocolWorld w, Grantee g) =>
        g.Client.Weights.RequestKeyAsync(w.Version.Id, default);

    [Fact]
    public async Task AKeyIsNotReleasedOnACertificateWhoseTierWasRaisedInTheStore()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        Assert.Equal("hosted", w.Certificate!.Tier);
        var grantee = await GranteeAsync(w);
        await SealAndDepositAsync(w, grantee);
        await w.Developer.Weights.GrantAsync(w.Version.Id, new GrantRequest { PrincipalId = grantee.PrincipalId }, default);
        using (var store = Host.OpenStoreConnection())
        {
            using var raise = store.CreateCommand();
            raise.CommandText = $"UPDATE certificates SET \"Tier\" = 'downloadable' WHERE \"Id\" = '{w.Certificate.Id}'";
            Assert.Equal(1, await raise.ExecuteNonQueryAsync());
        }

        var refused = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => RequestKey(w, grantee));
        Assert.Contains($"certificate {w.Certificate.Id} is stored at downloadable, but its signed statement says hosted; its key stays sealed", refused.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(await LeavesAsync(Host), l => l.Type == "weights.key-released" && l.Data["principal"]!.GetValue<string>() == grantee.PrincipalId);
    }

    [Fact]
    public async Task AGranteeOpensTheSealedWeightsOnlyOnceADownloadableCertificateExists()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "downloadable");
        await w.DriveToAsync(Milestone.Certification);
        var grantee = await GranteeAsync(w);
        var sealedDir = await SealAndDepositAsync(w, grantee);
        await w.Developer.Weights.GrantAsync(w.Version.Id, new GrantRequest { PrincipalId = grantee.PrincipalId }, default);

        // Without the key the published seal cannot be opened.
        var noKey = await WeightsSealer.UnsealAsync(sealedDir, grantee.KeyFile, Path.Combine(Host.DataDirectory, "nokey-" + w.Tag), null, default);
        Assert.False(noKey.IsOk);

        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => RequestKey(w, grantee));

        await w.DriveToAsync(Milestone.Certified);
        var release = await RequestKey(w, grantee);
        Assert.Equal(w.Certificate!.Id, release.CertificateId);
        var leaves = await LeavesAsync(Host);
        Assert.Contains(leaves, l => l.Type == "weights.key-released" && l.Data["principal"]!.GetValue<string>() == grantee.PrincipalId);

        var key = new WrappedKey { KeyId = release.Key.KeyId, EphemeralPublicKey = release.Key.EphemeralPublicKey, WrappedDataKey = release.Key.WrappedDataKey };
        Assert.True(WeightsSealer.ReplaceRecipients(sealedDir, [key]).IsOk);
        var outDir = Path.Combine(Host.DataDirectory, "opened-" + w.Tag);
        var opened = await WeightsSealer.UnsealAsync(sealedDir, grantee.KeyFile, outDir, null, default);
        Assert.True(opened.IsOk, opened.Error?.ToString());
        foreach (var file in Directory.EnumerateFiles(w.WeightsDirectory))
        {
            Assert.Equal(await File.ReadAllBytesAsync(file), await File.ReadAllBytesAsync(Path.Combine(outDir, Path.GetFileName(file))));
        }
    }

    [Fact]
    public async Task AHostedCertificateDoesNotReleaseTheKey()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "hosted");
        await w.DriveToAsync(Milestone.Certified);
        var grantee = await GranteeAsync(w);
        await SealAndDepositAsync(w, grantee);
        await w.Developer.Weights.GrantAsync(w.Version.Id, new GrantRequest { PrincipalId = grantee.PrincipalId }, default);
        var refused = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => RequestKey(w, grantee));
        Assert.Contains("downloadable", refused.Detail);
    }

    [Fact]
    public async Task WithoutAGrantNoKeyIsReleasedEvenUnderACertificate()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "downloadable");
        await w.DriveToAsync(Milestone.Certified);
        var grantee = await GranteeAsync(w);
        await SealAndDepositAsync(w, grantee);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => RequestKey(w, grantee));
    }

    [Fact]
    public async Task OnlyTheModelsDeveloperGrantsAndDepositsKeys()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "downloadable");
        var grantee = await GranteeAsync(w);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () =>
            w.OtherDeveloper.Weights.GrantAsync(w.Version.Id, new GrantRequest { PrincipalId = grantee.PrincipalId }, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () =>
            grantee.Client.Weights.GrantAsync(w.Version.Id, new GrantRequest { PrincipalId = grantee.PrincipalId }, default));
    }

    [Fact]
    public async Task ADepositForOtherWeightsIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "downloadable");
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () =>
            w.Developer.Weights.DepositKeysAsync(w.Version.Id, new DepositKeysRequest
            {
                SealId = "00112233445566778899aabbccddeeff", ManifestDigest = "sha256:" + new string('a', 64),
                Keys = [new WrappedKeyDto { KeyId = "x25519:00", EphemeralPublicKey = "AAAA", WrappedDataKey = "AAAA" }],
            }, default));
        Assert.Contains("not of this version", e.Detail);
    }
}

/// <summary>`embargo scan`: weights found in the wild, run through the real CLI against the real server (rule 4).</summary>
[Collection(CliCollection.Name)]
public sealed class ScanCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    /// <summary>Runs `embargo scan … --json` with the token in a variable of its own; returns the exit code and the JSON.</summary>
    private async Task<(int Code, ScanResult? Result)> ScanAsync(string dir, string? token, params string[] extra)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, token);
        try
        {
            var run = await CliRunner.RunAsync(["scan", dir, "--server", Host.Url.ToString(), "--token-env", variable, "--json", .. extra]);
            return (run.Code, run.Out.Length == 0 ? null : System.Text.Json.JsonSerializer.Deserialize<ScanResult>(run.Out, EmbargoClient.Json));
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    private static async Task<string> ReporterTokenAsync(ProtocolWorld w) =>
        (await w.Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
        {
            OrganisationId = w.RegulatorOrg, Name = "scanner", Role = "regulator",
        }, default)).Token;

    [Fact]
    public async Task WeightsFoundOpenWithOnlyAHostedCertificateAreReportedPendingAndMarkTheDeveloperOnceConfirmed()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "hosted");
        await w.DriveToAsync(Milestone.Certified);
        var reporter = await ReporterTokenAsync(w);
        var size = await LedgerSizeAsync(Host);
        var (code, result) = await ScanAsync(w.WeightsDirectory, reporter, "--tier", "open", "--source", "torrent");
        Assert.Equal(CliApp.Failed, code);
        Assert.Equal(w.Version.ManifestDigest, result!.ManifestDigest);
        Assert.Equal("hosted", result.CertifiedTier);
        Assert.True(result.Sighting!.Recorded);
        Assert.Equal("pending", result.Sighting.Status);
        Assert.Equal(w.Version.Files.Count, result.Sighting.Evidence!.Files.Count);
        Assert.Equal("sighting.reported", Assert.Single(await LeavesAsync(Host, size)).Type);
        Assert.DoesNotContain(await Host.Anonymous.Organisations.BadActorsAsync(default), o => o.Id == w.DeveloperOrg);

        await w.Regulator.Violations.ConfirmAsync(result.Sighting.Id, new ViolationDecisionRequest { Reason = "seen on the tracker" }, default);
        var badActors = await Host.Anonymous.Organisations.BadActorsAsync(default);
        Assert.Contains(badActors, o => o.Id == w.DeveloperOrg);
        Assert.Contains(await LeavesAsync(Host), l => l.Type == "violation.recorded" && l.Data["manifestDigest"]!.GetValue<string>() == w.Version.ManifestDigest);
    }

    [Fact]
    public async Task WeightsSeenWithinTheirCertifiedTierAreNotAViolation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "hosted");
        await w.DriveToAsync(Milestone.Certified);
        var reporter = await ReporterTokenAsync(w);
        var before = await LedgerSizeAsync(Host);
        var (code, result) = await ScanAsync(w.WeightsDirectory, reporter, "--tier", "hosted");
        Assert.Equal(CliApp.Ok, code);
        Assert.Null(result!.Sighting);
        Assert.StartsWith("covered", result.Verdict);
        Assert.Equal(before, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task UnregisteredWeightsAreIdentifiedButNotBlamedOnAnyone()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var dir = Path.Combine(Host.DataDirectory, "stray-" + w.Tag);
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "weights.bin"), "not registered " + w.Tag);
        var (code, result) = await ScanAsync(dir, null);
        Assert.Equal(CliApp.Ok, code);
        Assert.False(result!.Registered);
        Assert.StartsWith("not a released version", result.Verdict);
        (code, result) = await ScanAsync(dir, await ReporterTokenAsync(w));
        Assert.Equal(CliApp.Ok, code);
        Assert.False(result!.Registered);
        Assert.StartsWith("unregistered", result.Verdict);
    }

    /// <summary>Runs `embargo ARGS --server … --token-env … --json` as the principal holding <paramref name="token"/>.</summary>
    private async Task<CliRun> RunAsAsync(string? token, params string[] args)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, token);
        try
        {
            return await CliRunner.RunAsync([.. args, "--server", Host.Url.ToString(), "--token-env", variable, "--json"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    private static T Parse<T>(CliRun run) => System.Text.Json.JsonSerializer.Deserialize<T>(run.Out, EmbargoClient.Json)!;

    [Fact]
    public async Task TheViolationVerbsCarryASightingWithTensorFactsThroughConfirmationDisputeAndAnUpheldDecision()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var dir = Path.Combine(Host.DataDirectory, "sample-" + w.Tag);
        SampleWeights.Write(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "tag.txt"), w.Tag);
        var manifest = (await ManifestBuilder.BuildAsync(dir, null, default)).Value;
        var model = await w.Developer.Models.RegisterAsync(new RegisterModelRequest { Name = $"sample-{w.Tag}" }, default);
        await w.Developer.Models.RegisterVersionAsync(model.Id, new RegisterVersionRequest
        {
            Version = "1.0", ManifestDigest = manifest.Digest, Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
        }, default);

        var developer = w.Tokens[w.Developer];
        var regulator = w.Tokens[w.Regulator];
        var refused = await RunAsAsync(developer, "violation", "report", "--weights", dir, "--tier", "open", "--source", "I say so");
        Assert.Equal(CliApp.Failed, refused.Code);
        Assert.Contains("rule-4", refused.Error, StringComparison.Ordinal);
        var noEvidence = await RunAsAsync(w.Tokens[w.MailParty], "violation", "report", "--tier", "open", "--source", "I say so");
        Assert.Equal(CliApp.BadInput, noEvidence.Code);

        var report = await RunAsAsync(w.Tokens[w.MailParty], "violation", "report", "--weights", dir, "--tier", "open", "--source", "https://tracker.example/sample");
        Assert.Equal(CliApp.Ok, report.Code);
        var sighting = Parse<ViolationDto>(report);
        Assert.Equal("pending", sighting.Status);
        Assert.NotEmpty(sighting.Evidence!.Tensors!);
        Assert.Contains(Parse<List<ViolationDto>>(await RunAsAsync(regulator, "violation", "list", "--status", "pending")), v => v.Id == sighting.Id);

        Assert.Equal("confirmed", Parse<ViolationDto>(await RunAsAsync(regulator, "violation", "confirm", sighting.Id, "--reason", "tracker files match")).Status);
        Assert.Single(Parse<ViolationDto>(await RunAsAsync(developer, "violation", "dispute", sighting.Id, "--statement", "stolen from our CI")).Disputes);
        var decided = Parse<ViolationDto>(await RunAsAsync(regulator, "violation", "decide", sighting.Id, "--uphold", "--reason", "theft confirmed"));
        Assert.Equal("overturned", decided.Status);
        Assert.Equal("upheld", Assert.Single(decided.Disputes).Outcome);
        Assert.DoesNotContain(await Host.Anonymous.Organisations.BadActorsAsync(default), o => o.Id == w.DeveloperOrg);
    }

    [Fact]
    public async Task AnUnknownTierIsBadInput()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var (code, _) = await ScanAsync(w.WeightsDirectory, null, "--tier", "everywhere");
        Assert.Equal(CliApp.BadInput, code);
    }

}
