using System.Text.Json;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>`embargo gateway grant` and `embargo gateway screen` against a real server.</summary>
[Collection(CliCollection.Name)]
public sealed class GatewayCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

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
    public async Task GatewayGrantPrintsTheKeyOnceAndRefusesAnUnreleasedVersionNamingRule1()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var evaluator = w.PrincipalIds[w.Evaluator];

        var refused = await As(w, w.Developer, "gateway", "grant", w.Version.Id, "--principal", evaluator, "--rpm", "30");
        Assert.Equal(CliApp.Failed, refused.Code);
        Assert.Contains("rule-1", refused.Error, StringComparison.Ordinal);

        await w.ReleaseAsync("hosted");
        var granted = await As(w, w.Developer, "gateway", "grant", w.Version.Id, "--principal", evaluator, "--rpm", "30", "--tokens-per-day", "5000", "--json");
        Assert.Equal(CliApp.Ok, granted.Code);
        var grant = JsonSerializer.Deserialize<GatewayGrantDto>(granted.Out, EmbargoClient.Json)!;
        Assert.StartsWith("egw_", grant.Key, StringComparison.Ordinal);
        Assert.Equal((30, 5000L), (grant.RequestsPerMinute, grant.TokensPerDay!.Value));

        var screen = await As(w, w.Developer, "gateway", "screen", w.Version.Id, "--name", "kits", "--apply-to", "input", "--apply-to", "output",
            "--keyword", "credential harvesting kit", "--regex", "clone\\s+the\\s+login\\s+page", "--json");
        Assert.Equal(CliApp.Ok, screen.Code);
        Assert.Equal(["input", "output"], JsonSerializer.Deserialize<GatewayScreenDto>(screen.Out, EmbargoClient.Json)!.ApplyTo);
    }
}
