using Embargo.Cli.Infrastructure;
using Embargo.Gateway.Tests.Infrastructure;

namespace Embargo.Gateway.Tests;

public sealed class GatewayConfigTests
{
    /// <summary>`embargo gateway --config` on the world's file, in process: its exit code and what it wrote to standard error.</summary>
    private static async Task<(int Code, string Stderr)> RunGatewayAsync(GatewayWorld world)
    {
        var stderr = Console.Error;
        await using var captured = new StringWriter();
        Console.SetError(captured);
        try
        {
            return (await CliApp.RunAsync(["gateway", "--config", world.ConfigPath, "--urls", "http://127.0.0.1:0"]), captured.ToString());
        }
        finally
        {
            Console.SetError(stderr);
        }
    }

    [Fact]
    public async Task UnknownYamlKeyStopsEmbargoGatewayWithExitCode2AndOneLineNamingTheKey()
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        var yaml = world.Yaml(new Uri("http://127.0.0.1:9/v1")).Replace("    tokens_per_day: 200000", "    tokens_per_dya: 200000", StringComparison.Ordinal);
        await File.WriteAllTextAsync(world.ConfigPath, yaml);

        var (code, stderr) = await RunGatewayAsync(world);

        Assert.Equal(CliApp.BadInput, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("unknown key 'tokens_per_dya'", line);
    }

    [Theory]
    [InlineData("- a list", null, "the file must be a mapping of keys (upstreams:, grants:, screens:, audit:)")]
    [InlineData("a single value", null, "the file must be a mapping of keys")]
    [InlineData("    requests_per_minute: 60", "    requests_per_minute: [60]", "not the kind of value this key takes")]
    [InlineData("models: [camelid-7b]", "models: camelid-7b", "not the kind of value this key takes")]
    [InlineData("    requests_per_minute: 60", "    requests_per_minute: sixty", "not a whole number in range for this key")]
    [InlineData("    requests_per_minute: 60", "    requests_per_minute: 99999999999999999999", "not a whole number in range for this key")]
    public async Task AValueOfTheWrongKindIsOneLineSayingSoWithoutNamingDotNetTypes(string replace, string? with, string why)
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        var yaml = world.Yaml(new Uri("http://127.0.0.1:9/v1"));
        Assert.Contains(replace, with is null ? replace : yaml, StringComparison.Ordinal);
        await File.WriteAllTextAsync(world.ConfigPath, with is null ? replace : yaml.Replace(replace, with, StringComparison.Ordinal));

        var config = GatewayConfigLoader.Load(world.ConfigPath);

        Assert.False(config.IsOk);
        Assert.Contains(why, config.Error!.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", config.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Embargo.Gateway", config.Error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', config.Error.Message);
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

    [Theory]
    [InlineData("directory")]
    [InlineData("/dev/null")]
    [InlineData("/dev/zero")]
    [InlineData("link-to-dev-null")]
    public async Task AnAuditFileThatIsADirectoryOrADeviceIsAConfigurationErrorNamingAuditFile(string kind)
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        var target = kind switch
        {
            "directory" => Directory.CreateDirectory(Path.Combine(world.Directory, "audit-dir")).FullName,
            "link-to-dev-null" => File.CreateSymbolicLink(Path.Combine(world.Directory, "audit.jsonl"), "/dev/null").FullName,
            _ => kind,
        };
        await File.WriteAllTextAsync(world.ConfigPath, world.Yaml(new Uri("http://127.0.0.1:9/v1"))
            .Replace("file: ./gateway-audit.jsonl", $"file: {target}", StringComparison.Ordinal));

        var config = GatewayConfigLoader.Load(world.ConfigPath);

        Assert.False(config.IsOk);
        Assert.StartsWith($"gateway.yaml: audit.file {target}: ", config.Error!.Message);
        Assert.Contains(kind == "directory" ? "is a directory" : "is not a regular file", config.Error.Message);
    }

    [Fact]
    public async Task AnAuditFileThatIsANamedPipeStopsEmbargoGatewayWithExitCode2NamingAuditFile()
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        var fifo = Path.Combine(world.Directory, "audit.fifo");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }
        await File.WriteAllTextAsync(world.ConfigPath, world.Yaml(new Uri("http://127.0.0.1:9/v1"))
            .Replace("file: ./gateway-audit.jsonl", "file: ./audit.fifo", StringComparison.Ordinal));

        var (code, stderr) = await RunGatewayAsync(world);

        Assert.Equal(CliApp.BadInput, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"audit.file {fifo}: ", line);
        Assert.Contains("not a regular file", line);
    }

    [Fact]
    public async Task AnAuditFileWhoseDirectoryCannotBeCreatedStopsEmbargoGatewayWithExitCode2NamingAuditFile()
    {
        await using var world = await GatewayWorld.CreateAsync();
        world.WriteCertificate("api");
        await File.WriteAllTextAsync(world.ConfigPath, world.Yaml(new Uri("http://127.0.0.1:9/v1"))
            .Replace("file: ./gateway-audit.jsonl", "file: ./gateway.yaml/audit.jsonl", StringComparison.Ordinal)); // its "directory" is a file

        var (code, stderr) = await RunGatewayAsync(world);

        Assert.Equal(CliApp.BadInput, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"audit.file {Path.Combine(world.Directory, "gateway.yaml", "audit.jsonl")}: ", line);
    }
}
