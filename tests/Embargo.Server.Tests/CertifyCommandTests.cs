using System.Diagnostics;
using Embargo.Cli.Commands;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// `embargo certify` checks what it signs and never leaves a dangling approval for a wrong key; `embargo verify` and
/// tools/check-demo.py follow revocation: a certificate revoked, flagged or superseded on the ledger fails, naming the leaf.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CertifyCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-certify-");
    private EmbargoHost Host => fixture.Host;

    public void Dispose() => _dir.Delete(recursive: true);

    private string P(string name) => Path.Combine(_dir.FullName, name);

    private static void OneLineError(CliRun run, string mustName)
    {
        var lines = run.Error.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("embargo: ", lines[0]);
        Assert.Contains(mustName, lines[0]);
        Assert.DoesNotContain("   at ", run.Error);
    }

    /// <summary>Runs `embargo ARGS --server URL --token-env VAR` as <paramref name="who"/>.</summary>
    private async Task<CliRun> As(ProtocolWorld w, EmbargoClient who, params string[] args)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[who]);
        try
        {
            return await CliRunner.RunAsync([.. args, "--server", Host.Url.ToString(), "--token-env", variable]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    private async Task<string> KeyFile(string name, Embargo.Protocol.Certificates.SigningKey key)
    {
        await File.WriteAllTextAsync(P(name), key.PrivatePem);
        return P(name);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    [Fact]
    public async Task CertifyWithAKeyThatIsNotTheCertifiersRegisteredKeyIsRefusedAndLogsNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var size = await LedgerSizeAsync(Host);
        var before = await w.CaseTextAsync();

        var run = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", await KeyFile("other.key.pem", w.OtherCertifierKey), "--out", P("cert.json"));

        Assert.Equal(CliApp.Failed, run.Code);
        OneLineError(run, "keyId");
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Equal(before, await w.CaseTextAsync());
        Assert.False(File.Exists(P("cert.json")));
        Assert.DoesNotContain(await LeavesAsync(Host), l => l.Type == "certification.approved" && l.Data["case"]!.GetValue<string>() == w.CaseId);
    }

    [Fact]
    public async Task CertifyWithWeightsOnDiskThatDifferFromTheRegisteredManifestIsRefusedBeforeAnyApproval()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        CopyDirectory(w.WeightsDirectory, P("weights"));
        var bytes = await File.ReadAllBytesAsync(P("weights/model.bin"));
        bytes[0] ^= 1;
        await File.WriteAllBytesAsync(P("weights/model.bin"), bytes);
        var size = await LedgerSizeAsync(Host);
        var before = await w.CaseTextAsync();

        var run = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", await KeyFile("assure.key.pem", w.CertifierKey),
            "--weights", P("weights"), "--out", P("cert.json"));

        Assert.Equal(CliApp.Failed, run.Code);
        OneLineError(run, "refusing to sign: weights");
        Assert.Contains(w.Version.ManifestDigest, run.Error);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Equal(before, await w.CaseTextAsync());
        Assert.False(File.Exists(P("cert.json")));
    }

    [Fact]
    public async Task CertifyPrintsWhatItSignsAndARepeatSignsNothingNew()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var key = await KeyFile("assure.key.pem", w.CertifierKey);

        var run = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", key, "--weights", w.WeightsDirectory, "--out", P("cert.json"));

        Assert.True(run.Code == CliApp.Ok, run.Error);
        Assert.Contains("about to sign certificate", run.Out);
        Assert.Contains($"camelid-{w.Tag}@1.0", run.Out);
        Assert.Contains(w.Version.ManifestDigest, run.Out);
        Assert.Contains("tier      hosted", run.Out);
        Assert.Contains($"case      {w.CaseId}", run.Out);
        Assert.Contains($"{w.PhishingFinding!.Id} {ProtocolWorld.Phishing}: novel", run.Out);
        Assert.Contains($"{w.BioFinding!.Id} {ProtocolWorld.Bio}: not novel", run.Out);
        var envelope = await File.ReadAllTextAsync(P("cert.json"));
        var size = await LedgerSizeAsync(Host);

        var again = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", key, "--out", P("again.json"));

        Assert.True(again.Code == CliApp.Ok, again.Error);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Equal(envelope, await File.ReadAllTextAsync(P("again.json")));
        Assert.Single(await LeavesAsync(Host), l => l.Type == "certificate.issued" && l.Data["case"]!.GetValue<string>() == w.CaseId);
    }

    [Fact]
    public async Task CertifyPrintsASummaryAndTheEnvelopesPathNotTheEnvelope()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);

        var run = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", await KeyFile("assure.key.pem", w.CertifierKey), "--out", P("cert.json"));

        Assert.True(run.Code == CliApp.Ok, run.Error);
        var envelope = await File.ReadAllTextAsync(P("cert.json"));
        var payload = System.Text.Json.Nodes.JsonNode.Parse(envelope)!["payload"]!.GetValue<string>();
        Assert.DoesNotContain(payload[..40], run.Out);
        Assert.DoesNotContain("payloadType", run.Out);
        Assert.DoesNotContain("BEGIN PUBLIC KEY", run.Out);
        var summary = run.Out[run.Out.LastIndexOf("\ncertificate cert_", StringComparison.Ordinal)..].TrimStart().TrimEnd().Split('\n');
        Assert.Equal(3, summary.Length);
        Assert.Contains($"issued: case {w.CaseId}, tier hosted", summary[0]);
        Assert.Equal($"  weights  {w.Version.ManifestDigest}", summary[1]);
        Assert.Equal($"  written  {Path.GetFullPath(P("cert.json"))}", summary[2]);

        var json = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", P("assure.key.pem"), "--json");
        Assert.Equal(envelope.TrimEnd('\n'), System.Text.Json.Nodes.JsonNode.Parse(json.Out)!["envelope"]!.GetValue<string>());
    }

    [Fact]
    public async Task VerifyWithoutWeightsOrALedgerNamesEveryCheckItDidNotMake()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var dir = await ExportAsync(w, "export");

        var bare = await CliRunner.RunAsync("verify", Path.Combine(dir, "certificate.dsse.json"), "--key", Path.Combine(dir, "certifier.pub.pem"));

        Assert.True(bare.Code == CliApp.Ok, bare.Error);
        Assert.Contains(bare.Out.Split('\n'), l => l.Contains("weights", StringComparison.Ordinal) && l.Contains("NOT CHECKED", StringComparison.Ordinal));
        Assert.Contains(bare.Out.Split('\n'), l => l.Contains("ledger, checkpoint", StringComparison.Ordinal) && l.Contains("NOT CHECKED", StringComparison.Ordinal));
        Assert.Contains("not checked: no --weights given", bare.Out);
        Assert.Contains("unconfirmed: revocation was not checked", bare.Out);

        var full = await Verify(dir);
        Assert.True(full.Code == CliApp.Ok, full.Error);
        Assert.DoesNotContain("NOT CHECKED", full.Out);
        Assert.DoesNotContain("not checked", full.Out);
    }

    [Fact]
    public async Task CertifyWithAnOmsKeyWritesAModelSigningBundleThatVerifyAcceptsAndThatFailsOnAnUnsignedFile()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var keygen = await CliRunner.RunAsync(["keygen", "--out", P("oms"), "--type", "ecdsa-p256"]);
        Assert.True(keygen.Code == CliApp.Ok, keygen.Error);

        var run = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", await KeyFile("assure.key.pem", w.CertifierKey),
            "--weights", w.WeightsDirectory, "--out", P("cert.json"), "--oms-key", P("oms.key.pem"), "--oms-out", P("model.sig"));

        Assert.True(run.Code == CliApp.Ok, run.Error);
        var verify = await CliRunner.RunAsync(["verify", "--oms", P("model.sig"), "--oms-key", P("oms.pub.pem"), "--weights", w.WeightsDirectory]);
        Assert.True(verify.Code == CliApp.Ok, verify.Error);
        Assert.Contains("valid: the OMS signature verifies", verify.Out);
        CopyDirectory(w.WeightsDirectory, P("weights"));
        await File.WriteAllTextAsync(P("weights/extra.txt"), "not certified");
        var extra = await CliRunner.RunAsync(["verify", "--oms", P("model.sig"), "--oms-key", P("oms.pub.pem"), "--weights", P("weights")]);
        Assert.Equal(CliApp.Failed, extra.Code);
        OneLineError(extra, "OMS verification failed: files: 'extra.txt' is in");
    }

    [Fact]
    public async Task CertifyWithAnOmsKeyThatIsNotEcdsaIsRefusedWithExit2BeforeAnyApproval()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var size = await LedgerSizeAsync(Host);
        var ed25519 = await KeyFile("assure.key.pem", w.CertifierKey);

        var run = await As(w, w.Certifier, "certify", w.CaseId, "--tier", "hosted", "--key", ed25519, "--oms-key", ed25519, "--out", P("cert.json"));

        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, "not an ECDSA private key PEM");
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.False(File.Exists(P("cert.json")));
    }

    // ---- verification follows revocation ----

    /// <summary>The demo's layout: certificate, certifier key, weights and an export of the ledger as it is now.</summary>
    private async Task<string> ExportAsync(ProtocolWorld w, string name)
    {
        var dir = P(name);
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, "certificate.dsse.json"), w.Certificate!.Envelope + "\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "certifier.pub.pem"), w.CertifierKey.PublicKey.Pem);
        await File.WriteAllBytesAsync(Path.Combine(dir, "safety-case.json"), await Host.Anonymous.Certificates.SafetyCaseAsync(w.Certificate.Id, "json", default));
        await File.WriteAllBytesAsync(Path.Combine(dir, "safety-case.svg"), await Host.Anonymous.Certificates.SafetyCaseAsync(w.Certificate.Id, "svg", default));
        CopyDirectory(w.WeightsDirectory, Path.Combine(dir, "weights"));
        await LedgerCommands.ExportAsync(Host.Anonymous, dir, default);
        return dir;
    }

    private static Task<CliRun> Verify(string dir, bool withLedger = true) => CliRunner.RunAsync(withLedger
        ? ["verify", Path.Combine(dir, "certificate.dsse.json"), "--key", Path.Combine(dir, "certifier.pub.pem"), "--checkpoint", Path.Combine(dir, "checkpoint.txt"),
           "--ledger", Path.Combine(dir, "ledger.jsonl"), "--ledger-key", Path.Combine(dir, "ledger.vkey"), "--weights", Path.Combine(dir, "weights")]
        : ["verify", Path.Combine(dir, "certificate.dsse.json"), "--key", Path.Combine(dir, "certifier.pub.pem"), "--weights", Path.Combine(dir, "weights")]);

    private static async Task<CliRun> CheckDemo(string dir)
    {
        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(DemoFixture.RepositoryRoot(), "tools", "check-demo.py"));
        start.ArgumentList.Add(dir);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }

    private async Task<Leaf> LastLeafAsync(string type, string certificateId) =>
        (await LeavesAsync(Host)).Last(l => l.Type == type && l.Data["certificate"]?.GetValue<string>() == certificateId);

    [Fact]
    public async Task VerifyAndCheckDemoFailOnACertificateRevokedByADenialNamingTheLeaf()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var before = await ExportAsync(w, "before");
        var ok = await Verify(before);
        Assert.True(ok.Code == CliApp.Ok, ok.Error);
        Assert.Contains("valid: every check holds", ok.Out);
        Assert.True((await CheckDemo(before)).Code == 0);

        await w.Regulator.Cases.DenyAsync(w.CaseId, new DenyRequest { Reason = "the mitigation does not hold" }, default);
        var revoked = await LastLeafAsync("certificate.revoked", w.Certificate!.Id);
        var after = await ExportAsync(w, "after");

        var run = await Verify(after);
        Assert.Equal(CliApp.Failed, run.Code);
        OneLineError(run, $"revocation: leaf {revoked.Index} (certificate.revoked)");
        var checker = await CheckDemo(after);
        Assert.Equal(1, checker.Code);
        Assert.Contains($"leaf {revoked.Index} (certificate.revoked)", checker.Error);
    }

    [Fact]
    public async Task VerifyAndCheckDemoFailOnACertificateFlaggedByAStrongerReferenceModelNamingTheLeaf()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, referenceStrength: 0.5);
        await w.DriveToAsync(Milestone.Certified);
        await w.Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"frontier-stronger-{w.Tag}", Strength = 0.75 }, default);
        var flagged = await LastLeafAsync("certificate.flagged-for-reevaluation", w.Certificate!.Id);
        var after = await ExportAsync(w, "after");

        var run = await Verify(after);
        Assert.Equal(CliApp.Failed, run.Code);
        OneLineError(run, $"revocation: leaf {flagged.Index} (certificate.flagged-for-reevaluation)");
        var checker = await CheckDemo(after);
        Assert.Equal(1, checker.Code);
        Assert.Contains($"leaf {flagged.Index} (certificate.flagged-for-reevaluation)", checker.Error);
    }

    [Fact]
    public async Task VerifyWithoutALedgerSaysRevocationWasNotCheckedAndDoesNotClaimValid()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.Regulator.Cases.DenyAsync(w.CaseId, new DenyRequest { Reason = "withdrawn" }, default);
        var dir = await ExportAsync(w, "export");

        var run = await Verify(dir, withLedger: false);

        Assert.True(run.Code == CliApp.Ok, run.Error);
        Assert.Contains("unconfirmed: revocation was not checked", run.Out);
        Assert.DoesNotContain("valid: every check holds", run.Out);
        var json = await CliRunner.RunAsync("verify", Path.Combine(dir, "certificate.dsse.json"), "--key", Path.Combine(dir, "certifier.pub.pem"), "--json");
        Assert.False(System.Text.Json.Nodes.JsonNode.Parse(json.Out)!["revocationChecked"]!.GetValue<bool>());
    }
}
