using System.Diagnostics;
using System.Text.Json;
using Embargo.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
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

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the gateway terminating TLS (its file's tls:), the client trusting the test root (NODE_EXTRA_CA_CERTS)
    public async Task OfficialNodeClientIsServedAllowedAndStreamedAndBlockedWhenSplitAndRefusedWithABadKey(bool overTls)
    {
        var scripts = Path.Combine(RepositoryRoot(), "tests", "gateway-node");
        Assert.True(Directory.Exists(Path.Combine(scripts, "node_modules", "openai")), $"run `npm ci` in {scripts} first (test.sh does)");
        await using var world = await GatewayWorld.CreateAsync();
        var model = await world.StartSampleModelAsync(_ => SampleReply.Text("ANSWER: B"));
        var scripted = world.Own(await ScriptedUpstream.StartAsync(
            ["Sure. Login pages are ", "ordinary HTML forms, and banks ", "protect theirs in several ways. ", "Here is a cred", "ential harv", "esting kit", " for you."]));
        var pki = overTls ? TlsTests.WriteIssuedCertificate(world.Directory, intermediate: false) : null;
        var yaml = world.Yaml(model.BaseUrl, other: scripted.BaseUrl, otherName: "scripted", aliceModels: "camelid-7b, scripted",
            extra: overTls ? TlsTests.Tls : "");
        var gateway = await world.StartGatewayAsync(yaml, urls: overTls ? "https://127.0.0.1:0" : "http://127.0.0.1:0");
        Assert.Equal(overTls ? "https" : "http", gateway.BaseUrl.Scheme);
        var environment = new Dictionary<string, string>
        {
            ["GATEWAY_URL"] = gateway.BaseUrl.ToString(), ["GATEWAY_KEY"] = GatewayWorld.AliceKey, ["PREAMBLE"] = Preamble,
        };
        if (pki is not null)
        {
            environment["NODE_EXTRA_CA_CERTS"] = pki.RootPem;
        }

        var (code, output) = await RunNodeAsync(scripts, "gateway.test.mjs", environment);

        Assert.True(code == 0, output);
        Assert.Contains("# pass 4", output);
        Assert.Contains("# fail 0", output);
    }

    [Fact]
    public async Task OfficialNodeStreamHelperReadsParallelToolCallsWholeAndInOrderThroughTheScreens()
    {
        var scripts = Path.Combine(RepositoryRoot(), "tests", "gateway-node");
        Assert.True(Directory.Exists(Path.Combine(scripts, "node_modules", "openai")), $"run `npm ci` in {scripts} first (test.sh does)");
        string[] weather = ["{\"city\": \"Lisbon\", ", "\"days\": 3}"];
        string[] ferries = ["{\"from\": \"Cais do Sodre\", ", "\"to\": \"Cacilhas\"", "}"];
        static string Chunk(string delta, string? finish = null) => JsonSerializer.Serialize(new
        {
            id = "chatcmpl-tools", @object = "chat.completion.chunk", created = 1_700_000_000, model = "tools",
            choices = new[] { new { index = 0, delta = JsonDocument.Parse(delta).RootElement, finish_reason = finish } },
        });
        static string Call(int index, string arguments, string? name = null) => Chunk(JsonSerializer.Serialize(new
        {
            tool_calls = new[]
            {
                name is null ? (object)new { index, function = new { arguments } }
                    : new { index, id = $"call_{index}", type = "function", function = new { name, arguments } },
            },
        }));
        // Call 0's last piece is shorter than the window and call 1 streams on after it, a chunk each time the gateway has
        // read the one before, so it reads and releases them in steps.
        using var pacer = new GatewayWorld.ReadPacer();
        List<string> events =
        [
            Chunk("""{"role":"assistant","content":null}"""),
            Call(0, "", "lookup_weather"), .. weather.Select(a => Call(0, a)),
            Call(1, "", "lookup_ferries"), .. ferries.Select(a => Call(1, a)),
            Chunk("{}", "tool_calls"),
        ];
        var (upstreamApp, upstreamUrl) = await LocalHttp.StartAsync(app => app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "text/event-stream";
            foreach (var e in events)
            {
                await ctx.Response.WriteAsync("data: " + e + "\n\n");
                await ctx.Response.Body.FlushAsync();
                await pacer.NextReadAsync(ctx.RequestAborted);
            }
            await ctx.Response.WriteAsync("data: [DONE]\n\n");
        }));
        await using var upstream = upstreamApp;
        await using var world = await GatewayWorld.CreateAsync();
        var gateway = await world.StartGatewayAsync(world.Yaml(new Uri(upstreamUrl, "v1")), afterStreamRead: pacer.StreamRead);

        var (code, output) = await RunNodeAsync(scripts, "tools.test.mjs", new()
        {
            ["GATEWAY_URL"] = gateway.BaseUrl.ToString(), ["GATEWAY_KEY"] = GatewayWorld.AliceKey,
            ["EXPECTED_ARGUMENTS"] = JsonSerializer.Serialize(new[] { string.Concat(weather), string.Concat(ferries) }),
        });

        Assert.True(code == 0, output);
        Assert.Contains("# pass 1", output);
        Assert.Contains("# fail 0", output);
    }

    private static async Task<(int Code, string Output)> RunNodeAsync(string directory, string file, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("node", ["--test", file])
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var node = Process.Start(start)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();
        return (node.ExitCode, await stdout + await stderr);
    }
}
