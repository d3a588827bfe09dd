using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Embargo.SampleModel;

/// <summary>
/// The project's SAMPLE model: an OpenAI-compatible endpoint (GET /v1/models, POST /v1/chat/completions,
/// streaming or not) answering from a bundled capability profile. Not a real model: every model entry is
/// owned_by "embargo-sample" and every response carries the header X-Embargo-Sample: true. It also implements the
/// OpenAI fine-tuning API for its own profile (POST /v1/files, POST /v1/fine_tuning/jobs, GET …/jobs/{id} and
/// …/jobs/{id}/events); a succeeded job's variant is served under its fine_tuned_model name.
/// </summary>
public sealed class SampleModelServer : IAsyncDisposable
{
    public const string SampleHeader = "X-Embargo-Sample";
    public const string Owner = "embargo-sample";

    private readonly WebApplication _app;
    private readonly SampleModelOptions _options;
    private readonly CapabilityProfile _profile;
    private readonly ConcurrentQueue<SampleRequest> _requests = new();
    private readonly SampleFineTuning _fineTuning;
    private long _sequence;
    private int _stopped;

    private SampleModelServer(WebApplication app, SampleModelOptions options, CapabilityProfile profile)
    {
        _app = app;
        _options = options;
        _profile = profile;
        Models = profile.Models.Select(m => m.Id).ToArray();
        _fineTuning = new SampleFineTuning(profile, options);
    }

    /// <summary>e.g. http://127.0.0.1:PORT/v1</summary>
    public Uri BaseUrl { get; private set; } = null!;
    public IReadOnlyList<string> Models { get; }
    /// <summary>Chat-completion requests received so far (including those answered with an error).</summary>
    public long RequestCount => Interlocked.Read(ref _sequence);
    /// <summary>Every chat-completion request received (when <see cref="SampleModelOptions.RecordRequests"/>).</summary>
    public IReadOnlyList<SampleRequest> Requests => _requests.ToArray();

    public static Task<SampleModelServer> StartAsync(string url = "http://127.0.0.1:0", CancellationToken ct = default) =>
        StartAsync(new SampleModelOptions { Url = url }, ct);

