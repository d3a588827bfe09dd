using System.Buffers;
using System.Collections.Frozen;
using System.IO.Pipelines;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;

namespace Embargo.Gateway;

/// <summary>
/// POST /v1/chat/completions and GET /v1/models. In order, before the upstream is called: key → grant (401), model in the
/// grant and tier certified (403), rate and quota (429), input screens (400 / 503). After: output screens before the caller
/// sees anything (a stream holds back a window of text), then one audit line.
/// </summary>
public sealed class ChatPipeline
{
    public const int MaxRequestBytes = 4 << 20;
    public const int MaxResponseBytes = 16 << 20;
    /// <summary>A stream's lines together: what it keeps (its text for the screens and the digest, and with a classifier every
    /// event until the end) grows with it, so an upstream that never stops is cut here, as an upstream error.</summary>
    public const long MaxStreamBytes = 64L << 20;
    /// <summary>Characters before the first unsent one that are screened again with new text (normalisation context).</summary>
    private const int Overlap = 16;

    /// <summary>No object may repeat a key: what the screens read must be what the upstream (or the caller) reads, whichever of
    /// two equal keys a parser keeps.</summary>
    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    private readonly GatewayConfig _config;
    private readonly HttpClient _http;
    private readonly HttpMessageInvoker _direct;
    private readonly IGatewayLimiter _limiter;
    private readonly AuditLog _audit;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly FrozenDictionary<string, Grant> _grantsByHash;
    private readonly FrozenDictionary<string, Grant>.AlternateLookup<ReadOnlySpan<char>> _grants;

    /// <summary>Called each time a stream's relay has read from the upstream and released what it could: a test's upstream
    /// waits for it before its next chunk, so the gateway reads the chunks one by one without the test timing anything.</summary>
    internal Action? AfterStreamRead { get; init; }

    /// <param name="http">Classifiers' client.</param>
    /// <param name="direct">Sends chat requests upstream over <paramref name="http"/>'s connection pool without HttpClient's
    /// wrapper (<see cref="GatewayHost.CreateUpstreamClient(out HttpMessageInvoker)"/>).</param>
    public ChatPipeline(GatewayConfig config, HttpClient http, HttpMessageInvoker direct, IGatewayLimiter limiter, AuditLog audit, GatewayMetrics metrics,
        TimeProvider time)
    {
        _config = config;
        _http = http;
        _direct = direct;
        _limiter = limiter;
        _audit = audit;
        _metrics = metrics;
        _time = time;
        _grantsByHash = config.GrantsByKeySha256;
        _grants = _grantsByHash.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    private Grant? Authenticate(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var key = header.AsSpan(7).Trim();
        if (key.IsEmpty || key.Length > 1024)
        {
            return null;
        }
        // An HTTP/1.1 connection's requests come one after another and nearly always carry the same key: its hash is kept
        // with the connection (the grant is still looked up every time, so a changed grant applies at once).
        var memo = HttpProtocol.IsHttp11(ctx.Request.Protocol) ? KeyMemo.Of(ctx) : null;
        if (memo?.Hash is { } known && memo.Matches(key))
        {
            return _grantsByHash.TryGetValue(known, out var g) ? g : null;
        }
        var hash = InlineSha256.Of(key);
        Span<char> hex = stackalloc char[64];
        Convert.TryToHexStringLower(hash, hex, out _);
        if (!_grants.TryGetValue(hex, out var grant))
        {
            return null;
        }
        memo?.Remember(key, new string(hex));
        return grant;
    }

    /// <summary>The last granted key seen on one HTTP/1.1 connection and its SHA-256 (hex).</summary>
    private sealed class KeyMemo
    {
        private static readonly object Slot = new();
        private char[] _key = [];
        public string? Hash { get; private set; }

        public static KeyMemo? Of(HttpContext ctx)
        {
            if (ctx.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>()?.Items is not { } items)
            {
                return null;
            }
            if (items.TryGetValue(Slot, out var memo))
            {
                return memo as KeyMemo;
            }
            var created = new KeyMemo();
            items[Slot] = created;
            return created;
        }

        public bool Matches(ReadOnlySpan<char> key) =>
            key.Length == _key.Length && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(key), System.Runtime.InteropServices.MemoryMarshal.AsBytes(_key.AsSpan()));

        public void Remember(ReadOnlySpan<char> key, string hash)
        {
            _key = key.ToArray();
            Hash = hash;
        }
    }

    /// <summary>GET /v1/models: the models the caller's key may use now — granted, and certified for the grant's tier (a model
    /// whose certificate was flagged or revoked is not listed: it is not served).</summary>
    public async Task ListModelsAsync(HttpContext ctx)
    {
        var grant = Authenticate(ctx);
        if (grant is null)
        {
            await OpenAiErrors.WriteAsync(ctx, 401, Decisions.InvalidApiKey, "Incorrect API key provided.");
            return;
        }
        await WriteModelsAsync(ctx, Usable(grant), list: true);
    }

