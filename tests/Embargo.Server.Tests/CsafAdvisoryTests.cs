using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Protocol.Disclosures;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// The public CSAF 2.0 advisory of a disclosure (GET /api/public/advisories/{id}/csaf, `embargo disclosure export`),
/// checked by the BSI validator (OASIS strict schema and every mandatory test) run by node.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class CsafAdvisoryTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private Task<byte[]> CsafAsync(string disclosureId) => Host.Anonymous.Disclosures.CsafAsync(disclosureId, default);

    private static JsonNode Parse(byte[] document) => JsonNode.Parse(document)!;

    [Fact]
    public async Task AdvisoryOfAFindingWithAVerifiedMitigationPassesTheBsiValidator()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationVerified);

        var document = await CsafAsync(w.PhishingDisclosure!.Id);
        var outcome = await CsafValidator.ValidateAsync(document);

        Assert.True(outcome.ExitCode == 0, outcome.Output);
        Assert.Contains("valid CSAF 2.0", outcome.Output);
        var csaf = Parse(document);
        Assert.Equal("csaf_security_advisory", csaf["document"]!["category"]!.GetValue<string>());
        Assert.Equal("WHITE", csaf["document"]!["distribution"]!["tlp"]!["label"]!.GetValue<string>());
        Assert.StartsWith("Office for AI Safety", csaf["document"]!["publisher"]!["name"]!.GetValue<string>());
        var product = csaf["product_tree"]!["branches"]![0]!["branches"]![0]!["branches"]![0]!["product"]!;
        Assert.Equal(w.Version.Id, product["product_id"]!.GetValue<string>());
        Assert.Equal(w.Version.ManifestDigest["sha256:".Length..], product["product_identification_helper"]!["hashes"]![0]!["file_hashes"]![0]!["value"]!.GetValue<string>());
        var vulnerability = csaf["vulnerabilities"]![0]!;
        Assert.Equal(w.Version.Id, vulnerability["product_status"]!["known_affected"]![0]!.GetValue<string>());
        Assert.Contains("is verified", vulnerability["remediations"]![0]!["details"]!.GetValue<string>());
        Assert.Equal("3", csaf["document"]!["tracking"]!["version"]!.GetValue<string>());
    }

    [Fact]
    public async Task AdvisoryOfAFindingShownNotNovelPassesTheBsiValidatorAsNotAffected()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);

        var document = await CsafAsync(w.BioDisclosure!.Id);
        var outcome = await CsafValidator.ValidateAsync(document);

        Assert.True(outcome.ExitCode == 0, outcome.Output);
        var vulnerability = Parse(document)["vulnerabilities"]![0]!;
        Assert.Equal(w.Version.Id, vulnerability["product_status"]!["known_not_affected"]![0]!.GetValue<string>());
        Assert.Null(vulnerability["remediations"]);
    }

    [Fact]
    public async Task ValidatorRejectsAnAdvisoryWithoutItsPublisher()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var csaf = Parse(await CsafAsync(w.PhishingDisclosure!.Id)).AsObject();
        csaf["document"]!.AsObject().Remove("publisher");

        var outcome = await CsafValidator.ValidateAsync(Encoding.UTF8.GetBytes(csaf.ToJsonString()));

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("FAIL csaf_2_0_strict", outcome.Output);
        Assert.Contains("must have required property 'publisher'", outcome.Output);
    }

    [Fact]
    public async Task ValidatorRejectsARevisionHistoryThatDoesNotEndAtTheDocumentVersion()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var csaf = Parse(await CsafAsync(w.PhishingDisclosure!.Id)).AsObject();
        csaf["document"]!["tracking"]!["version"] = "2";

        var outcome = await CsafValidator.ValidateAsync(Encoding.UTF8.GetBytes(csaf.ToJsonString()));

        Assert.Equal(1, outcome.ExitCode);
        Assert.Contains("FAIL mandatoryTest_6_1_16", outcome.Output);
    }

    [Fact]
    public async Task SameStateGivesTheSameBytesAndEachMitigationChangeAddsARevision()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var first = await CsafAsync(w.PhishingDisclosure!.Id);
        Assert.Equal(first, await CsafAsync(w.PhishingDisclosure.Id));

        // A deadline is not part of the advisory: same content, same bytes.
        await w.DriveToAsync(Milestone.DeadlineSet);
        Assert.Equal(first, await CsafAsync(w.PhishingDisclosure.Id));

        await w.DriveToAsync(Milestone.MitigationReported);
        var reported = Parse(await CsafAsync(w.PhishingDisclosure.Id));
        await w.DriveToAsync(Milestone.MitigationVerified);
        var verified = Parse(await CsafAsync(w.PhishingDisclosure.Id));

        var history = verified["document"]!["tracking"]!["revision_history"]!.AsArray();
        Assert.Equal(["1", "2", "3"], history.Select(r => r!["number"]!.GetValue<string>()));
        Assert.Contains("reported", history[1]!["summary"]!.GetValue<string>());
        Assert.Contains("verified", history[2]!["summary"]!.GetValue<string>());
        // Earlier revisions are kept as they were.
        Assert.Equal(Parse(first)["document"]!["tracking"]!["revision_history"]![0]!.ToJsonString(), history[0]!.ToJsonString());
        Assert.Equal(reported["document"]!["tracking"]!["revision_history"]!.ToJsonString(), new JsonArray(history.Take(2).Select(h => h!.DeepClone()).ToArray()).ToJsonString());
        Assert.Equal("2", reported["document"]!["tracking"]!["version"]!.GetValue<string>());
        Assert.Equal(history[2]!["date"]!.GetValue<string>(), verified["document"]!["tracking"]!["current_release_date"]!.GetValue<string>());
        Assert.True((await CsafValidator.ValidateAsync(Encoding.UTF8.GetBytes(reported.ToJsonString()))).ExitCode == 0);
    }

    [Fact]
    public async Task SealedDetailNeverAppearsInTheCsafAdvisory()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosure);
        var marker = "REPRO-MARKER-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8));
        var finding = w.PhishingFinding!.Id;
        var sealedDetails = w.RecipientKeys.Where(k => k.OrganisationId == w.RegulatorOrg || k.OrganisationId == w.MailOrg).Select(k => new SealedDetailDto
        {
            OrganisationId = k.OrganisationId, PrincipalId = k.PrincipalId,
            Ciphertext = SealedEnvelope.Seal(Encoding.UTF8.GetBytes($"step 1: {marker}"), k.PublicKey, SealedEnvelope.Context(finding, k.OrganisationId)),
        }).ToList();
        var disclosure = await w.Evaluator.Disclosures.DiscloseAsync(finding, w.DiscloseBody(ProtocolWorld.Phishing, w.RegulatorOrg, w.MailOrg) with { Sealed = sealedDetails }, default);

        // The marker is really in what the recipient opens…
        var mailKey = w.RecipientKeys.First(k => k.OrganisationId == w.MailOrg);
        var mine = await w.MailParty.Disclosures.SealedAsync(disclosure.Id, default);
        Assert.Contains(marker, Encoding.UTF8.GetString(SealedEnvelope.Open(mine.Ciphertext, mailKey.PrivateKey, SealedEnvelope.Context(finding, w.MailOrg)).Value));
        // …and never in the public advisory, in plaintext or sealed.
        var csaf = Encoding.UTF8.GetString(await CsafAsync(disclosure.Id));
        Assert.Contains(disclosure.AdvisoryTitle, csaf);
        Assert.DoesNotContain(marker, csaf);
        Assert.All(sealedDetails, s => Assert.DoesNotContain(s.Ciphertext, csaf));
    }

    [Fact]
    public async Task UnknownAdvisoryIsNotFound()
    {
        var e = await Refused(HttpStatusCode.NotFound, null, () => CsafAsync("dsc_unknown"));
        Assert.Contains("dsc_unknown", e.Detail);
    }

    [Fact]
    public async Task CliExportWritesTheServersCsafBytesWithoutAToken()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var path = Path.Combine(Host.DataDirectory, $"advisory-{w.Tag}.csaf.json");

        var run = await CliRunner.RunAsync("disclosure", "export", w.PhishingDisclosure!.Id, "--format", "csaf", "--out", path, "--server", Host.Url.ToString(), "--token-env", "EMBARGO_NO_TOKEN_HERE");

        Assert.True(run.Code == CliApp.Ok, run.Error);
        Assert.Equal(await CsafAsync(w.PhishingDisclosure.Id), await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task CliExportRefusesAnUnknownFormat()
    {
        var run = await CliRunner.RunAsync("disclosure", "export", "dsc_x", "--format", "osv", "--server", Host.Url.ToString());

        Assert.Equal(CliApp.BadInput, run.Code);
        Assert.Contains("osv", run.Error);
    }
}
