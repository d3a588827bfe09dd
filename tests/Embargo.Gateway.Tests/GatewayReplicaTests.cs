using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Embargo.Gateway.Tests.Infrastructure;
using Embargo.SampleModel;
using OpenAI.Chat;

namespace Embargo.Gateway.Tests;

/// <summary>A real redis-server (Debian's), started on a free port in its own directory and stopped after the test.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";

    private readonly Process _process;
    private readonly string _directory;

    private RedisServer(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Endpoint = $"127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    public static async Task<RedisServer> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("embargo-redis-").FullName;
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var process = Process.Start(new ProcessStartInfo(Binary)
        {
            ArgumentList = { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, directory, port);
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException)
            {
                await Task.Delay(25);
            }
        }
        await server.DisposeAsync();
        throw new InvalidOperationException($"redis-server did not listen on {port}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

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
