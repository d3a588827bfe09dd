using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>`embargo model list | versions | withdraw | add-version` as a developer runs them.</summary>
[Collection(CliCollection.Name)]
public sealed class ModelCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-model-cli-");
    private EmbargoHost Host => fixture.Host;

    public void Dispose() => _dir.Delete(recursive: true);

    private string P(string name) => Path.Combine(_dir.FullName, name);

    /// <summary>A valid safetensors file no other test registered (the server refuses weights registered twice).</summary>
    private static byte[] UniqueSafetensors() =>
        Embargo.Weights.SampleWeights.Safetensors([("w", "F32", [4L], System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))], null);

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

    [Fact]
    public async Task ModelVersionsByNameListsEachVersionWithItsIdAndCaseIdWholeOnOneLine()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var model = (await w.Developer.Models.ListAsync(default)).Single(m => m.Id == w.Version.ModelId);

        var run = await As(w, w.Developer, "model", "versions", model.Name);

        Assert.Equal(CliApp.Ok, run.Code);
        Assert.Contains(run.Out.Split('\n'), line => line.Contains(w.Version.Id, StringComparison.Ordinal) && line.Contains(w.CaseId, StringComparison.Ordinal));
        Assert.Contains("1.0", run.Out);
    }

    [Fact]
    public async Task ModelListJsonNamesTheCallersModelAndTheTableKeepsItsIdOnOneLine()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var json = await As(w, w.Developer, "model", "list", "--json");
        Assert.Equal(CliApp.Ok, json.Code);
        Assert.Contains(JsonNode.Parse(json.Out)!.AsArray(), m => m!["id"]!.GetValue<string>() == w.Version.ModelId);

        var table = await As(w, w.Developer, "model", "list");
        Assert.Equal(CliApp.Ok, table.Code);
        Assert.Contains(table.Out.Split('\n'), line => line.Contains(w.Version.ModelId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ModelWithdrawPrintsTheWithdrawnVersionAndAUsedVersionIsARefusalWithExitCode1()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        Directory.CreateDirectory(P("second"));
        await File.WriteAllBytesAsync(P("second/model.safetensors"), UniqueSafetensors());
        var added = await As(w, w.Developer, "model", "add-version", w.Version.ModelId, "--version", "2.0", "--weights", P("second"), "--json");
        Assert.Equal(CliApp.Ok, added.Code);
        var id = JsonNode.Parse(added.Out)!["id"]!.GetValue<string>();

        var withdrawn = await As(w, w.Developer, "model", "withdraw", id, "--reason", "wrong weights");
        Assert.Equal(CliApp.Ok, withdrawn.Code);
        Assert.Contains(id, withdrawn.Out);
        Assert.Contains("wrong weights", withdrawn.Out);

        var size = await LedgerSizeAsync(Host);
        var refused = await As(w, w.Developer, "model", "withdraw", w.Version.Id);
        Assert.Equal(CliApp.Failed, refused.Code);
        Assert.StartsWith("embargo: refused: ", refused.Error);
        Assert.Contains("case-phase", refused.Error);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task AddVersionRefusesASingleFileThatIsNotAWeightsFileWithOneLineAndExitCode2()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await File.WriteAllTextAsync(P("config.json"), """{"architectures":["Camelid"]}""");
        var size = await LedgerSizeAsync(Host);

        var run = await As(w, w.Developer, "model", "add-version", w.Version.ModelId, "--version", "9.9", "--weights", P("config.json"));

        Assert.Equal(CliApp.BadInput, run.Code);
        var lines = run.Error.Trim().Split('\n');
        Assert.Single(lines);
        Assert.Contains("config.json", lines[0]);
        Assert.Contains("not a weights file", lines[0]);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.DoesNotContain(await w.Developer.Models.VersionsAsync(w.Version.ModelId, default), v => v.Version == "9.9");
    }

    [Fact]
    public async Task AddVersionAcceptsASingleSafetensorsFile()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await File.WriteAllBytesAsync(P("camelid.safetensors"), UniqueSafetensors());

        var run = await As(w, w.Developer, "model", "add-version", w.Version.ModelId, "--version", "3.0", "--weights", P("camelid.safetensors"), "--json");

        Assert.Equal(CliApp.Ok, run.Code);
        Assert.Equal("3.0", JsonNode.Parse(run.Out)!["version"]!.GetValue<string>());
    }
}