    /// <summary>GET /v1/models/{model}: the model, when the caller's key may use it now; else 404 <c>model_not_found</c>,
    /// the same for a model that does not exist and one the key may not use.</summary>
    public async Task RetrieveModelAsync(HttpContext ctx, string model)
    {
        var grant = Authenticate(ctx);
        if (grant is null)
        {
            await OpenAiErrors.WriteAsync(ctx, 401, Decisions.InvalidApiKey, "Incorrect API key provided.");
            return;
        }
        var upstream = Usable(grant).FirstOrDefault(u => u.Name == model);
        if (upstream is null)
        {
            await OpenAiErrors.WriteAsync(ctx, 404, "model_not_found", $"The model '{Printable(model)}' does not exist or this key may not use it.", "model");
            return;
        }
        await WriteModelsAsync(ctx, [upstream], list: false);
    }

    /// <summary>Anything else under /v1: 405 for a path served with another method, else 404, both in the OpenAI shape.</summary>
    public static Task NotServedAsync(HttpContext ctx)
    {
        var path = ctx.Request.Path.Value ?? "";
        var method = ctx.Request.Method;
        var allowed = path switch
        {
            "/v1/chat/completions" => "POST",
            "/v1/models" => "GET",
            _ when path.StartsWith("/v1/models/", StringComparison.Ordinal) && path.Length > "/v1/models/".Length => "GET",
            _ => null,
        };
        var shown = path.Any(char.IsControl) ? "(a path)" : path.Length > 64 ? path[..64] + "…" : path;
        if (allowed is not null)
        {
            ctx.Response.Headers.Allow = allowed;
            return OpenAiErrors.WriteAsync(ctx, 405, "method_not_allowed", $"Invalid method for URL ({method} {shown}): use {allowed}.");
        }
        return OpenAiErrors.WriteAsync(ctx, 404, "unknown_url",
            $"Unknown request URL: {method} {shown}. This gateway serves POST /v1/chat/completions, GET /v1/models and GET /v1/models/{{model}}.");
    }

    private IEnumerable<Upstream> Usable(Grant grant) =>
        _config.Upstreams.Where(u => grant.Models.Contains(u.Name) && u.Certificate.RefusalFor(grant.Tier) is null);