    public static async Task<SampleModelServer> StartAsync(SampleModelOptions options, CancellationToken ct = default)
    {
        var profile = options.Profile ?? CapabilityProfile.LoadBundled();
        // Isolated from the hosting process: no appsettings.json, ASPNETCORE_* variables or command-line Kestrel endpoints.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Limits.MaxConcurrentConnections = null);
        builder.WebHost.UseUrls(options.Url);
        var app = builder.Build();
        var server = new SampleModelServer(app, options, profile);
        app.Use(async (ctx, next) =>
        {
            ctx.Response.Headers[SampleHeader] = "true";
            await next(ctx);
        });
        app.MapGet("/v1/models", server.ListModels);
        app.MapPost("/v1/chat/completions", server.ChatCompletions);
        app.MapPost("/v1/files", server.UploadFile);
        app.MapGet("/v1/files/{id}", server.GetFile);
        app.MapPost("/v1/fine_tuning/jobs", server.CreateFineTuningJob);
        app.MapGet("/v1/fine_tuning/jobs/{id}", server.GetFineTuningJob);
        app.MapGet("/v1/fine_tuning/jobs/{id}/events", server.ListFineTuningEvents);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/v1");
        return server;
    }

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    private async Task ListModels(HttpContext ctx)
    {
        ctx.Response.ContentType = "application/json";
        await using var w = new Utf8JsonWriter(ctx.Response.Body);
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (var m in _profile.Models)
        {
            w.WriteStartObject();
            w.WriteString("id", m.Id);
            w.WriteString("object", "model");
            w.WriteNumber("created", 1_700_000_000);
            w.WriteString("owned_by", Owner);
            w.WriteString("description", "SAMPLE model (not real): " + m.Description);
            w.WriteEndObject();
        }
        foreach (var v in _fineTuning.Variants())
        {
            w.WriteStartObject();
            w.WriteString("id", v.Name);
            w.WriteString("object", "model");
            w.WriteNumber("created", 1_700_000_000);
            w.WriteString("owned_by", Owner);
            w.WriteString("description", $"SAMPLE fine-tune (not real) of {v.BaseModel}");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private async Task ChatCompletions(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        SampleRequest request;
        bool includeUsage;
        try
        {
            using var doc = await JsonDocument.ParseAsync(ctx.Request.Body, cancellationToken: ct);
            (request, includeUsage) = Parse(doc.RootElement, Interlocked.Increment(ref _sequence));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            await WriteError(ctx, 400, "invalid request body: " + e.Message);
            return;
        }
        if (_options.RecordRequests)
        {
            _requests.Enqueue(request);
        }
        var variant = _fineTuning.Variant(request.Model);
        if (variant is null && !Models.Contains(request.Model))
        {
            await WriteError(ctx, 404, $"The model '{request.Model}' does not exist on this SAMPLE server.");
            return;
        }
        var reply = _options.Responder?.Invoke(request) ?? _profile.Answer(request, variant);
        var delay = _options.Latency + reply.Delay;
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, ct);
        }
        if (reply.StatusCode != 200)
        {
            if (reply.RetryAfter is { } retryAfter)
            {
                ctx.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
            await WriteError(ctx, reply.StatusCode, $"SAMPLE server scripted error {reply.StatusCode}");
            return;
        }
        if (reply.RawBody is not null)
        {
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(reply.RawBody, ct);
            return;
        }
        var id = "chatcmpl-sample-" + request.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var promptTokens = request.Messages.Sum(m => CountTokens(m.Content));
        var completionTokens = CountTokens(reply.Content ?? "") + (reply.ToolCalls?.Sum(t => CountTokens(t.ArgumentsJson)) ?? 0);
        if (request.Stream)
        {
            await WriteStream(ctx, request, reply, id, promptTokens, completionTokens, includeUsage);
        }
        else
        {
            await WriteCompletion(ctx, request, reply, id, promptTokens, completionTokens);
        }
    }

    private static (SampleRequest, bool) Parse(JsonElement root, long sequence)
    {
        var messages = new List<SampleMessage>();
        foreach (var m in root.GetProperty("messages").EnumerateArray())
        {
            var role = m.GetProperty("role").GetString() ?? "user";
            var content = "";
            if (m.TryGetProperty("content", out var c))
            {
                content = c.ValueKind switch
                {
                    JsonValueKind.String => c.GetString() ?? "",
                    JsonValueKind.Array => string.Concat(c.EnumerateArray()
                        .Where(p => p.TryGetProperty("text", out _)).Select(p => p.GetProperty("text").GetString())),
                    _ => "",
                };
            }
            var toolCallId = m.TryGetProperty("tool_call_id", out var tc) ? tc.GetString() : null;
            messages.Add(new SampleMessage(role, content, toolCallId));
        }
        var tools = new List<string>();
        if (root.TryGetProperty("tools", out var t) && t.ValueKind == JsonValueKind.Array)
        {
            foreach (var tool in t.EnumerateArray())
            {
                if (tool.TryGetProperty("function", out var f) && f.TryGetProperty("name", out var n))
                {
                    tools.Add(n.GetString() ?? "");
                }
            }
        }
        var stream = root.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;
        var includeUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        return (new SampleRequest
        {
            Model = root.GetProperty("model").GetString() ?? "",
            Messages = messages,
            ToolNames = tools,
            Stream = stream,
            Sequence = sequence,
        }, includeUsage);
    }

    private static int CountTokens(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private const long MaxJobRequestBytes = 64 * 1024;

    /// <summary>POST /v1/files: multipart form with purpose=fine-tune and a JSONL file of chat examples.</summary>
    private async Task UploadFile(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = _options.MaxTrainingFileBytes + MaxJobRequestBytes;
        }
        if (!ctx.Request.HasFormContentType)
        {
            await WriteError(ctx, new SampleApiError(400, "Expected multipart/form-data with 'purpose' and 'file'.", "file"));
            return;
        }
        IFormCollection form;
        try
        {
            form = await ctx.Request.ReadFormAsync(ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            await WriteError(ctx, new SampleApiError(413, $"The upload exceeds {_options.MaxTrainingFileBytes} bytes.", "file"));
            return;
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException)
        {
            await WriteError(ctx, new SampleApiError(400, "Malformed multipart body: " + e.Message, "file"));
            return;
        }
        var file = form.Files.GetFile("file");
        if (file is null)
        {
            await WriteError(ctx, new SampleApiError(400, "'file' is required.", "file"));
            return;
        }
        if (file.Length > _options.MaxTrainingFileBytes)
        {
            await WriteError(ctx, new SampleApiError(413, $"The file is {file.Length} bytes; this SAMPLE server accepts at most {_options.MaxTrainingFileBytes}.", "file"));
            return;
        }
        using var buffer = new MemoryStream((int)file.Length);
        await file.CopyToAsync(buffer, ct);
        var (created, error) = _fineTuning.Upload(form["purpose"].ToString(), file.FileName, buffer.ToArray());
        await WriteResult(ctx, created, error);
    }

    private async Task GetFile(HttpContext ctx, string id) =>
        await WriteResult(ctx, _fineTuning.GetFile(id), new SampleApiError(404, $"No such File object: {id}", "id"));

    private async Task CreateFineTuningJob(HttpContext ctx)
    {
        if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = MaxJobRequestBytes;
        }
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(ctx.Request.Body, new JsonDocumentOptions { MaxDepth = 16 }, ctx.RequestAborted);
        }
        catch (Exception e) when (e is JsonException or BadHttpRequestException)
        {
            await WriteError(ctx, new SampleApiError(400, "The request body is not valid JSON (or is larger than 64 KiB).", null));
            return;
        }
        using (doc)
        {
            var (job, error) = _fineTuning.Create(doc.RootElement);
            await WriteResult(ctx, job, error);
        }
    }

