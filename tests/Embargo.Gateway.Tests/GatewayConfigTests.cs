using Embargo.Cli.Infrastructure;
using Embargo.Gateway.Tests.Infrastructure;

namespace Embargo.Gateway.Tests;

public sealed class GatewayConfigTests
{
    [Fact]
    public async Task UnknownYamlKeyStopsEmbargoGatewayWithExitCode2AndOneLineNamingTheKey()
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        var yaml = world.Yaml(new Uri("http://127.0.0.1:9/v1")).Replace("    tokens_per_day: 200000", "    tokens_per_dya: 200000", StringComparison.Ordinal);
        await File.WriteAllTextAsync(world.ConfigPath, yaml);

        var stderr = Console.Error;
        await using var captured = new StringWriter();
        Console.SetError(captured);
        int code;
        try
        {
            code = await CliApp.RunAsync(["gateway", "--config", world.ConfigPath, "--urls", "http://127.0.0.1:0"]);
        }
        finally
        {
            Console.SetError(stderr);
        }

        Assert.Equal(CliApp.BadInput, code);
        var line = Assert.Single(captured.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("unknown key 'tokens_per_dya'", line);
    }

    [Fact]
    public async Task RelativePathsAreResolvedAgainstTheConfigFileNotTheWorkingDirectory()
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        await File.WriteAllTextAsync(world.ConfigPath, world.Yaml(new Uri("http://127.0.0.1:9/v1")));

        var config = GatewayConfigLoader.Load(world.ConfigPath);

        Assert.True(config.IsOk, config.Error?.Message);
        Assert.Equal(Path.Combine(world.Directory, "gateway-audit.jsonl"), config.Value.Audit.File);
        Assert.Equal(Embargo.Protocol.Tier.Api, config.Value.Upstreams[0].Certificate.CertifiedTier);
    }

    [Fact]
    public async Task GrantNamingAModelThatIsNotAnUpstreamIsAConfigurationError()
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        await File.WriteAllTextAsync(world.ConfigPath, world.Yaml(new Uri("http://127.0.0.1:9/v1")).Replace("models: [other-model]", "models: [ghost]", StringComparison.Ordinal));

        var config = GatewayConfigLoader.Load(world.ConfigPath);

        Assert.False(config.IsOk);
        Assert.Equal("gateway.yaml: grants[1].models names 'ghost', which is not an upstream", config.Error!.Message);
    }
}
