using System.Security.Cryptography;
using Embargo.Cli.Commands;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>What a new user meets in the first hour: public verbs without a token, names for ids, errors in their words.</summary>
[Collection(CliCollection.Name)]
public sealed class FirstHourTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-first-hour-");
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

    /// <summary>Runs `embargo ARGS --server URL --token-env VAR` as <paramref name="who"/> (null: with no token at all).</summary>
    private async Task<CliRun> As(ProtocolWorld? w, EmbargoClient? who, params string[] args)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, who is null ? null : w!.Tokens[who]);
        try
        {
            return await CliRunner.RunAsync([.. args, "--server", Host.Url.ToString(), "--token-env", variable]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    public static TheoryData<string, string> WrongTaskFiles => new()
    {
        { "name: x\ndataset: d.jsonl\nsolver: 7\n", "solver: expected fields" },
        { "name: x\ndataset: d.jsonl\nsolvr:\n  system: hi\n", "solvr: unknown field" },
        { "name: x\ndataset: d.jsonl\nsolver:\n  tools: calculator\n", "solver.tools: expected a list" },
        { "name: x\ndataset: d.jsonl\nscorer:\n  tolerance: lots\n", "scorer.tolerance: expected a number" },
        { "name: x\ndataset: d.jsonl\nsolver:\n  multiple_choice: perhaps\n", "solver.multiple_choice: expected true or false" },
        { "just a string\n", "the file: expected fields" },
        { "name: x\ndataset: [unclosed\n", "line 3, column 1: While parsing a flow sequence" },
    };

    [Theory]
    [MemberData(nameof(WrongTaskFiles))]
    public async Task AWrongTaskFileIsAOneLineErrorNamingTheFileAndTheFieldAndNoInternalType(string yaml, string says)
    {
        var file = P($"task-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);

        var run = await CliRunner.RunAsync("eval", "run", file, "--model-url", "http://127.0.0.1:9/v1", "--model-name", "m");

        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, Path.GetFileName(file));
        Assert.Contains(says, run.Error);
        Assert.DoesNotContain("System.", run.Error);
        Assert.DoesNotContain("Embargo.", run.Error);
        Assert.DoesNotContain("Spec", run.Error);
    }

    [Fact]
    public async Task PublicVerbsWorkWithoutATokenAndScanIdentifiesWithoutReporting()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        Assert.Equal(CliApp.Ok, (await As(null, null, "org", "list")).Code);
        Assert.Equal(CliApp.Ok, (await As(null, null, "org", "bad-actors")).Code);
        Assert.Equal(CliApp.Ok, (await As(null, null, "model", "references")).Code);
        Assert.Equal(CliApp.Ok, (await As(null, null, "violation", "list")).Code);
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("ledger", "export", "--out", P("ledger"), "--server", Host.Url.ToString())).Code);
        var size = await LedgerSizeAsync(Host);

        var scan = await As(null, null, "scan", w.WeightsDirectory, "--tier", "open");

        Assert.True(scan.Code == CliApp.Ok, scan.Error);
        Assert.Contains("not a released version known to Embargo", scan.Out);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task ScanPrintsTheIdOfTheSightingItReported()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);

        var scan = await As(w, w.OtherCertifier, "scan", w.WeightsDirectory, "--tier", "open", "--source", "a torrent");

        Assert.Equal(CliApp.Failed, scan.Code);
        var reported = (await w.Regulator.Violations.ListAsync(null, null, default)).Single(v => v.ModelVersionId == w.Version.Id);
        Assert.Contains($"reported sighting {reported.Id} (pending)", scan.Out);
    }

    [Fact]
    public async Task AnOrganisationGivenByNameIsLookedUpAndAnUnknownNameIsNamedAsTheMistake()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var weights = P("v2");
        Directory.CreateDirectory(weights);
        await File.WriteAllBytesAsync(Path.Combine(weights, "model.bin"), RandomNumberGenerator.GetBytes(1024));
        var manifest = await ProtocolCommands.BuildManifestAsync(weights, default);
        var version = await w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, new RegisterVersionRequest
        {
            Version = "2.0", ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
        }, default);
        var size = await LedgerSizeAsync(Host);

        var unknown = await As(w, w.Developer, "case", "open", "--version", version.Id, "--tier", "hosted", "--regulator", "Office for Nothing",
            "--reference", w.Reference.Id, "--evaluator", w.EvaluatorOrg);
        Assert.Equal(CliApp.BadInput, unknown.Code);
        OneLineError(unknown, "--regulator 'Office for Nothing' is neither an organisation id (org_…) nor an organisation's name");
        Assert.Equal(size, await LedgerSizeAsync(Host));

        var named = await As(w, w.Developer, "case", "open", "--version", version.Id, "--tier", "hosted", "--regulator", $"office for ai safety {w.Tag}",
            "--reference", w.Reference.Id, "--evaluator", $"Redline Evals {w.Tag}", "--json");
        Assert.True(named.Code == CliApp.Ok, named.Error);
        Assert.Contains($"is organisation {w.RegulatorOrg}", named.Error);
        var opened = System.Text.Json.Nodes.JsonNode.Parse(named.Out)!;
        Assert.Equal(w.RegulatorOrg, opened["regulatorOrganisationId"]!.GetValue<string>());
    }

    [Fact]
    public async Task ARefusalForWantOfTheAdminRoleSaysAnAdmin()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);

        var run = await As(w, w.Evaluator, "org", "create", $"Shadow {w.Tag}");

        Assert.Equal(CliApp.Failed, run.Code);
        OneLineError(run, "only an admin may create organisations");
        Assert.DoesNotContain("any admin", run.Error);
    }
}