    private async Task GetFineTuningJob(HttpContext ctx, string id) =>
        await WriteResult(ctx, _fineTuning.Get(id), NoSuchJob(id));

    private async Task ListFineTuningEvents(HttpContext ctx, string id)
    {
        var limit = 20;
        if (ctx.Request.Query.TryGetValue("limit", out var l)
            && (!int.TryParse(l.ToString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100))
        {
            await WriteError(ctx, new SampleApiError(400, "'limit' must be an integer from 1 to 100.", "limit"));
            return;
        }
        var after = ctx.Request.Query.TryGetValue("after", out var a) ? a.ToString() : null;
        await WriteResult(ctx, _fineTuning.Events(id, after, limit), NoSuchJob(id));
    }

    private static SampleApiError NoSuchJob(string id) => new(404, $"Could not find fine-tuning job: {id}", "fine_tuning_job_id", "fine_tune_not_found");

    private static async Task WriteResult(HttpContext ctx, System.Text.Json.Nodes.JsonObject? value, SampleApiError? error)
    {
        if (value is null)
        {
            await WriteError(ctx, error!);
            return;
        }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(value.ToJsonString(), ctx.RequestAborted);
    }

    private static async Task WriteError(HttpContext ctx, SampleApiError error)
    {
        ctx.Response.StatusCode = error.Status;
        ctx.Response.ContentType = "application/json";
        var body = new System.Text.Json.Nodes.JsonObject
        {
            ["error"] = new System.Text.Json.Nodes.JsonObject
            {
                ["message"] = error.Message,
                ["type"] = error.Status >= 500 ? "server_error" : "invalid_request_error",
                ["param"] = error.Param,
                ["code"] = error.Code,
            },
        };
        await ctx.Response.WriteAsync(body.ToJsonString(), ctx.RequestAborted);
    }

    private static async Task WriteError(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await using var w = new Utf8JsonWriter(ctx.Response.Body);
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", status == 429 ? "rate_limit_exceeded" : status >= 500 ? "server_error" : "invalid_request_error");
        w.WriteNull("param");
        w.WriteNull("code");
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, int prompt, int completion)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", prompt);
        w.WriteNumber("completion_tokens", completion);
        w.WriteNumber("total_tokens", prompt + completion);
        w.WriteEndObject();
    }

