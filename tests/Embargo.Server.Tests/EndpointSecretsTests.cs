using System.Net;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Issue 13 item 6: endpoint URLs are public records, so credentials in them never reach the server's store, ledger or API.</summary>
[Collection(CliCollection.Name)]
public sealed class EndpointSecretsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private const string Secret = "https://user:pass@models.example/v1?api_key=sk-live-0123456789";

    private static RegisterModelConditionRequest Condition(string endpoint) => new()
    {
        Name = "ft-cyber", Kind = "fine-tuned", ModelName = "camelid-ft", Endpoint = endpoint,
    };

    private async Task AssertNoSecretAsync(ProtocolWorld w)
    {
        var leaves = await LeavesTextAsync(Host);
        var conditions = await w.Developer.GetTextAsync($"/api/model-versions/{w.Version.Id}/conditions", default);
        foreach (var text in new[] { leaves, conditions, System.Text.Encoding.UTF8.GetString(Decode(leaves).SelectMany(l => l.Bytes).ToArray()) })
        {
            Assert.DoesNotContain("user:pass", text);
            Assert.DoesNotContain("api_key", text);
            Assert.DoesNotContain("sk-live", text);
        }
    }

    [Theory]
    [InlineData(Secret, "user info")]
    [InlineData("https://user:pass@models.example/v1", "user info")]
    [InlineData("https://models.example/v1?api_key=sk-live-0123456789", "query string")]
    public async Task AConditionEndpointWithUserInfoOrAQueryIsRefusedAndNeverStored(string endpoint, string named)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", Condition(endpoint), default));
        Assert.StartsWith("endpoint", e.Detail, StringComparison.Ordinal);
        Assert.Contains(named, e.Detail);
        Assert.DoesNotContain("sk-live", e.Detail);
        Assert.Empty(await w.Developer.GetAllAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", default));
        await AssertNoSecretAsync(w);
    }

    [Fact]
    public async Task TheCliStripsUserInfoAndTheQueryBeforeSendingACondition()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var variable = "EMBARGO_TEST_TOKEN_" + w.Tag;
        Environment.SetEnvironmentVariable(variable, w.Tokens[w.Developer]);
        try
        {
            var run = await CliRunner.RunAsync("model", "add-condition", w.Version.Id, "--name", "ft-cyber", "--kind", "fine-tuned",
                "--model-url", Secret, "--model-name", "camelid-ft", "--server", Host.Url.ToString(), "--token-env", variable, "--json");
            Assert.Equal(CliApp.Ok, run.Code);
            Assert.Contains("--api-key-env", run.Error);
            Assert.DoesNotContain("user:pass", run.Out);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
        var stored = Assert.Single(await w.Developer.GetAllAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", default));
        Assert.Equal("https://models.example/v1", stored.Endpoint);
        Assert.Contains(await LeavesAsync(Host), l => l.Type == "condition.registered" && l.Data["endpoint"]!.GetValue<string>() == "https://models.example/v1");
        await AssertNoSecretAsync(w);
    }
}
