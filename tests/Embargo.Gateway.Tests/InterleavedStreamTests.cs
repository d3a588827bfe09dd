using System.Net;
using System.Text;
using System.Text.Json;
using Embargo.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Embargo.Gateway.Tests;

/// <summary>
/// Seeded random streams against the output screens' windows: up to four channels (content and reasoning of two choices,
/// two parallel tool calls' arguments) interleaved at random, each chunk sent once the gateway has read the one before, so
/// it reads and releases them in many steps, and in half of them the screened phrase cut into two to four pieces at random places of one
/// channel. The filler is digits and spaces only, so any letter the caller receives is part of the phrase. A choice's answer
/// (its content and tool calls) and its reasoning are separate lanes: one may go ahead of the other, never of itself.
/// </summary>
public sealed class InterleavedStreamTests
{
    private const string Phrase = "credential harvesting kit";
    private const int Streams = 120;

    private readonly record struct Piece(string Kind, int Choice, string Text);

    private sealed record Plan(bool CarriesPhrase, Dictionary<(string Kind, int Choice), string> Channels, List<Piece> Order);

    private static Plan PlanFor(int seed)
    {
        var random = new Random(seed);
        (string, int)[] all = [("content", 0), ("reasoning", 0), ("call0", 0), ("call1", 0), ("content", 1), ("reasoning", 1)];
        var channels = all.OrderBy(_ => random.Next()).Take(random.Next(1, 5)).ToList();
        var pieces = channels.ToDictionary(c => c, _ => Enumerable.Range(0, random.Next(1, 7))
            .Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(1, 13)).Select(_ => random.Next(100_000))) + " ").ToList());
        var carries = random.Next(2) == 0;
        if (carries)
        {
            var target = pieces[channels[random.Next(channels.Count)]];
            var cuts = Enumerable.Range(1, Phrase.Length - 1).OrderBy(_ => random.Next()).Take(random.Next(1, 4)).Order().ToList();
            var bounds = cuts.Prepend(0).Append(Phrase.Length).ToList();
            target.InsertRange(random.Next(target.Count + 1), bounds.Zip(bounds.Skip(1), (a, b) => Phrase[a..b]));
        }
        var next = channels.ToDictionary(c => c, _ => 0);
        var order = new List<Piece>();
        while (channels.Where(c => next[c] < pieces[c].Count).ToList() is { Count: > 0 } open)
        {
            var c = open[random.Next(open.Count)];
            order.Add(new Piece(c.Item1, c.Item2, pieces[c][next[c]++]));
        }
        return new Plan(carries, pieces.ToDictionary(p => p.Key, p => string.Concat(p.Value)), order);
    }

    private static (int Choice, bool Reasoning) Lane(Piece piece) => (piece.Choice, piece.Kind == "reasoning");

    private static string Event(Piece piece)
    {
        object delta = piece.Kind switch
        {
            "content" => new { content = piece.Text },
            "reasoning" => new { reasoning_content = piece.Text },
            _ => new { tool_calls = new[] { new { index = piece.Kind == "call0" ? 0 : 1, function = new { arguments = piece.Text } } } },
        };
        return JsonSerializer.Serialize(new
        {
            id = "chatcmpl-mixed", @object = "chat.completion.chunk", created = 1_700_000_000, model = "mixed",
            choices = new[] { new { index = piece.Choice, delta, finish_reason = (string?)null } },
        });
    }

    [Fact]
    public async Task RandomlyInterleavedChannelsNeverLetAPieceOfASplitPhraseOutAndOtherwiseDeliverEveryChannelWholeAndInOrder()
    {
        // The upstream streams the plan whose seed is the prompt, a chunk each time the gateway has read the one before.
        using var pacer = new GatewayWorld.ReadPacer();
        // Set before each request; the upstream completes it when it has left that stream (a blocked one is dropped by the
        // gateway), so no stream of the last request is still waiting for the gateway's reads when the next one starts.
        var streamDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var (upstreamApp, upstreamUrl) = await LocalHttp.StartAsync(app => app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            using var request = await JsonDocument.ParseAsync(ctx.Request.Body);
            var plan = PlanFor(int.Parse(request.RootElement.GetProperty("messages")[0].GetProperty("content").GetString()!,
                System.Globalization.CultureInfo.InvariantCulture));
            var done = streamDone;
            try
            {
                ctx.Response.ContentType = "text/event-stream";
                for (var i = 0; i < plan.Order.Count; i++)
                {
                    await ctx.Response.WriteAsync("data: " + Event(plan.Order[i]) + "\n\n");
                    await ctx.Response.Body.FlushAsync();
                    await pacer.NextReadAsync(ctx.RequestAborted);
                }
                await ctx.Response.WriteAsync("data: [DONE]\n\n");
            }
            finally
            {
                done.TrySetResult();
            }
        }));
        await using var upstream = upstreamApp;
        await using var world = await GatewayWorld.CreateAsync();
        var gateway = await world.StartGatewayAsync(world.Yaml(new Uri(upstreamUrl, "v1"), rpm: 100_000), afterStreamRead: pacer.StreamRead);
        using var http = new HttpClient();

        var (blocked, whole, reordered) = (0, 0, 0);
        for (var seed = 0; seed < Streams; seed++)
        {
            var plan = PlanFor(seed);
            streamDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var request = new HttpRequestMessage(HttpMethod.Post, gateway.BaseUrl + "/chat/completions")
            {
                Content = new StringContent($$"""{"model":"camelid-7b","stream":true,"messages":[{"role":"user","content":"{{seed}}"}]}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new("Bearer", GatewayWorld.AliceKey);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var (received, order, filtered) = Read(await response.Content.ReadAsStringAsync());
            await streamDone.Task.WaitAsync(TimeSpan.FromSeconds(30));

            // No letter (a piece of the phrase) ever reaches the caller, in any channel.
            Assert.False(received.Values.Any(text => text.Any(char.IsLetter)), $"seed {seed}: a piece of the phrase went out: {string.Join(" | ", received.Values)}");
            if (plan.CarriesPhrase)
            {
                Assert.True(filtered, $"seed {seed}: the phrase was not caught");
                blocked++;
                continue;
            }
            Assert.False(filtered, $"seed {seed}: a stream without the phrase was ended");
            Assert.Equal(plan.Channels.OrderBy(c => c.Key).ToList(), received.OrderBy(c => c.Key).ToList());
            // A choice's answer (content and tool calls) and its reasoning each arrive in the upstream's order.
            foreach (var lane in plan.Order.Select(Lane).Distinct())
            {
                Assert.Equal(plan.Order.Where(p => Lane(p) == lane), order.Where(p => Lane(p) == lane));
            }
            whole++;
            reordered += order.SequenceEqual(plan.Order) ? 0 : 1;
        }

        Assert.Equal(Streams, blocked + whole);
        Assert.InRange(blocked, Streams / 4, 3 * Streams / 4);
        // Channels did go ahead of each other: the release around a waiting channel was exercised.
        Assert.True(reordered > 0, "no stream was released out of the upstream's order");
    }

    /// <summary>Each channel's text as the caller would join it, the pieces in the order they came, and whether a choice
    /// ended with content_filter.</summary>
    private static (Dictionary<(string Kind, int Choice), string> Channels, List<Piece> Order, bool Filtered) Read(string body)
    {
        var channels = new Dictionary<(string, int), string>();
        var order = new List<Piece>();
        var filtered = false;
        foreach (var line in body.Split('\n'))
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
            {
                continue;
            }
            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                filtered |= choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String && f.GetString() == "content_filter";
                if (!choice.TryGetProperty("delta", out var delta) || delta.ValueKind != JsonValueKind.Object)
                {
                    continue;
                }
                var index = choice.GetProperty("index").GetInt32();
                void Add(string kind, string text)
                {
                    channels[(kind, index)] = channels.GetValueOrDefault((kind, index), "") + text;
                    order.Add(new Piece(kind, index, text));
                }
                if (delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
                {
                    Add("content", content.GetString()!);
                }
                if (delta.TryGetProperty("reasoning_content", out var reasoning) && reasoning.ValueKind == JsonValueKind.String)
                {
                    Add("reasoning", reasoning.GetString()!);
                }
                if (delta.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
                {
                    foreach (var call in calls.EnumerateArray())
                    {
                        Add(call.GetProperty("index").GetInt32() == 0 ? "call0" : "call1", call.GetProperty("function").GetProperty("arguments").GetString()!);
                    }
                }
            }
        }
        return (channels, order, filtered);
    }
}
