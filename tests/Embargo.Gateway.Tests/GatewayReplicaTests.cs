using System.ClientModel;
using Embargo.Gateway.Tests.Infrastructure;
using Embargo.SampleModel;
using OpenAI.Chat;

namespace Embargo.Gateway.Tests;

public sealed class GatewayReplicaTests
{
    private static readonly ChatMessage[] Hello = [new UserChatMessage("phish-007: which option is right?")];

    [Fact]
    public async Task TwoReplicasSharingOneRedisHoldOneGrantsCombinedRate()
    {
        Assert.True(File.Exists(RedisServer.Binary), $"{RedisServer.Binary} is missing: apt-get install redis-server (.ci/run installs it)");
        await using var redis = await RedisServer.StartAsync();
        await using var world = await GatewayWorld.CreateAsync();
        var model = await world.StartSampleModelAsync(_ => SampleReply.Text("ANSWER: D"));
        var yaml = world.Yaml(model.BaseUrl, rpm: 4);
        var first = await world.StartGatewayAsync(yaml, redis.Endpoint);
        var second = await world.StartGatewayAsync(yaml.Replace("gateway-audit.jsonl", "gateway-audit-2.jsonl", StringComparison.Ordinal), redis.Endpoint, "gateway-2.yaml"); // same clock, grants and Redis

        var outcomes = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            var chat = GatewayWorld.Chat(i % 2 == 0 ? first : second, GatewayWorld.AliceKey);
            try
            {
                await chat.CompleteChatAsync(Hello);
                outcomes.Add(200);
            }
            catch (ClientResultException e)
            {
                outcomes.Add(e.Status);
            }
        }

        // One bucket of 4 for alice, whichever replica she reaches: each replica alone would have let all 6 through.
        Assert.Equal([200, 200, 200, 200, 429, 429], outcomes);
        Assert.Equal(4, model.RequestCount);
    }
}
