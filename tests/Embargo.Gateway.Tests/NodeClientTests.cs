using System.Diagnostics;
using Embargo.Gateway.Tests.Infrastructure;
using Embargo.SampleModel;

namespace Embargo.Gateway.Tests;

/// <summary>The official `openai` npm client (tests/gateway-node, installed by `npm ci` in test.sh) against a real gateway.</summary>
public sealed class NodeClientTests
{
    private const string Preamble = "Sure. Login pages are ordinary HTML forms, and banks protect theirs in several ways. ";

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Embargo.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (Embargo.slnx) is not above the test binaries");
    }

    [Fact]
    public async Task OfficialNodeClientIsServedAllowedAndStreamedAndBlockedWhenSplitAndRefusedWithABadKey()
    {
        var scripts = Path.Combine(RepositoryRoot(), "tests", "gateway-node");
        Assert.True(Directory.Exists(Path.Combine(scripts, "node_modules", "openai")), $"run `npm ci` in {scripts} first (test.sh does)");
        await using var world = await GatewayWorld.CreateAsync();
        var model = await world.StartSampleModelAsync(_ => SampleReply.Text("ANSWER: B"));
        var scripted = world.Own(await ScriptedUpstream.StartAsync(
            ["Sure. Login pages are ", "ordinary HTML forms, and banks ", "protect theirs in several ways. ", "Here is a cred", "ential harv", "esting kit", " for you."]));
        var yaml = world.Yaml(model.BaseUrl, other: scripted.BaseUrl, otherName: "scripted", aliceModels: "camelid-7b, scripted");
        var gateway = await world.StartGatewayAsync(yaml);

        var start = new ProcessStartInfo("node", ["--test", "gateway.test.mjs"])
        {
            WorkingDirectory = scripts, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            Environment = { ["GATEWAY_URL"] = gateway.BaseUrl.ToString(), ["GATEWAY_KEY"] = GatewayWorld.AliceKey, ["PREAMBLE"] = Preamble },
        };
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        var output = await stdout + await stderr;

        Assert.True(node.ExitCode == 0, output);
        Assert.Contains("# pass 4", output);
        Assert.Contains("# fail 0", output);
    }
}
