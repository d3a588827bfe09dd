using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Cli.Commands;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Weights;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Rule 4 after conversion: the developer registers the SAMPLE weights with `embargo model add-version` (which sends
/// a fingerprint of every tensor), someone converts them with `embargo weights convert`, and `embargo scan` — real
/// CLI, real server over HTTP — still names the registered version, and how it matched.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class LeakRecognitionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

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

    /// <summary>Writes SAMPLE weights of a seed of this test's own (so no other test's version shares its values) and
    /// registers them through the CLI; returns the directory and the version id.</summary>
    private async Task<(string Dir, string VersionId)> RegisterSampleAsync(ProtocolWorld w, ulong seed)
    {
        var dir = Path.Combine(Host.DataDirectory, "leak-sample-" + w.Tag);
        SampleWeights.Write(dir, seed);
        var model = await w.Developer.Models.RegisterAsync(new RegisterModelRequest { Name = $"leaky-{w.Tag}" }, default);
        var added = await RunAsAsync(w.Tokens[w.Developer], "model", "add-version", model.Id, "--version", "1.0", "--weights", dir);
        Assert.True(added.Code == CliApp.Ok, added.Error);
        return (dir, JsonNode.Parse(added.Out)!["id"]!.GetValue<string>());
    }

    private static ulong SeedOf(ProtocolWorld w) => ulong.Parse(w.Tag, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);

    private async Task<(int Code, ScanResult Result)> ScanAsync(string dir, string token)
    {
        var run = await RunAsAsync(token, "scan", dir, "--tier", "open", "--source", "a torrent");
        Assert.True(run.Out.Length > 0, run.Error);
        // The interface: {"match", "version", "manifestDigest", "tensorsMatched", "similarity", "violation": "vio_…"}.
        var raw = System.Text.Json.Nodes.JsonNode.Parse(run.Out)!.AsObject();
        Assert.Contains(raw["match"]!.GetValue<string>(), new[] { "exact", "reserialised", "quantised", "none" });
        Assert.StartsWith("sha256:", raw["manifestDigest"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.InRange(raw["tensorsMatched"]!.GetValue<double>(), 0.0, 1.0);
        Assert.InRange(raw["similarity"]!.GetValue<double>(), 0.0, 1.0);
        if (raw["violation"] is { } violation)
        {
            Assert.StartsWith("vio_", violation.GetValue<string>(), StringComparison.Ordinal);
        }
        return (run.Code, JsonSerializer.Deserialize<ScanResult>(run.Out, EmbargoClient.Json)!);
    }

    public static TheoryData<string[], string> Conversions => new()
    {
        { ["--to", "gguf-f16"], "reserialised" },
        { ["--to", "gguf-q8_0", "--rename"], "quantised" },
        { ["--to", "gguf-q4_0"], "quantised" },
        { ["--to", "safetensors", "--shards", "3", "--rename"], "reserialised" },
        { ["--to", "safetensors", "--dtype", "BF16"], "reserialised" },
        { ["--to", "safetensors", "--dtype", "F32", "--shards", "2"], "reserialised" },
    };

    [Theory]
    [MemberData(nameof(Conversions))]
    public async Task AConvertedCopyOfRegisteredWeightsIsRecognisedAsTheRegisteredVersionAndReported(string[] conversion, string expectedMatch)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var (dir, versionId) = await RegisterSampleAsync(w, SeedOf(w));
        var copy = Path.Combine(Host.DataDirectory, "leak-copy-" + w.Tag);
        var converted = await CliRunner.RunAsync(["weights", "convert", dir, copy, .. conversion]);
        Assert.True(converted.Code == CliApp.Ok, converted.Error);

        var size = await LedgerSizeAsync(Host);
        var (code, result) = await ScanAsync(copy, w.Tokens[w.MailParty]);

        Assert.Equal(CliApp.Failed, code);
        Assert.Equal(expectedMatch, result.Match);
        Assert.Equal(versionId, result.Version);
        Assert.Equal(1.0, result.TensorsMatched);
        if (expectedMatch == "reserialised")
        {
            Assert.True(result.Similarity > 0.99999, $"similarity {result.Similarity}");
        }
        else
        {
            Assert.InRange(result.Similarity!.Value, FingerprintMatcher.TensorThreshold, 0.99999);
        }
        Assert.StartsWith("vio_", result.Violation, StringComparison.Ordinal);
        Assert.Equal(expectedMatch, result.Sighting!.Match);
        Assert.Equal(versionId, result.Sighting.ModelVersionId);
        Assert.Equal("pending", result.Sighting.Status);
        Assert.NotEmpty(result.Sighting.Evidence!.Fingerprints!);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("sighting.reported", leaf.Type);
        Assert.Equal(expectedMatch, leaf.Data["match"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheRegisteredWeightsThemselvesAreAnExactMatch()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var (dir, versionId) = await RegisterSampleAsync(w, SeedOf(w));
        var (code, result) = await ScanAsync(dir, w.Tokens[w.MailParty]);
        Assert.Equal(CliApp.Failed, code);
        Assert.Equal("exact", result.Match);
        Assert.Equal(versionId, result.Version);
        Assert.Equal(1.0, result.TensorsMatched);
        Assert.Equal(1.0, result.Similarity);
        Assert.Equal("manifest", result.Sighting!.Match);
    }

    [Fact]
    public async Task AModelOfTheSameShapesWithFreshRandomValuesMatchesNoVersionAndRecordsNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await RegisterSampleAsync(w, SeedOf(w));
        var stranger = Path.Combine(Host.DataDirectory, "leak-stranger-" + w.Tag);
        SampleWeights.Write(stranger, BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)));
        var size = await LedgerSizeAsync(Host);

        var (code, result) = await ScanAsync(stranger, w.Tokens[w.MailParty]);

        Assert.Equal(CliApp.Ok, code);
        Assert.Equal("none", result.Match);
        Assert.Null(result.Version);
        Assert.Null(result.Violation);
        Assert.Null(result.Sighting);
        Assert.Equal(SampleWeights.Parameters, result.Parameters);
        Assert.StartsWith("unregistered", result.Verdict);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task RegisteringAVersionCommitsToItsFingerprintsOnTheLedger()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var (dir, versionId) = await RegisterSampleAsync(w, SeedOf(w));
        var leaf = Assert.Single(await LeavesAsync(Host, size), l => l.Type == "model.version.registered");
        Assert.Equal(versionId, leaf.Data["modelVersion"]!.GetValue<string>());
        Assert.Equal(Fingerprints.Compute(dir).Value.Count, leaf.Data["fingerprints"]!.GetValue<int>());
        Assert.StartsWith("sha256:", leaf.Data["fingerprintsSha256"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMalformedFingerprintInASightingIsA400NamingItAndChangesNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var dir = Path.Combine(Host.DataDirectory, "leak-bad-" + w.Tag);
        SampleWeights.Write(dir, SeedOf(w));
        var manifest = (await ManifestBuilder.BuildAsync(dir, null, default)).Value;
        var evidence = ScanCommand.Evidence(manifest, Fingerprints.Compute(dir).Value);
        evidence = evidence with { Fingerprints = [evidence.Fingerprints![0] with { Sketch = "AAAA" }, .. evidence.Fingerprints.Skip(1)] };
        var body = JsonSerializer.Serialize(new ReportViolationRequest { ObservedTier = "open", Source = "a torrent", Evidence = evidence }, EmbargoClient.Json);
        var size = await LedgerSizeAsync(Host);

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, "/api/violations")) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", w.Tokens[w.MailParty]);
        using var response = await Host.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("evidence.fingerprints[0].sketch", problem["member"]!.GetValue<string>());
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }
    [Fact]
    public async Task AnOfflineScanPrintsEachTensorsFingerprintSummaryAndNamesNoMatch()
    {
        var dir = Path.Combine(Host.DataDirectory, "leak-offline-" + Guid.NewGuid().ToString("N")[..8]);
        SampleWeights.Write(dir);
        var run = await CliRunner.RunAsync(["scan", dir, "--offline", "--json"]);
        Assert.True(run.Code == CliApp.Ok, run.Error);
        var result = JsonSerializer.Deserialize<ScanResult>(run.Out, EmbargoClient.Json)!;
        Assert.Null(result.Match);
        Assert.Null(result.Version);
        Assert.Equal(8, result.TensorsFingerprinted);
        Assert.Equal(8, result.Fingerprints!.Count);
        // The two norms are constant (1.0): fingerprinted, but no evidence.
        Assert.Equal(["model.layers.0.input_layernorm.weight", "model.norm.weight"], result.Fingerprints.Where(f => !f.Informative).Select(f => f.Tensor).Order(StringComparer.Ordinal));
        Assert.All(result.Fingerprints.Where(f => f.Informative), f => Assert.InRange(f.Std, 0.02, 0.1));
    }

    [Fact]
    public async Task AVersionRegisteredWithANonPositiveElementCountIsA400NamingItAndChangesNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var dir = Path.Combine(Host.DataDirectory, "leak-badreg-" + w.Tag);
        SampleWeights.Write(dir, SeedOf(w));
        var manifest = (await ManifestBuilder.BuildAsync(dir, null, default)).Value;
        var fingerprints = ScanCommand.FingerprintDtos(Fingerprints.Compute(dir).Value)!;
        var size = await LedgerSizeAsync(Host);
        var e = await Assert.ThrowsAsync<ApiException>(() => w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, new RegisterVersionRequest
        {
            Version = "7.0", ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
            Fingerprints = [fingerprints[0], fingerprints[1] with { Elements = 0 }],
        }, default));
        Assert.Equal(HttpStatusCode.BadRequest, e.Status);
        Assert.Contains("fingerprints[1].elements", e.Detail, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.DoesNotContain(await w.Developer.Models.VersionsAsync(w.Version.ModelId, default), v => v.Version == "7.0");
    }
}