    private static async Task WriteModelsAsync(HttpContext ctx, IEnumerable<Upstream> upstreams, bool list)
    {
        ctx.Response.ContentType = "application/json";
        using var buffer = new PooledBuffer();
        using (var w = new Utf8JsonWriter(buffer))
        {
            if (list)
            {
                w.WriteStartObject();
                w.WriteString("object", "list");
                w.WriteStartArray("data");
            }
            foreach (var upstream in upstreams)
            {
                w.WriteStartObject();
                w.WriteString("id", upstream.Name);
                w.WriteString("object", "model");
                w.WriteNumber("created", 0);
                w.WriteString("owned_by", "embargo-gateway");
                w.WriteEndObject();
            }
            if (list)
            {
                w.WriteEndArray();
                w.WriteEndObject();
            }
        }
        ctx.Response.ContentLength = buffer.WrittenCount;
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted);
    }

    /// <summary>What one chat request is about, for its audit line and metrics.</summary>
    private sealed class Exchange
    {
        public Grant? Grant;
        public string? Model;
        public bool Stream;
        /// <summary>What the input screens read; its first part is <see cref="Prompt"/>. Disposed when the request ends.</summary>
        public PooledText? Screened;
        /// <summary>The prompt's text (owned by <see cref="Screened"/>; valid until the request ends).</summary>
        public ReadOnlyMemory<char>? Prompt;
        public bool ClientWantsUsage;
        public long? PromptTokens, CompletionTokens, TotalTokens;
        /// <summary>The request body's bytes, and the bytes of the answer's strings that arrived: the quota's estimate when the
        /// upstream reports no usage (<see cref="AddUsageAsync"/>).</summary>
        public long RequestBytes, AnswerBytes;
        /// <summary>The request was sent upstream: the model worked on it, whatever happens next.</summary>
        public bool WentUpstream;
        /// <summary>Its audit line is written (one per request).</summary>
        public bool Finished;
    }

    private void Finish(Exchange x, string decision, string? screen, int status, ReadOnlyMemory<char>? completion)
    {
        x.Finished = true;
        var label = x.Model is not null && _config.UpstreamsByName.ContainsKey(x.Model) ? x.Model : x.Model is null ? null : "(other)";
        _metrics.Count(x.Grant?.Grantee, label, decision, screen, x.Grant?.Access);
        if (!_audit.Enabled)
        {
            return;
        }
        var text = x.Grant?.AuditText == true;
        _audit.Record(new AuditRecord
        {
            Time = _time.GetUtcNow(),
            Grantee = x.Grant?.Grantee,
            Access = x.Grant?.Access,
            Model = label,
            Decision = decision,
            Screen = screen,
            Stream = x.Stream,
            Status = status,
            PromptSha256 = x.Prompt is { } prompt ? InlineSha256.Of(prompt.Span) : null,
            CompletionSha256 = completion is { } said ? InlineSha256.Of(said.Span) : null,
            Prompt = text ? x.Prompt?.ToString() : null,
            Completion = text ? completion?.ToString() : null,
            PromptTokens = x.PromptTokens,
            CompletionTokens = x.CompletionTokens,
            TotalTokens = x.TotalTokens,
        });
    }

    private async Task RefuseAsync(HttpContext ctx, Exchange x, int status, string decision, string message, string? param = null, string? screen = null, int? retryAfter = null)
    {
        Finish(x, decision, screen, status, null);
        await OpenAiErrors.WriteAsync(ctx, status, decision, message, param, retryAfter);
    }

    public async Task ChatAsync(HttpContext ctx)
    {
        var ct = ctx.RequestAborted;
        var x = new Exchange { Grant = Authenticate(ctx) };
        try
        {
            await ChatAsync(ctx, x, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested && !x.Finished)
        {
            // The caller went away mid-request (while the upstream worked, say): the request still gets its audit line, and
            // what the upstream was asked to do still counts against the quota.
            Finish(x, Decisions.ClientClosed, null, 499, null);
            if (x.WentUpstream)
            {
                await AddUsageAsync(x.Grant!, x);
            }
        }
        finally
        {
            x.Screened?.Dispose();
        }
    }

    private async Task ChatAsync(HttpContext ctx, Exchange x, CancellationToken ct)
    {
        if (x.Grant is null)
        {
            await RefuseAsync(ctx, x, 401, Decisions.InvalidApiKey, "Incorrect API key provided.");
            return;
        }
        if (_audit.Failing)
        {
            await RefuseAsync(ctx, x, 503, Decisions.AuditUnavailable, "The audit file cannot be written; nothing is served until it can.");
            return;
        }
        var grant = x.Grant;
        using var body = new PooledBuffer(16 * 1024);
        if (!await ReadBodyAsync(ctx.Request, body, ct))
        {
            await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, $"The request body is larger than {MaxRequestBytes} bytes.");
            return;
        }
        x.RequestBytes = body.WrittenCount;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.WrittenMemory, JsonOptions);
        }
        catch (JsonException)
        {
            await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, "The request body is not valid JSON, or an object in it repeats a key.");
            return;
        }
        if (!JsonText.IsValidText(body.WrittenSpan))
        {
            doc.Dispose();
            await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, "The request body is not valid Unicode: a string in it holds invalid UTF-8 or a lone surrogate.");
            return;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, "The request body must be a JSON object.");
                return;
            }
            if (!root.TryGetProperty("model", out var modelElement) || modelElement.ValueKind != JsonValueKind.String || modelElement.GetString() is not { Length: > 0 and <= 256 } model)
            {
                await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, "'model' is required: a string naming a granted model.", "model");
                return;
            }
            x.Model = model;
            if (!root.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            {
                await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, "'messages' is required: an array of messages.", "messages");
                return;
            }
            // Only true streams. A "stream" of another kind ("yes", 1) is refused rather than read as false: a lenient upstream
            // (pydantic coerces both to true) would stream what the gateway waits for as one answer.
            if (root.TryGetProperty("stream", out var s) && s.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            {
                await RefuseAsync(ctx, x, 400, Decisions.InvalidRequest, "'stream' must be true or false.", "stream");
                return;
            }
            x.Stream = s.ValueKind == JsonValueKind.True;
            x.ClientWantsUsage = root.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
                && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;

            if (!grant.Models.Contains(model) || !_config.UpstreamsByName.TryGetValue(model, out var upstream))
            {
                await RefuseAsync(ctx, x, 403, Decisions.ModelNotGranted, $"The model '{Printable(model)}' is not granted to this key.", "model");
                return;
            }
            if (upstream.Certificate.RefusalFor(grant.Tier) is { } refusal)
            {
                await RefuseAsync(ctx, x, 403, Decisions.TierNotCertified, $"The model '{model}' is not certified for tier {grant.Tier.ToString().ToLowerInvariant()}: {refusal}.", "model");
                return;
            }
            LimitDecision limit;
            try
            {
                limit = await _limiter.AcquireAsync(grant, ct);
            }
            catch (RedisException)
            {
                await RefuseAsync(ctx, x, 503, Decisions.LimiterUnavailable, "The shared rate limiter could not be reached; nothing was sent upstream.");
                return;
            }
            if (!limit.Allowed)
            {
                await RefuseAsync(ctx, x, 429, Decisions.RateLimited, $"Rate limit reached: {limit.Reason}. Retry after {limit.RetryAfterSeconds} s.", retryAfter: limit.RetryAfterSeconds);
                return;
            }
            var screens = _config.Screens.For(model);
            var screensInput = screens.FirstInputScreen is not null;
            var prompt = x.Screened = ScreenedText.Request(root, messages, rest: screensInput, out var promptLength, out var unreadable);
            x.Prompt = prompt.Memory[..promptLength];
            if (screensInput && unreadable is not null)
            {
                var name = screens.FirstInputScreen!;
                await RefuseAsync(ctx, x, 400, Decisions.ContentBlocked,
                    $"The screen '{name}' reads text only: a message part of type '{unreadable}' cannot be screened, so nothing was sent upstream.", "messages", name);
                return;
            }
            if (screensInput && ScreenedText.BringsItsOwnTemplate(root))
            {
                var name = screens.FirstInputScreen!;
                await RefuseAsync(ctx, x, 400, Decisions.ContentBlocked,
                    $"The screen '{name}' reads the request's text, not the prompt a caller's own chat template would build from it: 'chat_template' is refused here, so nothing was sent upstream.", "chat_template", name);
                return;
            }
            if (screens.HasOutput && ScreenedText.AsksForAudio(root))
            {
                var name = screens.FirstOutputScreen!;
                await RefuseAsync(ctx, x, 400, Decisions.ContentBlocked,
                    $"The screen '{name}' reads text only: spoken output cannot be screened, so nothing was sent upstream.", "modalities", name);
                return;
            }
            var input = await ModelScreens.RunAsync(screens.InputRules, screens.InputClassifiers, _http, prompt.Memory, ct);
            if (input.BlockedBy is { } blockedBy)
            {
                await RefuseAsync(ctx, x, 400, Decisions.ContentBlocked, $"The request was blocked by the screen '{blockedBy}'.", "messages", blockedBy);
                return;
            }
            if (input.UnavailableScreen is { } unavailable)
            {
                await RefuseAsync(ctx, x, 503, Decisions.ScreenUnavailable, $"The screen '{unavailable}' could not decide; nothing was sent upstream.", screen: unavailable);
                return;
            }

            using var upstreamBody = new PooledBuffer(body.WrittenCount + 128);
            WriteUpstreamBody(upstreamBody, body.WrittenSpan, root, modelElement, upstream.Model, x.Stream);
            using var request = new HttpRequestMessage(HttpMethod.Post, upstream.ChatUrl)
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrHigher,
                Content = new ReadOnlyMemoryContent(upstreamBody.WrittenMemory),
            };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            if (upstream.ApiKey is not null)
            {
                request.Headers.Authorization = new("Bearer", upstream.ApiKey);
            }
            HttpResponseMessage response;
            try
            {
                x.WentUpstream = true;
                response = await _direct.SendAsync(request, ct);
            }
            catch (HttpRequestException)
            {
                await RefuseAsync(ctx, x, 502, Decisions.UpstreamError, $"The upstream for '{model}' could not be reached.");
                return;
            }
            using (response)
            {
                if (!response.IsSuccessStatusCode)
                {
                    await RefuseAsync(ctx, x, 502, Decisions.UpstreamError, $"The upstream for '{model}' answered {(int)response.StatusCode}.");
                    return;
                }
                if (x.Stream)
                {
                    await RelayStreamAsync(ctx, x, screens, response, ct);
                }
                else
                {
                    await RelayCompletionAsync(ctx, x, screens, response, ct);
                }
            }
        }
    }

    private static string Printable(string text) => text.Length > 64 || text.Any(char.IsControl) ? "(a model name)" : text;

    private static async Task<bool> ReadBodyAsync(HttpRequest request, PooledBuffer buffer, CancellationToken ct)
    {
        if (request.ContentLength > MaxRequestBytes)
        {
            return false;
        }
        while (true)
        {
            var memory = buffer.GetMemory(8192);
            var read = await request.Body.ReadAsync(memory, ct);
            if (read == 0)
            {
                return true;
            }
            buffer.Advance(read);
            if (buffer.WrittenCount > MaxRequestBytes)
            {
                return false;
            }
        }
    }

    /// <summary>The client's body with the upstream's model name. Not streamed: the client's own bytes with only the model's value
    /// replaced (no object repeats a key, so it is the one value the grant was checked against). Streamed: written anew, asking
    /// for usage so quotas can count it.</summary>
    private static void WriteUpstreamBody(PooledBuffer buffer, ReadOnlySpan<byte> body, JsonElement root, JsonElement model, string upstreamModel, bool stream)
    {
        if (!stream)
        {
            var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(model); // the quoted token, inside body
            var start = (long)System.Runtime.CompilerServices.Unsafe.ByteOffset(
                ref System.Runtime.InteropServices.MemoryMarshal.GetReference(body), ref System.Runtime.InteropServices.MemoryMarshal.GetReference(raw));
            if (start >= 0 && start + raw.Length <= body.Length)
            {
                buffer.Write(body[..(int)start]);
                var value = ThreadJsonWriter.Over(buffer);
                value.WriteStringValue(upstreamModel);
                value.Flush();
                buffer.Write(body[((int)start + raw.Length)..]);
                return;
            }
        }
        var w = ThreadJsonWriter.Over(buffer);
        w.WriteStartObject();
        foreach (var p in root.EnumerateObject())
        {
            if (p.NameEquals("model"))
            {
                w.WriteString("model", upstreamModel);
            }
            else if (!(stream && p.NameEquals("stream_options")))
            {
                p.WriteTo(w);
            }
        }
        if (stream)
        {
            w.WriteStartObject("stream_options");
            w.WriteBoolean("include_usage", true);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.Flush();
    }

    private void ReadUsage(JsonElement root, Exchange x)
    {
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            x.PromptTokens = Number(usage, "prompt_tokens");
            x.CompletionTokens = Number(usage, "completion_tokens");
            x.TotalTokens = Number(usage, "total_tokens") ?? (x.PromptTokens ?? 0) + (x.CompletionTokens ?? 0);
        }

        static long? Number(JsonElement e, string name) =>
            e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0 ? n : null;
    }

    /// <summary>Counts a request that went upstream against the grant's daily tokens: the usage the upstream reported, or, when
    /// it reported none (a stream the caller left or a screen cut short, an upstream that does not count), an estimate that
    /// errs high whatever the script or the tokenizer — a token per byte of the request body (every string the model reads
    /// is in it, tools and schemas included; its JSON syntax stands for the chat template's markers) and per byte of the
    /// answer's strings that arrived (content, reasoning, tool calls: every string of the choices). Byte-level BPE and
    /// SentencePiece with byte fallback never make a token of less than a byte; a count of characters would let a caller who
    /// hangs up on purpose pay a third of what CJK text or a long tool schema costs. No count is not a count of zero.</summary>
    private async Task AddUsageAsync(Grant grant, Exchange x)
    {
        var tokens = x.TotalTokens ?? Math.Max(1, x.RequestBytes + x.AnswerBytes);
        try
        {
            await _limiter.AddUsageAsync(grant, tokens, CancellationToken.None);
        }
        catch (RedisException)
        {
            // The answer was already screened and sent; the usage is still in the audit line.
        }
    }

    private async Task RelayCompletionAsync(HttpContext ctx, Exchange x, ModelScreens screens, HttpResponseMessage response, CancellationToken ct)
    {
        using var answer = new PooledBuffer(16 * 1024);
        JsonDocument doc;
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            while (true)
            {
                var read = await stream.ReadAsync(answer.GetMemory(16 * 1024), ct);
                if (read == 0)
                {
                    break;
                }
                answer.Advance(read);
                if (answer.WrittenCount > MaxResponseBytes)
                {
                    await RefuseAsync(ctx, x, 502, Decisions.UpstreamError, $"The upstream's answer is larger than {MaxResponseBytes} bytes.");
                    return;
                }
            }
            doc = JsonDocument.Parse(answer.WrittenMemory, JsonOptions);
            if (!JsonText.IsValidText(answer.WrittenSpan))
            {
                doc.Dispose();
                throw new JsonException("a string is not valid Unicode");
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            await RefuseAsync(ctx, x, 502, Decisions.UpstreamError, "The upstream's answer could not be read.");
            return;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
            {
                await RefuseAsync(ctx, x, 502, Decisions.UpstreamError, "The upstream's answer is not a chat completion.");
                return;
            }
            using var text = new PooledText(answer.WrittenCount);
            foreach (var choice in choices.EnumerateArray())
            {
                if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("message", out var message))
                {
                    ScreenedText.AppendCompletion(message, text);
                }
            }
            var completionLength = text.Length;
            if (screens.HasOutput)
            {
                // The screens read every string the caller would get, not only the completion's.
                text.Append('\n');
                ScreenedText.AppendAnswerRest(root, text);
            }
            var completion = text.Memory[..completionLength];
            ReadUsage(root, x);
            if (x.TotalTokens is null)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    x.AnswerBytes += JsonText.StringBytes(choice);
                }
            }
            await AddUsageAsync(x.Grant!, x);
            await screens.LeaveSocketThreadAsync();
            var verdict = await ModelScreens.RunAsync(screens.OutputRules, screens.OutputClassifiers, _http, text.Memory, ct);
            if (verdict.UnavailableScreen is { } unavailable)
            {
                Finish(x, Decisions.ScreenUnavailable, unavailable, 503, completion);
                await OpenAiErrors.WriteAsync(ctx, 503, Decisions.ScreenUnavailable, $"The screen '{unavailable}' could not decide; the completion is withheld.");
                return;
            }
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/json";
            if (verdict.BlockedBy is { } blockedBy)
            {
                Finish(x, Decisions.ContentFilter, blockedBy, 200, completion);
                using var withheld = new PooledBuffer();
                WriteWithheld(withheld, root, x.Model!, screens.OutputRules);
                ctx.Response.ContentLength = withheld.WrittenCount;
                await ctx.Response.Body.WriteAsync(withheld.WrittenMemory, ct);
                return;
            }
            Finish(x, Decisions.Allowed, null, 200, completion);
            // A known length: one write, no chunked framing (and no separate final chunk).
            ctx.Response.ContentLength = answer.WrittenCount;
            await ctx.Response.Body.WriteAsync(answer.WrittenMemory, ct);
        }
    }

    /// <summary>The completion with every choice's content withheld and finish_reason "content_filter". Nothing else of the
    /// upstream's answer is kept but its id (when no rule matches it), its created time and its usage counts: the blocked text
    /// may have been anywhere in it.</summary>
    private static void WriteWithheld(PooledBuffer buffer, JsonElement root, string model, RuleScreen[] rules)
    {
        using var w = new Utf8JsonWriter(buffer);
        w.WriteStartObject();
        w.WriteString("id", (root.TryGetProperty("id", out var id) ? Unflagged(id, rules) : null) ?? "chatcmpl-withheld");
        w.WriteString("object", "chat.completion");
        if (root.TryGetProperty("created", out var created) && created.ValueKind == JsonValueKind.Number)
        {
            w.WritePropertyName("created");
            created.WriteTo(w);
        }
        w.WriteString("model", model);
        w.WriteStartArray("choices");
        var index = 0;
        foreach (var _ in root.GetProperty("choices").EnumerateArray())
        {
            w.WriteStartObject();
            w.WriteNumber("index", index++);
            w.WriteStartObject("message");
            w.WriteString("role", "assistant");
            w.WriteNull("content");
            w.WriteEndObject();
            w.WriteNull("logprobs");
            w.WriteString("finish_reason", "content_filter");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            w.WriteStartObject("usage");
            foreach (var p in usage.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Number)
                {
                    p.WriteTo(w);
                }
            }
            w.WriteEndObject();
        }
        w.WriteEndObject();
    }

    /// <summary>The string when it is one and no rule matches it on its own; otherwise null.</summary>
    private static string? Unflagged(JsonElement value, RuleScreen[] rules) =>
        value.ValueKind == JsonValueKind.String ? Unflagged(value.GetString()!, rules) : null;

    private static string? Unflagged(string value, RuleScreen[] rules) => ModelScreens.FirstRuleMatchOf(rules, value) is null ? value : null;

    /// <summary>One upstream SSE event held back until enough text follows it in every channel it added text to.</summary>
    private readonly record struct HeldEvent(byte[] Data, StreamedText.Touch[] Touches);

    private async Task RelayStreamAsync(HttpContext ctx, Exchange x, ModelScreens screens, HttpResponseMessage response, CancellationToken ct)
    {
        var window = screens.OutputWindow;
        var holdAll = screens.OutputClassifiers.Length > 0;
        using var text = new PooledText();
        var held = new Queue<HeldEvent>();
        using var streamed = screens.HasOutput ? new StreamedText() : null;
        var touches = new List<StreamedText.Touch>();
        var started = false;
        string id = "chatcmpl-gateway", model = x.Model!;
        long created = _time.GetUtcNow().ToUnixTimeSeconds();
        var first = true;
        var writer = ctx.Response.BodyWriter;

        void Start()
        {
            if (!started)
            {
                started = true;
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentType = "text/event-stream";
                ctx.Response.Headers.CacheControl = "no-cache";
            }
        }

        void Release(HeldEvent e)
        {
            Emit(e.Data);
            foreach (var touch in e.Touches)
            {
                touch.Channel.Released = Math.Max(touch.Channel.Released, touch.End);
            }
        }

        void Emit(ReadOnlySpan<byte> data)
        {
            Start();
            writer.Write("data: "u8);
            writer.Write(data);
            writer.Write("\n\n"u8);
        }

        // Ends the stream with a content_filter chunk for every choice, writes the audit line and counts the usage.
        async Task EndWithFilterAsync(string screen, string decision)
        {
            Start();
            using var chunk = new PooledBuffer(512);
            using (var w = new Utf8JsonWriter(chunk))
            {
                w.WriteStartObject();
                w.WriteString("id", Unflagged(id, screens.OutputRules) ?? "chatcmpl-withheld");
                w.WriteString("object", "chat.completion.chunk");
                w.WriteNumber("created", created);
                w.WriteString("model", Unflagged(model, screens.OutputRules) ?? x.Model!);
                w.WriteStartArray("choices");
                // Every choice the upstream streamed ends here (n > 1), or choice 0 when none came.
                foreach (var index in streamed?.ChoiceIndexes is { Count: > 0 } seen ? seen : [0L])
                {
                    w.WriteStartObject();
                    w.WriteNumber("index", index);
                    w.WriteStartObject("delta");
                    w.WriteEndObject();
                    w.WriteNull("logprobs");
                    w.WriteString("finish_reason", "content_filter");
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            Emit(chunk.WrittenSpan);
            writer.Write("data: [DONE]\n\n"u8);
            await writer.FlushAsync(ct);
            Finish(x, decision, screen, 200, text.Memory);
            await AddUsageAsync(x.Grant!, x);
        }

        // Before anything was sent the caller gets a 502; after, the stream is cut (no [DONE]), so it cannot pass for complete.
        async Task UpstreamFailedAsync(string message)
        {
            if (!started)
            {
                await RefuseAsync(ctx, x, 502, Decisions.UpstreamError, message);
            }
            else
            {
                Finish(x, Decisions.UpstreamError, null, 200, text.Memory);
                ctx.Abort();
                await AddUsageAsync(x.Grant!, x); // the caller had part of the answer
            }
        }

        var reader = PipeReader.Create(await response.Content.ReadAsStreamAsync(ct));
        try
        {
            var done = false;
            long streamBytes = 0;
            while (!done)
            {
                ReadResult result;
                try
                {
                    result = await reader.ReadAsync(ct);
                }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    await UpstreamFailedAsync("The upstream's stream failed.");
                    return;
                }
                var buffer = result.Buffer;
                var newContent = false;
                var tooLong = false;
                var tooMuch = false;
                while (!done && TryReadLine(ref buffer, out var line))
                {
                    if (line.Length > MaxResponseBytes)
                    {
                        tooLong = true;
                        break;
                    }
                    streamBytes += line.Length + 1;
                    if (streamBytes > MaxStreamBytes)
                    {
                        tooMuch = true;
                        break;
                    }
                    var span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
                    if (span.Length > 0 && span[^1] == (byte)'\r')
                    {
                        span = span[..^1];
                    }
                    if (!span.StartsWith("data:"u8))
                    {
                        continue;
                    }
                    span = span[5..];
                    if (span.Length > 0 && span[0] == (byte)' ')
                    {
                        span = span[1..];
                    }
                    if (span.SequenceEqual("[DONE]"u8))
                    {
                        done = true;
                        break;
                    }
                    touches.Clear();
                    var (usageOnly, ok) = ReadEvent(span, text, streamed, touches, x, ref id, ref model, ref created, ref first);
                    if (!ok)
                    {
                        continue;
                    }
                    if (usageOnly && !x.ClientWantsUsage)
                    {
                        continue;
                    }
                    held.Enqueue(new HeldEvent(span.ToArray(), [.. touches]));
                    newContent = true;
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (tooLong || buffer.Length > MaxResponseBytes)
                {
                    await UpstreamFailedAsync($"The upstream's stream sent a line longer than {MaxResponseBytes} bytes.");
                    return;
                }
                if (tooMuch)
                {
                    await UpstreamFailedAsync($"The upstream's stream is longer than {MaxStreamBytes} bytes.");
                    return;
                }
                if (result.IsCompleted)
                {
                    done = true;
                }

                if (newContent && streamed is not null)
                {
                    if (screens.OutputRules.Length > 0)
                    {
                        await screens.LeaveSocketThreadAsync();
                        if (FirstRuleMatchOf(screens.OutputRules, streamed) is { } blocked)
                        {
                            await EndWithFilterAsync(blocked, Decisions.ContentFilter);
                            return;
                        }
                    }
                    streamed.TakeLoose();
                }
                if (done || holdAll)
                {
                    continue;
                }
                // Release every event that has at least a window of (normalised) text after it.
                var released = false;
                while (held.Count > 0)
                {
                    // An event with text goes once a window follows it. One without (a role, a finish, usage) goes with the first
                    // event with text behind it, so the response's headers still wait for the first window to pass the screens.
                    var front = held.Peek();
                    if (window > 0 && !WindowFollows(front.Touches.Length > 0 || started ? front.Touches : NextWithText(held), window))
                    {
                        break;
                    }
                    held.Dequeue();
                    Release(front);
                    released = true;
                }
                // Once the stream has started, text that ends a choice's reasoning (before its content starts) or a choice of n
                // (that finished) waits for a window or the end without holding the others back: a later event goes ahead of
                // it when it shares no lane (StreamedText.Channel.Lane) with any event still held before it. Each lane still
                // goes out in order, each piece with a window after it; an event without text keeps its place behind
                // everything before it.
                if (started && held.Count > 1)
                {
                    released |= ReleaseAround(held, window, Release);
                }
                if (released)
                {
                    await writer.FlushAsync(ct);
                }
                AfterStreamRead?.Invoke();
            }

            var completion = text.Memory;
            if (holdAll)
            {
                using var judged = streamed!.ForClassifiers(completion.Span);
                var verdict = await ModelScreens.RunAsync([], screens.OutputClassifiers, _http, judged.Memory, ct);
                if (verdict.UnavailableScreen is { } unavailable)
                {
                    if (!started)
                    {
                        Finish(x, Decisions.ScreenUnavailable, unavailable, 503, completion);
                        await OpenAiErrors.WriteAsync(ctx, 503, Decisions.ScreenUnavailable, $"The screen '{unavailable}' could not decide; the completion is withheld.");
                        await AddUsageAsync(x.Grant!, x);
                    }
                    else
                    {
                        await EndWithFilterAsync(unavailable, Decisions.ScreenUnavailable);
                    }
                    return;
                }
                if (verdict.BlockedBy is { } blocked)
                {
                    await EndWithFilterAsync(blocked, Decisions.ContentFilter);
                    return;
                }
            }
            while (held.Count > 0)
            {
                Emit(held.Dequeue().Data);
            }
            Start();
            writer.Write("data: [DONE]\n\n"u8);
            await writer.FlushAsync(ct);
            Finish(x, Decisions.Allowed, null, 200, completion);
            await AddUsageAsync(x.Grant!, x);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Finish(x, Decisions.ClientClosed, null, 499, text.Memory);
            await AddUsageAsync(x.Grant!, x);
        }
        finally
        {
            await reader.CompleteAsync();
        }
    }

    /// <summary>The first rule matching the loose strings read since the last time, or any channel's new text (with the
    /// <see cref="Overlap"/> characters before the first unsent one, for normalisation's context); null when none does.
    /// Every channel's text gets read, so none stays fresh.</summary>
    private static string? FirstRuleMatchOf(RuleScreen[] rules, StreamedText streamed)
    {
        var blocked = ModelScreens.FirstRuleMatchOf(rules, streamed.Loose.Span);
        foreach (var channel in streamed.Fresh.ToList())
        {
            channel.Fresh = false;
            blocked ??= ModelScreens.FirstRuleMatchOf(rules, channel.Text.Span[Math.Max(0, channel.Released - Overlap)..]);
        }
        return blocked;
    }

    /// <summary>Releases, in order, the held events that may go ahead of those still held: each with a window after its text
    /// and no lane in common with an event still held before it (see the caller). Answers whether any went.</summary>
    private static bool ReleaseAround(Queue<HeldEvent> held, int window, Action<HeldEvent> release)
    {
        // The usual stream, one lane: everything held waits behind the front, and nothing needs to be allocated to see it.
        if (OneLane(held))
        {
            return false;
        }
        var waiting = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<HeldEvent>(held.Count);
        var released = false;
        foreach (var e in held)
        {
            var free = e.Touches.Length > 0 && kept.Count > 0
                ? !e.Touches.Any(t => waiting.Contains(t.Channel.Lane)) && WindowFollows(e.Touches, window)
                : kept.Count == 0 && (e.Touches.Length == 0 || WindowFollows(e.Touches, window));
            if (free)
            {
                release(e);
                released = true;
                continue;
            }
            kept.Add(e);
            foreach (var touch in e.Touches)
            {
                waiting.Add(touch.Channel.Lane);
            }
        }
        if (released)
        {
            held.Clear();
            foreach (var e in kept)
            {
                held.Enqueue(e);
            }
        }
        return released;
    }

    /// <summary>Whether every held event added text to the front's lane only.</summary>
    private static bool OneLane(Queue<HeldEvent> held)
    {
        var front = held.Peek().Touches;
        if (front.Length == 0)
        {
            return false;
        }
        var lane = front[0].Channel.Lane;
        foreach (var e in held)
        {
            if (e.Touches.Length == 0)
            {
                return false;
            }
            foreach (var touch in e.Touches)
            {
                if (touch.Channel.Lane != lane)
                {
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>The text of the first held event that has some; null when none has.</summary>
    private static StreamedText.Touch[]? NextWithText(Queue<HeldEvent> held)
    {
        foreach (var e in held)
        {
            if (e.Touches.Length > 0)
            {
                return e.Touches;
            }
        }
        return null;
    }

    /// <summary>Whether a window of text follows an event's text in every channel it added to (false for no event).</summary>
    private static bool WindowFollows(StreamedText.Touch[]? touches, int window)
    {
        if (touches is null)
        {
            return false;
        }
        foreach (var touch in touches)
        {
            if (HeldLength(touch.Channel.Text, touch.End, window) < window)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Normalised length of the text from <paramref name="start"/>, counted far enough to compare with the window.</summary>
    private static int HeldLength(PooledText text, int start, int window)
    {
        var raw = text.Length - start;
        if (raw <= 0)
        {
            return 0;
        }
        return ScreenText.Normalize(text.ToString(start, raw)).Length;
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var position = buffer.PositionOf((byte)'\n');
        if (position is null)
        {
            line = default;
            return false;
        }
        line = buffer.Slice(0, position.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, position.Value));
        return true;
    }

    /// <summary>Reads one chunk: appends its text to <paramref name="text"/>; returns how many characters it added and whether it
    /// is a usage-only chunk. Malformed chunks are dropped (ok = false): the caller never sees what the screens did not.</summary>
    private (bool UsageOnly, bool Ok) ReadEvent(ReadOnlySpan<byte> data, PooledText text, StreamedText? streamed, List<StreamedText.Touch> touches,
        Exchange x, ref string id, ref string model, ref long created, ref bool first)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(data.ToArray(), JsonOptions);
        }
        catch (JsonException)
        {
            return (false, false);
        }
        if (!JsonText.IsValidText(data))
        {
            doc.Dispose();
            return (false, false); // a string that is not valid Unicode: dropped like any malformed chunk
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (false, false);
            }
            if (first)
            {
                first = false;
                if (root.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String)
                {
                    id = i.GetString()!;
                }
                if (root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    model = m.GetString()!;
                }
                if (root.TryGetProperty("created", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt64(out var cv))
                {
                    created = cv;
                }
            }
            ReadUsage(root, x);
            streamed?.Read(root, touches);
            var hasChoices = false;
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
            {
                foreach (var choice in choices.EnumerateArray())
                {
                    hasChoices = true;
                    x.AnswerBytes += JsonText.StringBytes(choice);
                    if (choice.ValueKind == JsonValueKind.Object && choice.TryGetProperty("delta", out var delta))
                    {
                        ScreenedText.AppendCompletion(delta, text);
                    }
                }
            }
            var usageOnly = !hasChoices && root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object;
            return (usageOnly, true);
        }
    }
}
