using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Embargo.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Embargo.Gateway.Tests;

/// <summary>
/// JSON that parses but cannot be read — strings that are not valid Unicode (a lone surrogate, as an escape or as its
/// bytes), answers of the wrong shape — from callers, upstreams, classifiers and the server. Each is a refusal or a
/// failure named as such, never a 500, and never an end to following the certificate's status.
/// </summary>
public sealed class BrokenTextTests
{
    [Theory]
    [InlineData("a lone surrogate escape in a message", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello \ud800"}]}""")]
    [InlineData("a low surrogate first", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello \udc00\ud800"}]}""")]
    [InlineData("a lone surrogate in the model's name", """{"model":"\ud800","messages":[{"role":"user","content":"hello"}]}""")]
    [InlineData("a lone surrogate in another member", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}],"user":"\ud800"}""")]
    [InlineData("a lone surrogate as UTF-8 bytes", "BYTES")]
    public async Task ARequestWhoseStringsAreNotValidUnicodeIsA400AndNothingGoesUpstream(string what, string body)
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));
        byte[] bytes = body == "BYTES"
            ? [.. "{\"model\":\"camelid-7b\",\"messages\":[{\"role\":\"user\",\"content\":\"hello "u8, 0xED, 0xA0, 0x80, .. "\"}]}"u8]
            : Encoding.UTF8.GetBytes(body);

        var (status, text) = await SendAsync(gateway, bytes);

        Assert.True(status == HttpStatusCode.BadRequest, $"{what}: {(int)status}");
        Assert.Equal("invalid_request", Error(text).GetProperty("code").GetString());
        Assert.Equal(0, upstream.Requests);
    }

    [Fact]
    public async Task ValidSurrogatePairsAndEscapedBackslashesBeforeAUStillPass()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        // An emoji as an escaped pair, and a literal backslash followed by "ud800" (text, not an escape).
        var (status, _) = await SendAsync(gateway, Encoding.UTF8.GetBytes(
            """{"model":"camelid-7b","messages":[{"role":"user","content":"hello \ud83d\ude00 C:\\ud800"}]}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, upstream.Requests);
    }

    [Fact]
    public async Task AnUpstreamAnswerWithALoneSurrogateIsA502AndAStreamedChunkWithOneIsDropped()
    {
        await using var world = await GatewayWorld.CreateAsync();
        const string Chunk = """{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"TEXT"},"finish_reason":null}]}""";
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync(
            [Chunk.Replace("TEXT", "Login pages are ordinary HTML forms. ", StringComparison.Ordinal), Chunk.Replace("TEXT", "broken \\ud800 ", StringComparison.Ordinal),
             Chunk.Replace("TEXT", "Banks protect theirs in several ways.", StringComparison.Ordinal)],
            """{"choices":[{"index":0,"message":{"role":"assistant","content":"broken \ud800"},"finish_reason":"stop"}]}"""));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (whole, wholeText) = await SendAsync(gateway, """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}]}"""u8.ToArray());
        var (streamed, streamedText) = await SendAsync(gateway, """{"model":"camelid-7b","stream":true,"messages":[{"role":"user","content":"hello"}]}"""u8.ToArray());

        Assert.Equal(HttpStatusCode.BadGateway, whole);
        Assert.Equal("upstream_error", Error(wholeText).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, streamed);
        Assert.Contains("Login pages", streamedText, StringComparison.Ordinal);
        Assert.Contains("Banks protect", streamedText, StringComparison.Ordinal);
        Assert.DoesNotContain("broken", streamedText, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", streamedText, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"results":[1]}""")]
    [InlineData("""{"results":[{"flagged":"\ud800"}]}""")]
    [InlineData("""[]""")]
    public async Task AModerationClassifierAnsweringTheWrongShapeIs503NeverA200(string answer)
    {
        await using var world = await GatewayWorld.CreateAsync();
        var model = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var classifier = world.Own(await ScriptedUpstream.StartRawAsync([], moderation: answer));
        var gateway = await world.StartGatewayAsync(world.Yaml(model.BaseUrl, screens: $"""
              - name: moderation
                apply_to: [input]
                classifier: {"{"} url: {classifier.BaseUrl}, model: guard, kind: moderation, timeout_ms: 5000 {"}"}
            """));

        var (status, text) = await SendAsync(gateway, """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}]}"""u8.ToArray());

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("screen_unavailable", Error(text).GetProperty("code").GetString());
        Assert.Equal(0, model.Requests);
    }

    [Fact]
    public async Task AServerWhoseStatusAnswerTurnsIntoTheWrongShapeStopsTheServingOnceTheLastConfirmationIsStale()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var answer = """{"status":"valid","certificate":"crt_test"}""";
        var server = world.Own(await StatusServer.StartAsync(() => answer));
        world.WriteCertificate("api");
        var path = Path.Combine(world.Directory, "gateway.yaml");
        await File.WriteAllTextAsync(path, world.Yaml(upstream.BaseUrl) + $"""

              server: {server.BaseUrl}
              token_env: EMBARGO_TEST_TOKEN
            """);
        var config = GatewayConfigLoader.Load(path, name => name == "EMBARGO_TEST_TOKEN" ? "token" : null);
        Assert.True(config.IsOk, config.Error?.Message);
        var started = await GatewayHost.StartAsync(config.Value, new GatewayRunOptions { Time = world.Time });
        Assert.True(started.IsOk, started.Error?.Message);
        var gateway = world.Own(started.Value);
        var hello = """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}]}"""u8.ToArray();
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(gateway, hello)).Status);

        answer = "[]"; // parses, but is not a status
        var refused = false;
        for (var tick = 0; tick < 40 && !refused; tick++)
        {
            world.Time.Advance(TimeSpan.FromSeconds(3)); // a status check each tick; stale after 9 s without confirmation
            await server.Asked(tick + 2);
            refused = (await SendAsync(gateway, hello)).Status == HttpStatusCode.Forbidden;
        }

        Assert.True(refused, "the gateway kept serving on a status it could no longer confirm");
        Assert.True(world.Time.GetUtcNow() - new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero) <= TimeSpan.FromSeconds(30)); // stale at 9 s; a few ticks of slack
    }

    private static JsonElement Error(string body) => JsonDocument.Parse(body).RootElement.GetProperty("error").Clone();

    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(GatewayHost gateway, byte[] body)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, gateway.BaseUrl + "/chat/completions") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GatewayWorld.AliceKey);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Answers every certificate status read with what <c>answer</c> gives at the time, and counts the reads.</summary>
    private sealed class StatusServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _asked;
        private readonly List<(int Count, TaskCompletionSource Reached)> _waiters = [];

        private StatusServer(WebApplication app) => _app = app;

        public Uri BaseUrl { get; private set; } = null!;

        public static async Task<StatusServer> StartAsync(Func<string> answer)
        {
            StatusServer? server = null;
            var (app, baseUrl) = await LocalHttp.StartAsync(app => app.MapGet("/api/public/certificates/{sha}/status", async (HttpContext ctx) =>
            {
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync(answer());
                server!.Count();
            }));
            server = new StatusServer(app) { BaseUrl = baseUrl };
            return server;
        }

        private void Count()
        {
            lock (_waiters)
            {
                _asked++;
                foreach (var (count, reached) in _waiters.Where(w => _asked >= w.Count))
                {
                    reached.TrySetResult();
                }
            }
        }

        /// <summary>Completes once the status has been read <paramref name="count"/> times in all (or after 10 s, so a gateway
        /// that stopped reading fails the test's own assertion instead of hanging it). The gateway applies an answer just after
        /// reading it: a request sent before that is simply served, and the next tick tells.</summary>
        public async Task Asked(int count)
        {
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_waiters)
            {
                if (_asked >= count)
                {
                    return;
                }
                _waiters.Add((count, reached));
            }
            try
            {
                await reached.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                // The gateway stopped reading the status: the test's assertion says so.
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
