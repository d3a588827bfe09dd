using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.SampleModel;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Weights;

namespace Embargo.Server.Tests;

/// <summary>The `embargo weights` and `embargo eval` verbs as a user runs them: output shapes, exit codes, one-line errors.</summary>
[Collection(CliCollection.Name)]
public sealed class CliTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-cli-");
    private string P(string name) => Path.Combine(_dir.FullName, name);
    private static string Tasks => Path.Combine(DemoFixture.RepositoryRoot(), "samples", "tasks");

    public void Dispose() => _dir.Delete(recursive: true);

    private static void OneLineError(CliRun run, string mustName)
    {
        var lines = run.Error.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("embargo: ", lines[0]);
        Assert.Contains(mustName, lines[0]);
        Assert.DoesNotContain("   at ", run.Error);
    }

    [Fact]
    public async Task WeightsInspectJsonHasTheDocumentedShapeAndTheManifestDigest()
    {
        SampleWeights.Write(P("model"));
        var run = await CliRunner.RunAsync("weights", "inspect", P("model"), "--json");
        Assert.Equal(CliApp.Ok, run.Code);
        var json = JsonNode.Parse(run.Out)!.AsObject();
        var manifest = (await ManifestBuilder.BuildAsync(P("model"), null, default)).Value;
        Assert.Equal(manifest.Digest, json["manifestDigest"]!.GetValue<string>());
        Assert.Equal(SampleWeights.Parameters, json["parameters"]!.GetValue<long>());
        var files = json["files"]!.AsArray();
        Assert.Equal(manifest.Files.Count, files.Count);
        var shard = files.First(f => f!["format"]!.GetValue<string>() == "safetensors")!.AsObject();
        Assert.Superset(new HashSet<string> { "path", "bytes", "sha256", "format", "tensors", "parameters", "dtypes" }, shard.Select(p => p.Key).ToHashSet());
        var other = files.First(f => f!["format"]!.GetValue<string>() == "other")!.AsObject();
        Assert.False(other.ContainsKey("tensors"));
    }

    [Fact]
    public async Task ATruncatedSafetensorsFileIsAOneLineErrorWithExitCode2()
    {
        Directory.CreateDirectory(P("bad"));
        await File.WriteAllBytesAsync(P("bad/model.safetensors"), [0x10, 0, 0, 0, 0, 0, 0, 0, (byte)'{']);
        var run = await CliRunner.RunAsync("weights", "inspect", P("bad"));
        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, "model.safetensors");
    }

    [Fact]
    public async Task SealThenUnsealThroughTheCliRestoresTheFilesAndAWrongIdentityLeavesNothing()
    {
        SampleWeights.Write(P("model"));
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("weights", "keygen", "--out", P("alice"))).Code);
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("weights", "keygen", "--out", P("mallory"))).Code);
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("weights", "seal", P("model"), "--out", P("sealed"), "--recipient", P("alice.pub"))).Code);

        var wrong = await CliRunner.RunAsync("weights", "unseal", P("sealed"), "--identity", P("mallory.key"), "--out", P("stolen"));
        Assert.NotEqual(CliApp.Ok, wrong.Code);
        OneLineError(wrong, "sealed");
        Assert.False(Directory.Exists(P("stolen")));

        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("weights", "unseal", P("sealed"), "--identity", P("alice.key"), "--out", P("restored"))).Code);
        foreach (var file in Directory.EnumerateFiles(P("model"), "*", SearchOption.AllDirectories))
        {
            Assert.Equal(await File.ReadAllBytesAsync(file), await File.ReadAllBytesAsync(Path.Combine(P("restored"), Path.GetRelativePath(P("model"), file))));
        }
    }

    [Fact]
    public async Task EvalRunJsonReportsSubjectBaselineAndUpliftAndWritesTheLog()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var run = await CliRunner.RunAsync("eval", "run", Path.Combine(Tasks, "cyber-phishing.yaml"),
            "--model-url", sample.BaseUrl.ToString(), "--model-name", "sample-camelid-7b",
            "--baseline-url", sample.BaseUrl.ToString(), "--baseline-name", "sample-open-baseline", "--log-dir", P("logs"), "--json");
        Assert.Equal(CliApp.Ok, run.Code);
        var json = JsonNode.Parse(run.Out)!.AsObject();
        // The same summary the log holds (one summary type).
        Assert.Equal(["task", "capability", "samples", "status", "subject", "baseline", "uplift", "verdict", "logPath", "epochs", "errors", "records", "maxErrors"],
            json.Select(p => p.Key));
        Assert.Equal("complete", json["status"]!.GetValue<string>());
        Assert.Equal(0, json["errors"]!.GetValue<int>());
        Assert.Equal("novel", json["verdict"]!["verdict"]!.GetValue<string>());
        Assert.Equal(40, json["samples"]!.GetValue<int>());
        Assert.Equal(34.0 / 40, json["subject"]!["accuracy"]!.GetValue<double>(), 9);
        Assert.Equal(10.0 / 40, json["baseline"]!["accuracy"]!.GetValue<double>(), 9);
        Assert.Equal(0.6, json["uplift"]!["estimate"]!.GetValue<double>(), 9);
        Assert.True(json["uplift"]!["p"]!.GetValue<double>() < 0.001);
        var log = json["logPath"]!.GetValue<string>();
        Assert.True(File.Exists(log));
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("eval", "view", log)).Code);
    }

    [Fact]
    public async Task EvalRunWithCaseRecordsTheResultAndFiresTheCommitment()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        await w.DriveToAsync(Milestone.Testing);
        await w.Developer.Cases.AddCommitmentAsync(w.CaseId, new AddCommitmentRequest
        {
            Expression = "uplift(\"cyber-phishing\") >= 0.10 and p(\"cyber-phishing\") < 0.05 => max_tier(staged)",
        }, default);
        await using var sample = await SampleModelServer.StartAsync();
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[w.Evaluator]);
        try
        {
            var run = await CliRunner.RunAsync("eval", "run", Path.Combine(Tasks, "cyber-phishing.yaml"),
                "--model-url", sample.BaseUrl.ToString(), "--model-name", "sample-camelid-7b",
                "--baseline-url", sample.BaseUrl.ToString(), "--baseline-name", "sample-open-baseline", "--log-dir", P("logs"),
                "--case", w.CaseId, "--server", fixture.Host.Url.ToString(), "--token-env", variable);
            Assert.Equal(CliApp.Ok, run.Code);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
        var @case = await w.Developer.Cases.GetAsync(w.CaseId, default);
        var evaluation = Assert.Single(@case.Evaluations);
        Assert.Equal("cyber-phishing", evaluation.Capability);
        Assert.True(evaluation.Significant);
        var finding = Assert.Single(@case.Findings);
        Assert.Equal("commitment", finding.Source);
        Assert.Equal("staged", finding.CapTier);
    }

    [Fact]
    public async Task LedgerMonitorProvesTheLogOnlyGrewSinceASavedCheckpointAndRejectsATamperedOne()
    {
        var host = fixture.Host;
        var server = host.Url.ToString();
        await File.WriteAllTextAsync(P("ledger.vkey"), await host.Anonymous.Ledger.KeyAsync(default));
        await File.WriteAllTextAsync(P("old.txt"), await host.Anonymous.Ledger.CheckpointAsync(default));
        for (var i = 0; i < 5; i++)
        {
            await host.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"monitor-{Guid.NewGuid():N}" }, default);
        }
        var run = await CliRunner.RunAsync("ledger", "monitor", "--since", P("old.txt"), "--ledger-key", P("ledger.vkey"), "--server", server, "--save", P("new.txt"), "--json");
        Assert.Equal(CliApp.Ok, run.Code);
        var json = JsonNode.Parse(run.Out)!;
        Assert.True(json["consistent"]!.GetValue<bool>());
        Assert.Equal(json["from"]!.GetValue<long>() + 5, json["to"]!.GetValue<long>());
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("ledger", "monitor", "--since", P("new.txt"), "--ledger-key", P("ledger.vkey"), "--server", server)).Code);

        // A saved checkpoint whose root was altered no longer carries a valid signature.
        var lines = (await File.ReadAllTextAsync(P("old.txt"))).Split('\n');
        var root = Convert.FromBase64String(lines[2]);
        root[0] ^= 1;
        lines[2] = Convert.ToBase64String(root);
        await File.WriteAllTextAsync(P("forged.txt"), string.Join('\n', lines));
        var forged = await CliRunner.RunAsync("ledger", "monitor", "--since", P("forged.txt"), "--ledger-key", P("ledger.vkey"), "--server", server);
        Assert.Equal(CliApp.Failed, forged.Code);
        OneLineError(forged, "forged.txt");
    }

    [Fact]
    public async Task EvalRunWithAMissingTaskFileIsBadInput()
    {
        var run = await CliRunner.RunAsync("eval", "run", P("nope.yaml"), "--model-url", "http://127.0.0.1:9/v1", "--model-name", "m");
        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, "nope.yaml");
    }

    [Fact]
    public async Task AnUnknownOptionIsBadInput()
    {
        var run = await CliRunner.RunAsync("case", "open", "--tier", "hosted", "--bogus");
        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, "--bogus");
    }

    [Fact]
    public async Task AMistypedCommandNamesTheWordAndABranchWithoutACommandListsItsCommands()
    {
        var typo = await CliRunner.RunAsync("model", "lst");
        Assert.Equal(CliApp.BadInput, typo.Code);
        OneLineError(typo, "Unrecognized command or argument 'lst'");

        var branch = await CliRunner.RunAsync("witness");
        Assert.Equal(CliApp.BadInput, branch.Code);
        OneLineError(branch, "'embargo witness' needs one of its commands: keygen, serve");
    }

    [Fact]
    public async Task AValueOutsideAnOptionsChoicesListsTheChoicesOnTheSameLine()
    {
        var run = await CliRunner.RunAsync("serve", "--storage", "mysql");
        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, "Argument 'mysql' not recognized. Must be one of: 'sqlite', 'postgres'");
    }

    [Theory]
    [InlineData(new[] { "gateway", "grant", "ver_x", "--principal", "prn_x", "--rpm", "sixty" }, "'sixty' for option '--rpm' as a whole number")]
    [InlineData(new[] { "case", "threat-model", "cas_x", "--capability", "c", "--description", "d", "--affected", "a", "--margin", "small" }, "'small' for option '--margin' as a number")]
    [InlineData(new[] { "mitigation", "deadline", "mit_x", "--due", "tomorrow" }, "'tomorrow' for option '--due' as a date and time")]
    public async Task AValueThatIsNotOfTheOptionsKindSaysWhatKindWithoutNamingADotNetType(string[] args, string says)
    {
        var run = await CliRunner.RunAsync(args);
        Assert.Equal(CliApp.BadInput, run.Code);
        OneLineError(run, says);
        Assert.DoesNotContain("System.", run.Error, StringComparison.Ordinal);
    }
}
