using System.Net;
using System.Security.Cryptography;
using System.Text;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Protocol.Certificates;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>The server side of the gateway: certificate status, audit batches, gateway keys and screens.</summary>
public sealed class GatewayServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static string StatementSha256(CertificateDto certificate) =>
        Convert.ToHexStringLower(SHA256.HashData(DsseEnvelope.Parse(certificate.Envelope!).Value.PayloadBytes()));

    private static Task<GatewayGrantDto> GrantAsync(ProtocolWorld w, EmbargoClient grantee, int rpm = 60) =>
        w.Developer.Gateway.GrantAsync(w.Version.Id,
            new GatewayGrantRequest { PrincipalId = w.PrincipalIds[grantee], RequestsPerMinute = rpm, TokensPerDay = 100_000 }, default);

    private static AuditBatchRequest Batch(string root) => new() { Gateway = "edge-1", FirstLine = 0, Lines = 3, Root = root };

    [Fact]
    public async Task AnonymousCallersReadAnIssuedCertificatesStatusByItsStatementSha256AndSeeItFlagged()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var sha = StatementSha256(w.Certificate!);

        var status = await Host.Anonymous.Gateway.CertificateStatusAsync(sha, default);
        Assert.Equal(w.Certificate!.Id, status.Certificate);
        Assert.Equal("valid", status.Status);

        await w.Regulator.Models.RegisterReferenceAsync( new RegisterReferenceModelRequest { Name = $"stronger-{w.Tag}", Strength = w.Reference.Strength + 1 }, default);
        var flagged = await Host.Anonymous.Gateway.CertificateStatusAsync(sha.ToUpperInvariant(), default);
        Assert.Equal("flagged", flagged.Status);
    }

    [Fact]
    public async Task AStatusOfAnUnknownStatementIs404AndOfMalformedHex400NamingTheMember()
    {
        await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.Gateway.CertificateStatusAsync(new string('0', 64), default));
        var bad = await Refused(HttpStatusCode.BadRequest, null, () => Host.Anonymous.Gateway.CertificateStatusAsync("xyz", default));
        Assert.StartsWith("statementSha256:", bad.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheDeveloperOfAHostedReleaseAppendsAnAuditBatchAsOneLedgerLeaf()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");
        var root = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var size = await LedgerSizeAsync(Host);

        await RefusedWithoutChange(w, HttpStatusCode.Unauthorized, null, () => Host.Anonymous.Gateway.AuditBatchAsync( Batch(root), default));

        var batch = await w.Developer.Gateway.AuditBatchAsync( Batch(root), default);
        Assert.Equal(size, batch.LedgerIndex);
        var leaf = (await LeavesAsync(Host, batch.LedgerIndex))[0];
        Assert.Equal("gateway.audit-batch", leaf.Type);
        Assert.Equal(root, leaf.Data["root"]!.GetValue<string>());
        Assert.Equal(3, leaf.Data["lines"]!.GetValue<int>());
        Assert.Equal(w.PrincipalIds[w.Developer], leaf.Json["actor"]!["principal"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADeveloperWithoutAHostedReleaseCannotAppendAnAuditBatch()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.Developer.Gateway.AuditBatchAsync( Batch(new string('b', 64)), default));
        Assert.Contains("develops a version released at hosted or api", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAuditBatchWhoseRootIsNotHexIsRefusedNamingRoot()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Admin.Gateway.AuditBatchAsync( Batch(new string('g', 64)), default));
        Assert.StartsWith("root:", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AGatewayGrantShowsItsKeyOnceAndTheServerKeepsOnlyItsHash()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");

        var grant = await GrantAsync(w, w.Evaluator);
        Assert.StartsWith("egw_", grant.Key, StringComparison.Ordinal);
        Assert.Equal("hosted", grant.Tier);
        Assert.Equal(60, grant.RequestsPerMinute);

        var leaf = (await LeavesAsync(Host, grant.LedgerIndex))[0];
        Assert.Equal("gateway.granted", leaf.Type);
        Assert.Equal(w.PrincipalIds[w.Evaluator], leaf.Data["principal"]!.GetValue<string>());
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(grant.Key!)));
        Assert.DoesNotContain(grant.Key!, leaf.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(hash, leaf.Text, StringComparison.Ordinal);

        using var store = Host.OpenStoreConnection();
        using var read = store.CreateCommand();
        read.CommandText = $"SELECT \"KeySha256\" FROM gateway_grants WHERE \"Id\" = '{grant.Id}'";
        Assert.Equal(hash, (string?)await read.ExecuteScalarAsync());
    }

    [Fact]
    public async Task AGrantAgainForTheSamePrincipalReplacesTheOldKey()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");
        var first = await GrantAsync(w, w.Evaluator);
        var second = await GrantAsync(w, w.Evaluator, rpm: 10);

        Assert.NotEqual(first.Key, second.Key);
        var leaf = (await LeavesAsync(Host, second.LedgerIndex))[0];
        Assert.Equal(first.Id, leaf.Data["replaces"]![0]!.GetValue<string>());
        using var store = Host.OpenStoreConnection();
        using var read = store.CreateCommand();
        read.CommandText = $"SELECT COUNT(*) FROM gateway_grants WHERE \"ModelVersionId\" = '{w.Version.Id}'";
        Assert.Equal(1L, Convert.ToInt64(await read.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task AVersionCertifiedButNotReleasedAtHostedOrApiGetsNoGatewayKey()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => GrantAsync(w, w.Evaluator));
        Assert.Contains("is not released at hosted or api", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReleasedVersionWhoseCertificateWasFlaggedGetsNoGatewayKey()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");
        await w.Regulator.Models.RegisterReferenceAsync( new RegisterReferenceModelRequest { Name = $"stronger-{w.Tag}", Strength = w.Reference.Strength + 1 }, default);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-5", () => GrantAsync(w, w.Evaluator));
        Assert.Contains("which is now flagged", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheAffectedPartyAttachesAScreenAsItsMitigationAndTheLedgerCarriesOnlyTheRulesHash()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var screen = await w.MailParty.Gateway.AttachScreenAsync(w.Version.Id, new GatewayScreenRequest
        {
            Name = "no-phishing-kits", ApplyTo = ["input", "output"], Keywords = ["credential harvesting kit"], Regex = ["(?i)clone\\s+the\\s+login\\s+page"],
            MitigationId = w.PhishingMitigation.Id,
        }, default);

        var leaf = (await LeavesAsync(Host, screen.LedgerIndex))[0];
        Assert.Equal("gateway.screen-attached", leaf.Type);
        Assert.Equal(screen.RulesSha256, leaf.Data["rulesSha256"]!.GetValue<string>());
        Assert.Equal(w.PhishingMitigation.Id, leaf.Data["mitigation"]!.GetValue<string>());
        Assert.DoesNotContain("credential harvesting", leaf.Text, StringComparison.Ordinal);

        var listed = await w.Developer.Gateway.ScreensAsync(w.Version.Id, default);
        Assert.Equal(["credential harvesting kit"], Assert.Single(listed).Keywords);
    }

    [Fact]
    public async Task AScreenWhoseRegexDoesNotParseIsRefusedNamingTheItem()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Developer.Gateway.AttachScreenAsync(w.Version.Id,
            new GatewayScreenRequest { Name = "broken", ApplyTo = ["output"], Regex = ["fine", "(unclosed"] }, default));
        Assert.StartsWith("regex[1]:", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AScreenNamingAMitigationOfAnotherVersionIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Developer.Gateway.AttachScreenAsync(w.Version.Id,
            new GatewayScreenRequest { Name = "kits", ApplyTo = ["output"], Keywords = ["kit"], MitigationId = "mit_unknown" }, default));
        Assert.StartsWith("mitigationId:", e.Detail, StringComparison.Ordinal);
    }
}