    private static void WriteToolCalls(Utf8JsonWriter w, IReadOnlyList<SampleToolCall> calls, long sequence, bool withIndex)
    {
        w.WriteStartArray("tool_calls");
        for (var i = 0; i < calls.Count; i++)
        {
            w.WriteStartObject();
            if (withIndex)
            {
                w.WriteNumber("index", i);
            }
            w.WriteString("id", $"call_sample_{sequence}_{i}");
            w.WriteString("type", "function");
            w.WriteStartObject("function");
            w.WriteString("name", calls[i].Name);
            w.WriteString("arguments", calls[i].ArgumentsJson);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static async Task WriteCompletion(HttpContext ctx, SampleRequest request, SampleReply reply, string id, int prompt, int completion)
    {
        ctx.Response.ContentType = "application/json";
        await using var w = new Utf8JsonWriter(ctx.Response.Body);
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", "chat.completion");
        w.WriteNumber("created", 1_700_000_000);
        w.WriteString("model", request.Model);
        w.WriteString("system_fingerprint", "embargo-sample");
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", 0);
        w.WriteStartObject("message");
        w.WriteString("role", "assistant");
        if (reply.Content is null)
        {
            w.WriteNull("content");
        }
        else
        {
            w.WriteString("content", reply.Content);
        }
        if (reply.ToolCalls is { Count: > 0 })
        {
            WriteToolCalls(w, reply.ToolCalls, request.Sequence, withIndex: false);
        }
        w.WriteEndObject();
        w.WriteNull("logprobs");
        w.WriteString("finish_reason", reply.ToolCalls is { Count: > 0 } ? "tool_calls" : "stop");
        w.WriteEndObject();
        w.WriteEndArray();
        WriteUsage(w, prompt, completion);
        w.WriteEndObject();
    }

    private static async Task WriteStream(HttpContext ctx, SampleRequest request, SampleReply reply, string id, int prompt, int completion, bool includeUsage)
    {
        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        var body = ctx.Response.Body;
        async Task Chunk(Action<Utf8JsonWriter> choices, bool usage)
        {
            using var buffer = new MemoryStream();
            await using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("id", id);
                w.WriteString("object", "chat.completion.chunk");
                w.WriteNumber("created", 1_700_000_000);
                w.WriteString("model", request.Model);
                w.WriteString("system_fingerprint", "embargo-sample");
                w.WriteStartArray("choices");
                choices(w);
                w.WriteEndArray();
                if (usage)
                {
                    WriteUsage(w, prompt, completion);
                }
                w.WriteEndObject();
            }
            await body.WriteAsync("data: "u8.ToArray());
            await body.WriteAsync(buffer.ToArray());
            await body.WriteAsync("\n\n"u8.ToArray());
            await body.FlushAsync();
        }
        void Choice(Utf8JsonWriter w, Action<Utf8JsonWriter> delta, string? finish)
        {
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            w.WriteStartObject("delta");
            delta(w);
            w.WriteEndObject();
            w.WriteNull("logprobs");
            if (finish is null)
            {
                w.WriteNull("finish_reason");
            }
            else
            {
                w.WriteString("finish_reason", finish);
            }
            w.WriteEndObject();
        }
        await Chunk(w => Choice(w, d => { d.WriteString("role", "assistant"); d.WriteString("content", ""); }, null), false);
        if (!string.IsNullOrEmpty(reply.Content))
        {
            // Split into word-sized pieces, as a real model streams tokens.
            var pieces = System.Text.RegularExpressions.Regex.Split(reply.Content, @"(?<=\s)");
            foreach (var piece in pieces.Where(p => p.Length > 0))
            {
                await Chunk(w => Choice(w, d => d.WriteString("content", piece), null), false);
            }
        }
        if (reply.ToolCalls is { Count: > 0 } calls)
        {
            await Chunk(w => Choice(w, d => WriteToolCalls(d, calls, request.Sequence, withIndex: true), null), false);
        }
        await Chunk(w => Choice(w, _ => { }, reply.ToolCalls is { Count: > 0 } ? "tool_calls" : "stop"), false);
        if (includeUsage)
        {
            await Chunk(_ => { }, true);
        }
        await body.WriteAsync("data: [DONE]\n\n"u8.ToArray());
        await body.FlushAsync();
    }
}
