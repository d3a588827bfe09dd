using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Embargo.Gateway.Tests.Infrastructure;

/// <summary>
/// A tiny OpenAI-compatible upstream whose streamed chunks the test chooses exactly (the SAMPLE model splits at spaces;
/// this one splits wherever the test says, inside words too). Non-streaming requests get the chunks joined.
/// </summary>
public sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ScriptedUpstream(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;
    public int Requests;
    /// <summary>The body of the last chat request, exactly as it arrived.</summary>
    public string? LastChatBody;
    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>Completes when the first chat request has arrived (its body read).</summary>
    public Task Arrived => _arrived.Task;

    /// <summary>With <paramref name="pauseAfter"/>, the stream stops after that many content chunks until <paramref name="resume"/> completes.</summary>
    public static Task<ScriptedUpstream> StartAsync(IReadOnlyList<string> chunks, int? pauseAfter = null, Task? resume = null) =>
        StartAsync((app, upstream) => MapScripted(app, upstream, chunks, pauseAfter, resume));

    /// <summary>An upstream that answers exactly what the test wrote, whatever shape it has: a streamed request gets each of
    /// <paramref name="events"/> as one SSE <c>data:</c> event, then <c>[DONE]</c> (or, with <paramref name="abortAfterEvents"/>, a
    /// dropped connection instead); a whole request gets <paramref name="answer"/> as it is, with <paramref name="status"/>.
    /// With <paramref name="answerWhen"/>, it answers only once that task completes; with <paramref name="moderation"/>, its
    /// moderation endpoint answers that text as it is; with <paramref name="pauseAfter"/>, the stream stops after that many events
    /// until <paramref name="resume"/> completes.</summary>
    public static Task<ScriptedUpstream> StartRawAsync(IReadOnlyList<string> events, string answer = "{}", int status = 200, bool abortAfterEvents = false,
        Task? answerWhen = null, string? moderation = null, int? pauseAfter = null, Task? resume = null) =>
        StartAsync((app, upstream) => app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            Interlocked.Increment(ref upstream.Requests);
            using var reader = new StreamReader(ctx.Request.Body);
            upstream.LastChatBody = await reader.ReadToEndAsync();
            upstream._arrived.TrySetResult();
            if (answerWhen is not null)
            {
                await answerWhen;
            }
            using var doc = JsonDocument.Parse(upstream.LastChatBody);
            ctx.Response.StatusCode = status;
            if (!(doc.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True))
            {
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync(answer);
                return;
            }
            ctx.Response.ContentType = "text/event-stream";
            for (var i = 0; i < events.Count; i++)
            {
                if (i == pauseAfter && resume is not null)
                {
                    await resume;
                }
                await ctx.Response.WriteAsync("data: " + events[i] + "\n\n");
                await ctx.Response.Body.FlushAsync();
            }
            if (abortAfterEvents)
            {
                ctx.Abort();
                return;
            }
            await ctx.Response.WriteAsync("data: [DONE]\n\n");
        }), moderation);

    private static async Task<ScriptedUpstream> StartAsync(Action<WebApplication, ScriptedUpstream> mapChat, string? moderation = null)
    {
        ScriptedUpstream? upstream = null;
        var (app, baseUrl) = await LocalHttp.StartAsync(app =>
        {
            upstream = new ScriptedUpstream(app);
            MapAll(app, upstream, mapChat, moderation);
        });
        upstream!.BaseUrl = new Uri(baseUrl.AbsoluteUri.TrimEnd('/') + "/v1");
        return upstream;
    }

    private static void MapAll(WebApplication app, ScriptedUpstream upstream, Action<WebApplication, ScriptedUpstream> mapChat, string? moderation)
    {
        mapChat(app, upstream);
        // An OpenAI-shaped moderation endpoint: flags any input containing "FLAG".
        app.MapPost("/v1/moderations", async (HttpContext ctx) =>
        {
            Interlocked.Increment(ref upstream.Requests);
            using var doc = await JsonDocument.ParseAsync(ctx.Request.Body);
            var input = doc.RootElement.GetProperty("input").GetString() ?? "";
            ctx.Response.ContentType = "application/json";
            if (moderation is not null)
            {
                await ctx.Response.WriteAsync(moderation);
                return;
            }
            await ctx.Response.WriteAsync(JsonSerializer.Serialize(new
            {
                id = "modr-scripted", model = "guard",
                results = new[] { new { flagged = input.Contains("FLAG", StringComparison.Ordinal), categories = new { }, category_scores = new { } } },
            }));
        });
    }

    private static void MapScripted(WebApplication app, ScriptedUpstream upstream, IReadOnlyList<string> chunks, int? pauseAfter, Task? resume) =>
        app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            Interlocked.Increment(ref upstream.Requests);
            using var reader = new StreamReader(ctx.Request.Body);
            upstream.LastChatBody = await reader.ReadToEndAsync();
            upstream._arrived.TrySetResult();
            using var doc = JsonDocument.Parse(upstream.LastChatBody);
            var stream = doc.RootElement.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
            if (!stream)
            {
                ctx.Response.ContentType = "application/json";
                await ctx.Response.WriteAsync(JsonSerializer.Serialize(new
                {
                    id = "chatcmpl-scripted", @object = "chat.completion", created = 1_700_000_000, model = "scripted",
                    choices = new[] { new { index = 0, message = new { role = "assistant", content = string.Concat(chunks) }, finish_reason = "stop" } },
                    usage = new { prompt_tokens = 3, completion_tokens = 5, total_tokens = 8 },
                }));
                return;
            }
            ctx.Response.ContentType = "text/event-stream";
            async Task Send(object chunk)
            {
                await ctx.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n");
                await ctx.Response.Body.FlushAsync();
            }
            await Send(new { id = "chatcmpl-scripted", @object = "chat.completion.chunk", created = 1_700_000_000, model = "scripted", choices = new[] { new { index = 0, delta = new { role = "assistant", content = "" }, finish_reason = (string?)null } } });
            for (var i = 0; i < chunks.Count; i++)
            {
                var piece = chunks[i];
                if (i == pauseAfter && resume is not null)
                {
                    await resume;
                }
                await Send(new { id = "chatcmpl-scripted", @object = "chat.completion.chunk", created = 1_700_000_000, model = "scripted", choices = new[] { new { index = 0, delta = new { content = piece }, finish_reason = (string?)null } } });
            }
            await Send(new { id = "chatcmpl-scripted", @object = "chat.completion.chunk", created = 1_700_000_000, model = "scripted", choices = new[] { new { index = 0, delta = new { }, finish_reason = (string?)"stop" } } });
            await Send(new { id = "chatcmpl-scripted", @object = "chat.completion.chunk", created = 1_700_000_000, model = "scripted", choices = Array.Empty<object>(), usage = new { prompt_tokens = 3, completion_tokens = 5, total_tokens = 8 } });
            await ctx.Response.WriteAsync("data: [DONE]\n\n");
        });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
