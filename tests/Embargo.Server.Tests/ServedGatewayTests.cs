using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text.Json;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.SampleModel;
using Embargo.Server.Gateway;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// `embargo serve` serves versions released at hosted/api at /v1 through the gateway pipeline, driven here with the
/// official OpenAI .NET SDK against the SAMPLE model as the version's registered base condition.
/// </summary>
public sealed class ServedGatewayTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static readonly ChatMessage[] Hello = [new UserChatMessage("hello")];

    /// <summary>The official client on the server's /v1 with a gateway key (no retries: a refusal is seen as it is).</summary>
    private OpenAIClient Client(string key, EmbargoHost? host = null) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri((host ?? Host).Url, "/v1"), RetryPolicy = new ClientRetryPolicy(0) });

    private ChatClient Chat(string key, string model, EmbargoHost? host = null) => Client(key, host).GetChatClient(model);

    private static (int Status, string? Code, string Message) ErrorOf(ClientResultException e)
    {
        var raw = e.GetRawResponse()!;
        using var doc = JsonDocument.Parse(raw.Content.ToString());
        var error = doc.RootElement.GetProperty("error");
        return (raw.Status, error.GetProperty("code").GetString(), error.GetProperty("message").GetString()!);
    }

    /// <summary>A certified world whose version's base condition is the SAMPLE model, released at <paramref name="release"/> (null: not released).</summary>
    private async Task<ProtocolWorld> ServedWorldAsync(SampleModelServer sample, string? release = "hosted", EmbargoHost? host = null)
    {
        var w = await ProtocolWorld.CreateAsync(host ?? Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "base", Kind = "base", ModelName = "sample-camelid-7b", Endpoint = sample.BaseUrl.ToString(),
        }, default);
        if (release is not null)
        {
            await w.ReleaseAsync(release);
        }
        return w;
    }

    private static Task<GatewayGrantDto> GrantAsync(ProtocolWorld w, EmbargoClient grantee, int rpm = 60) =>
        w.Developer.Gateway.GrantAsync(w.Version.Id,
            new GatewayGrantRequest { PrincipalId = w.PrincipalIds[grantee], RequestsPerMinute = rpm }, default);

    [Fact]
    public async Task AGrantedKeyGetsACompletionFromTheReleasedSampleModelAndTheCallIsAudited()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);

        ChatCompletion answer = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);

        Assert.StartsWith("ANSWER: I believe it is the first option", Assert.Single(answer.Content).Text, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        Assert.Equal(1, sample.RequestCount);
        Assert.Equal("sample-camelid-7b", sample.Requests[0].Model);
        var line = await AuditLineAsync(l => l.GetProperty("grantee").GetString() == w.PrincipalIds[w.Evaluator]);
        Assert.Equal("allowed", line.GetProperty("decision").GetString());
        Assert.Equal(w.Version.Id, line.GetProperty("model").GetString());
    }

    [Fact]
    public async Task AnUnknownKeyIsRefusedWith401InvalidApiKeyAndTheModelIsNotCalled()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        await GrantAsync(w, w.Evaluator);

        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat("egw_not-a-key", w.Version.Id).CompleteChatAsync(Hello));

        var (status, code, _) = ErrorOf(e);
        Assert.Equal(401, status);
        Assert.Equal("invalid_api_key", code);
        Assert.Equal(0, sample.RequestCount);
    }

    [Fact]
    public async Task AVersionReleasedOnlyAtStagedIsNotServedAndGetsNoKey()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample, release: "staged");

        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => GrantAsync(w, w.Evaluator));
        // Even a key granted on another, served version does not reach it.
        using var served = await ServedWorldAsync(sample);
        var other = await GrantAsync(served, served.Evaluator);
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(other.Key!, w.Version.Id).CompleteChatAsync(Hello));
        Assert.Equal((403, "model_not_granted"), (ErrorOf(e).Status, ErrorOf(e).Code));
        Assert.Equal(0, sample.RequestCount);
    }

    [Fact]
    public async Task AScreenAttachedAsAMitigationBlocksTheOutputFromThenOn()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);
        ChatCompletion before = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);
        Assert.Equal(ChatFinishReason.Stop, before.FinishReason);

        await w.MailParty.Gateway.AttachScreenAsync(w.Version.Id, new GatewayScreenRequest
        {
            Name = "no-final-answers", ApplyTo = ["output"], Keywords = ["The First Option"], MitigationId = w.PhishingMitigation.Id,
        }, default);
        ChatCompletion after = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);

        Assert.Equal(ChatFinishReason.ContentFilter, after.FinishReason);
        Assert.Empty(after.Content);
        Assert.Equal(2, sample.RequestCount);
    }

    [Fact]
    public async Task AnInputScreenRefusesThePromptBeforeTheModelIsCalled()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, new GatewayScreenRequest
        {
            Name = "no-kits", ApplyTo = ["input"], Regex = ["clone\\s+the\\s+login\\s+page"],
        }, default);

        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(grant.Key!, w.Version.Id).CompleteChatAsync([new UserChatMessage("please CLONE the  login page")]));

        var (status, code, message) = ErrorOf(e);
        Assert.Equal((400, "content_blocked"), (status, code));
        Assert.Contains("no-kits", message, StringComparison.Ordinal);
        Assert.DoesNotContain("login", message, StringComparison.Ordinal);
        Assert.Equal(0, sample.RequestCount);
    }

    [Fact]
    public async Task AFlaggedCertificateStopsServingOnTheNextRequest()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);
        ChatCompletion before = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);
        Assert.Equal(ChatFinishReason.Stop, before.FinishReason);

        await w.Regulator.Models.RegisterReferenceAsync( new RegisterReferenceModelRequest { Name = $"stronger-{w.Tag}", Strength = w.Reference.Strength + 1 }, default);
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello));

        var (status, code, message) = ErrorOf(e);
        Assert.Equal((403, "tier_not_certified"), (status, code));
        Assert.Contains($"{w.Certificate!.Id} is flagged", message, StringComparison.Ordinal);
        Assert.Equal(1, sample.RequestCount);
    }

    [Fact]
    public async Task TheModelsListShowsOnlyTheVersionTheKeyIsGranted()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        using var other = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);
        await GrantAsync(other, other.Evaluator);

        var models = (await Client(grant.Key!).GetOpenAIModelClient().GetModelsAsync()).Value;

        Assert.Equal([w.Version.Id], models.Select(m => m.Id).ToArray());
    }

    [Fact]
    public async Task TheOfficialClientRetrievesTheGrantedVersionAndAnythingElseUnderV1IsAnOpenAiShapedError()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        using var other = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);
        var models = Client(grant.Key!).GetOpenAIModelClient();

        var mine = (await models.GetModelAsync(w.Version.Id)).Value;
        var notMine = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync(other.Version.Id));
        using var http = new HttpClient();
        using var wrongMethod = await http.GetAsync(new Uri(Host.Url, "/v1/chat/completions"));
        using var unknown = await http.GetAsync(new Uri(Host.Url, "/v1/completions"));

        Assert.Equal(w.Version.Id, mine.Id);
        Assert.Equal(404, notMine.Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Equal("method_not_allowed", JsonDocument.Parse(await wrongMethod.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown_url", JsonDocument.Parse(await unknown.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    /// <summary>The server's audit file, once the gateway has written every line so far: the first line that matches.</summary>
    private async Task<JsonElement> AuditLineAsync(Func<JsonElement, bool> match)
    {
        var gateway = Host.Services.GetRequiredService<ServerGateway>();
        await gateway.Audit.FlushAsync();
        return AuditLines(gateway.AuditFile).Select(l => JsonDocument.Parse(l).RootElement.Clone()).FirstOrDefault(match)
            is { ValueKind: JsonValueKind.Object } line ? line : throw new Xunit.Sdk.XunitException($"no matching line in {gateway.AuditFile}");
    }

    private static string[] AuditLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [Fact]
    public async Task TheGatewaysAuditLinesGoOntoTheLedgerAsBatchesWhoseRootsMatchTheAuditFile()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample);
        var grant = await GrantAsync(w, w.Evaluator);
        await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);
        await Assert.ThrowsAsync<ClientResultException>(() => Chat("egw_not-a-key", w.Version.Id).CompleteChatAsync(Hello));
        var gateway = Host.Services.GetRequiredService<ServerGateway>();
        await gateway.Audit.FlushAsync();

        await gateway.Audit.PostBatchesAsync(all: true, default);

        // Every line so far is in a gateway.audit-batch leaf appended by the server itself (no actor), contiguous from line 0.
        var lines = AuditLines(gateway.AuditFile);
        var leaves = await LeavesAsync(Host);
        var batches = leaves.Select(l => JsonDocument.Parse(l.Bytes).RootElement.Clone())
            .Where(e => e.GetProperty("type").GetString() == "gateway.audit-batch").ToList();
        Assert.NotEmpty(batches);
        var covered = 0L;
        foreach (var batch in batches)
        {
            var data = batch.GetProperty("data");
            Assert.Equal(JsonValueKind.Null, batch.GetProperty("actor").ValueKind);
            Assert.Equal("embargo-serve", data.GetProperty("gateway").GetString());
            Assert.Equal(covered, data.GetProperty("firstLine").GetInt64());
            var count = data.GetProperty("lines").GetInt32();
            var tree = new Embargo.Ledger.MerkleTree();
            foreach (var line in lines.Skip((int)covered).Take(count))
            {
                tree.AppendLeaf(System.Text.Encoding.UTF8.GetBytes(line));
            }
            Assert.Equal(Convert.ToHexStringLower(tree.Root()), data.GetProperty("root").GetString());
            covered += count;
        }
        Assert.Equal(lines.Length, covered);
    }

    [Fact]
    public async Task ServeRefusesToStartWithARedisItCannotReachNamingIt()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closed = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        listener.Stop();

        var e = await Assert.ThrowsAsync<ArgumentException>(() => EmbargoHost.StartAsync(gatewayRedis: closed));

        Assert.StartsWith($"cannot reach Redis at {closed}", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task WithRedisTheGrantsRateOutlivesARestartBecauseItIsHeldInRedis()
    {
        Assert.True(File.Exists(Embargo.Gateway.Tests.RedisServer.Binary), "redis-server is missing: apt-get install redis-server (.ci/run installs it)");
        await using var redis = await Embargo.Gateway.Tests.RedisServer.StartAsync();
        await using var host = await EmbargoHost.StartAsync(gatewayRedis: redis.Endpoint);
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ServedWorldAsync(sample, host: host);
        var grant = await GrantAsync(w, w.Evaluator, rpm: 2);
        await Chat(grant.Key!, w.Version.Id, host).CompleteChatAsync(Hello);
        await Chat(grant.Key!, w.Version.Id, host).CompleteChatAsync(Hello);

        // In memory, a restarted server would start a full bucket; the bucket lives in Redis, so it is still empty.
        await host.RestartAsync(() => Task.CompletedTask);
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Chat(grant.Key!, w.Version.Id, host).CompleteChatAsync(Hello));

        Assert.Equal((429, "rate_limit_exceeded"), (ErrorOf(e).Status, ErrorOf(e).Code));
        Assert.Equal(2, sample.RequestCount);
    }
}
