using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;
using Embargo.Cli.Commands;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Protocol.Certificates;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Safety cases over HTTP: certification needs every claim supported; the certificate names the digest of the exported
/// argument; `embargo verify --safety-case` detects a file that is not it; the export validates against its schema.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class SafetyCaseTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private EmbargoHost Host => fixture.Host;
    private readonly string _dir = Directory.CreateTempSubdirectory("embargo-safety-case-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string P(string name) => Path.Combine(_dir, name);

    private static async Task<JsonObject> SafetyCaseAsync(ProtocolWorld w, string? tier = null) =>
        JsonNode.Parse(await w.Admin.Cases.SafetyCaseAsync(w.CaseId, tier, "json", default))!.AsObject();

    private static JsonObject ClaimOf(JsonObject safetyCase, string capability) =>
        safetyCase["claims"]!.AsArray().Single(c => c!["capability"]!.GetValue<string>() == capability)!.AsObject();

    [Fact]
    public async Task CertificationIsRefusedWhileAClaimIsOpenTheBlockersNameTheClaimAndItsMissingEvidenceAndNothingChanges()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);

        // Rule 2 answers first (the rule that failed); the safety case names the open claim and what would close it.
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        var blocker = Assert.Single((await w.CaseAsync()).Blockers, b => b.StartsWith("safety-case:", StringComparison.Ordinal));
        Assert.Contains("claim G1 ('cyber-phishing', mitigation) is open", blocker);
        Assert.Contains($"mitigation {w.PhishingMitigation.Id} is not verified", blocker);

        var safetyCase = await SafetyCaseAsync(w);
        Assert.Equal("open", safetyCase["status"]!.GetValue<string>());
        var phishing = ClaimOf(safetyCase, ProtocolWorld.Phishing);
        Assert.Equal(("open", "mitigation"), (phishing["status"]!.GetValue<string>(), phishing["argument"]!.GetValue<string>()));
        Assert.Contains(phishing["missing"]!.AsArray(), m => m!.GetValue<string>().EndsWith($"mitigation {w.PhishingMitigation.Id} is not verified", StringComparison.Ordinal));
        // Bio is argued by inability: a not-novel independent run under base, tool-augmented and assisted, each with its log's digest.
        var bio = ClaimOf(safetyCase, ProtocolWorld.Bio);
        Assert.Equal(("supported", "inability"), (bio["status"]!.GetValue<string>(), bio["argument"]!.GetValue<string>()));
        Assert.Equal(["base", "tool-augmented", "assisted"], bio["evidence"]!.AsArray().Select(e => e!["condition"]!.GetValue<string>()));
        Assert.All(bio["evidence"]!.AsArray(), e => Assert.StartsWith("sha256:", e!["digest"]!.GetValue<string>(), StringComparison.Ordinal));

        await w.DriveToAsync(Milestone.MitigationVerified);
        Assert.Empty((await w.CaseAsync()).Blockers);
        Assert.Equal("supported", (await SafetyCaseAsync(w))["status"]!.GetValue<string>());
        Assert.Equal("certification", (await w.AdvanceAsync("certification")).State);
    }

    [Fact]
    public async Task TheCertificatesPredicateNamesTheDigestOfTheExportedSafetyCaseWhichValidatesAgainstItsSchema()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);

        var exported = await Host.Anonymous.Certificates.SafetyCaseAsync(w.Certificate!.Id, "json", default);
        var statement = Statements.Parse(Convert.FromBase64String(JsonNode.Parse(w.Certificate.Envelope!)!["payload"]!.GetValue<string>())).Value;
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(exported)), statement.Predicate.SafetyCase!.Digest);
        Assert.Equal("application/vnd.embargo.safety-case+json", statement.Predicate.SafetyCase.MediaType);
        // Nothing changed since: the case's safety case at the certified tier is the same bytes.
        Assert.Equal(exported, await w.Admin.Cases.SafetyCaseAsync(w.CaseId, "hosted", "json", default));

        var doc = JsonNode.Parse(exported)!.AsObject();
        Assert.Equal("supported", doc["status"]!.GetValue<string>());
        Assert.Equal("mitigation", ClaimOf(doc, ProtocolWorld.Phishing)["argument"]!.GetValue<string>());
        Assert.Equal("inability", ClaimOf(doc, ProtocolWorld.Bio)["argument"]!.GetValue<string>());

        var outcome = await ValidateAgainstSchemaAsync(exported);
        Assert.True(outcome.Code == 0, outcome.Output);

        var svg = XDocument.Parse(Encoding.UTF8.GetString(await Host.Anonymous.Certificates.SafetyCaseAsync(w.Certificate.Id, "svg", default)));
        Assert.Equal("{http://www.w3.org/2000/svg}svg", svg.Root!.Name.ToString());
        var md = Encoding.UTF8.GetString(await Host.Anonymous.Certificates.SafetyCaseAsync(w.Certificate.Id, "md", default));
        Assert.Contains("## G1 — cyber-phishing (supported)", md);
    }

    [Fact]
    public async Task VerifyAcceptsTheExportedSafetyCaseAndFailsOnATamperedOne()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await File.WriteAllTextAsync(P("certificate.dsse.json"), w.Certificate!.Envelope);
        await File.WriteAllTextAsync(P("certifier.pub.pem"), w.Certificate.CertifierKeyPem);
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[w.Certifier]);
        try
        {
            var export = await CliRunner.RunAsync("case", "safety-case", w.CaseId, "--certificate", w.Certificate.Id, "--format", "json", "--out", P("safety-case.json"),
                "--server", Host.Url.ToString(), "--token-env", variable);
            Assert.True(export.Code == CliApp.Ok, export.Error);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }

        var verified = await VerifyCommand.RunAsync(P("certificate.dsse.json"), P("certifier.pub.pem"), null, null, null, null, default, P("safety-case.json"));
        Assert.True(verified.Ok, verified.FirstFailure?.Detail);
        Assert.Contains(verified.Checks, c => c.Name == CertificateVerifier.SafetyCaseCheck && c.Ok);

        // One claim's status flipped by hand: the file is no longer the argument the certificate names.
        var text = await File.ReadAllTextAsync(P("safety-case.json"));
        await File.WriteAllTextAsync(P("tampered.json"), text.Replace("\"argument\":\"inability\"", "\"argument\":\"control\"", StringComparison.Ordinal));
        Assert.NotEqual(text, await File.ReadAllTextAsync(P("tampered.json")));
        var tampered = await VerifyCommand.RunAsync(P("certificate.dsse.json"), P("certifier.pub.pem"), null, null, null, null, default, P("tampered.json"));
        Assert.False(tampered.Ok);
        Assert.Equal(CertificateVerifier.SafetyCaseCheck, tampered.FirstFailure!.Name);
        Assert.Contains("it is not the argument the certificate was issued on", tampered.FirstFailure.Detail);

        var run = await CliRunner.RunAsync("verify", P("certificate.dsse.json"), "--key", P("certifier.pub.pem"), "--safety-case", P("tampered.json"));
        Assert.Equal(CliApp.Failed, run.Code);
        Assert.Contains("safety case", run.Error);
    }

    [Fact]
    public async Task ReevaluationByAStrongerReferenceModelMarksStaleExactlyTheClaimWhoseEvidenceWasNotReRun()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var stronger = await w.Regulator.Models.RegisterReferenceAsync(new RegisterReferenceModelRequest { Name = $"frontier-2-{w.Tag}", Strength = w.Reference.Strength + 1 }, default);
        await w.Developer.Cases.ReevaluateAsync(w.CaseId, new ReevaluateCaseRequest { ReferenceModelId = stronger.Id }, default);
        // Bio is evaluated again with the stronger reference model under every condition hosted needs; phishing is not.
        await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        await w.CoverAsync(null, ProtocolWorld.Bio);

        var safetyCase = await SafetyCaseAsync(w);
        var bio = ClaimOf(safetyCase, ProtocolWorld.Bio);
        Assert.Equal(("supported", false), (bio["status"]!.GetValue<string>(), bio["stale"]!.GetValue<bool>()));
        Assert.All(bio["evidence"]!.AsArray(), e => Assert.Equal(stronger.Name, e!["referenceModel"]!.GetValue<string>()));
        var phishing = ClaimOf(safetyCase, ProtocolWorld.Phishing);
        Assert.Equal(("open", true), (phishing["status"]!.GetValue<string>(), phishing["stale"]!.GetValue<bool>()));
        var basePhishing = w.PhishingEvaluation!.Id;
        Assert.Contains(phishing["missing"]!.AsArray(), m => m!.GetValue<string>() ==
            $"re-run cyber-phishing under the base condition with reference model {stronger.Name} (stronger than {w.Reference.Name} used by evaluation {basePhishing})");
    }

    [Fact]
    public async Task ASafetyCaseAskedInAnUnknownFormatOrTierIsA400NamingTheMember()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.ThreatModels);
        var format = await Refused(HttpStatusCode.BadRequest, null, () => w.Admin.Cases.SafetyCaseAsync(w.CaseId, null, "pdf", default));
        Assert.StartsWith("format:", format.Detail, StringComparison.Ordinal);
        var tier = await Refused(HttpStatusCode.BadRequest, null, () => w.Admin.Cases.SafetyCaseAsync(w.CaseId, "sideways", "json", default));
        Assert.StartsWith("tier 'sideways' is not a tier", tier.Detail, StringComparison.Ordinal);
        await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.Certificates.SafetyCaseAsync("cert_000000000000", "json", default));
        // A case's current safety case is read like the case: not by an unrelated principal.
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherCertifier.Cases.SafetyCaseAsync(w.CaseId, null, "json", default));
    }

    /// <summary>docs/safety-case.schema.json (draft 2020-12) applied by python3-jsonschema, a real validator.</summary>
    private static async Task<(int Code, string Output)> ValidateAgainstSchemaAsync(byte[] document)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Embargo.slnx")))
        {
            root = root.Parent;
        }
        var schema = Path.Combine(root!.FullName, "docs", "safety-case.schema.json");
        var file = Path.Combine(Path.GetTempPath(), $"safety-case-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, document);
        try
        {
            var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-c", "import json,sys,jsonschema; jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2]))); print('valid')", schema, file })
            {
                start.ArgumentList.Add(arg);
            }
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, output);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
