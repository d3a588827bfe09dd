using System.Buffers;
using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation.Running;

/// <summary>
/// The evaluation runs' model client: OpenAI chat completions (POST {endpoint}/chat/completions, non-streaming) over one
/// pooled HttpClient, writing the request with a Utf8JsonWriter and reading the answer with a JsonDocument. It speaks
/// the same wire format the official SDK does for what evaluations send (messages with text, tool calls and tool
/// results; tools; max tokens, temperature, top-p, seed, stop) at a fraction of its CPU per call, which at 256 calls in
/// flight on two cores is most of the engine's overhead. A non-2xx answer is a <see cref="ClientResultException"/>
/// carrying the status and headers, as the SDK's is, so <see cref="ModelClient"/>'s retry rules apply unchanged.
/// </summary>
public sealed class ChatCompletionsClient : IChatClient
{
    private static readonly MediaTypeHeaderValue Json = new("application/json");
    private readonly HttpClient _http;
    private readonly Uri _url;
    private readonly string _model;
    private readonly AuthenticationHeaderValue? _auth;

    public ChatCompletionsClient(HttpClient http, Uri endpoint, string model, string? apiKey)
    {
        _http = http;
        _url = new Uri(endpoint.ToString().TrimEnd('/') + "/chat/completions");
        _model = model;
        _auth = string.IsNullOrEmpty(apiKey) ? null : new AuthenticationHeaderValue("Bearer", apiKey);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var body = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(body))
        {
            WriteRequest(w, _model, messages, options);
        }
        using var request = new HttpRequestMessage(HttpMethod.Post, _url) { Content = new ReadOnlyMemoryContent(body.WrittenMemory) };
        request.Content.Headers.ContentType = Json;
        request.Headers.Authorization = _auth;
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var raw = new BufferedResponse(response, bytes);
            throw new ClientResultException($"HTTP {(int)response.StatusCode} ({response.ReasonPhrase}): {ErrorMessage(bytes)}", raw);
        }
        if (ResponseCapture.Current.Value is { } box)
        {
            box.Value = BinaryData.FromBytes(bytes);
        }
        return ReadResponse(bytes);
    }

    /// <summary>The OpenAI-shaped error's message, else the body's start.</summary>
    private static string ErrorMessage(byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
            {
                return error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String
                    ? m.GetString()! : error.ToString();
            }
        }
        catch (JsonException)
        {
            // Not JSON: the text itself.
        }
        var text = System.Text.Encoding.UTF8.GetString(bytes.AsSpan(0, Math.Min(bytes.Length, 300)));
        return text.Length == 0 ? "(no body)" : text;
    }

    internal static void WriteRequest(Utf8JsonWriter w, string model, IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        w.WriteStartObject();
        w.WriteString("model", model);
        w.WriteStartArray("messages");
        foreach (var m in messages)
        {
            WriteMessage(w, m);
        }
        w.WriteEndArray();
        if (options is not null)
        {
            if (options.MaxOutputTokens is { } max)
            {
                w.WriteNumber("max_completion_tokens", max);
            }
            if (options.Temperature is { } temperature)
            {
                w.WriteNumber("temperature", temperature);
            }
            if (options.TopP is { } topP)
            {
                w.WriteNumber("top_p", topP);
            }
            if (options.Seed is { } seed)
            {
                w.WriteNumber("seed", seed);
            }
            if (options.StopSequences is { Count: > 0 } stop)
            {
                w.WriteStartArray("stop");
                foreach (var s in stop)
                {
                    w.WriteStringValue(s);
                }
                w.WriteEndArray();
            }
            if (options.Tools is { Count: > 0 } tools)
            {
                w.WriteStartArray("tools");
                foreach (var tool in tools.OfType<AIFunctionDeclaration>())
                {
                    w.WriteStartObject();
                    w.WriteString("type", "function");
                    w.WriteStartObject("function");
                    w.WriteString("name", tool.Name);
                    if (!string.IsNullOrEmpty(tool.Description))
                    {
                        w.WriteString("description", tool.Description);
                    }
                    w.WritePropertyName("parameters");
                    tool.JsonSchema.WriteTo(w);
                    w.WriteEndObject();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
        }
        w.WriteEndObject();
    }

    private static void WriteMessage(Utf8JsonWriter w, ChatMessage m)
    {
        var results = m.Contents.OfType<FunctionResultContent>().ToList();
        if (results.Count > 0)
        {
            // Each tool result is its own "tool" message answering one call.
            foreach (var r in results)
            {
                w.WriteStartObject();
                w.WriteString("role", "tool");
                w.WriteString("tool_call_id", r.CallId);
                w.WriteString("content", r.Result switch
                {
                    null => "",
                    string s => s,
                    JsonElement e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText(),
                    var other => JsonSerializer.Serialize(other, other.GetType(), AIJsonUtilities.DefaultOptions),
                });
                w.WriteEndObject();
            }
            return;
        }
        w.WriteStartObject();
        w.WriteString("role", m.Role.Value);
        var calls = m.Contents.OfType<FunctionCallContent>().ToList();
        var text = m.Text;
        if (calls.Count > 0 && text.Length == 0)
        {
            w.WriteNull("content");
        }
        else
        {
            w.WriteString("content", text);
        }
        if (calls.Count > 0)
        {
            w.WriteStartArray("tool_calls");
            foreach (var call in calls)
            {
                w.WriteStartObject();
                w.WriteString("id", call.CallId);
                w.WriteString("type", "function");
                w.WriteStartObject("function");
                w.WriteString("name", call.Name);
                w.WriteString("arguments", call.Arguments is null ? "{}" : JsonSerializer.Serialize(call.Arguments, AIJsonUtilities.DefaultOptions));
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    /// <summary>A chat completion's first choice as an assistant message; anything that is not one throws (unreadable).</summary>
    internal static ChatResponse ReadResponse(byte[] bytes)
    {
        using var doc = JsonDocument.Parse(bytes);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array
            || choices.GetArrayLength() == 0 || choices[0].ValueKind != JsonValueKind.Object
            || !choices[0].TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidOperationException("the answer is not a chat completion (no choices[0].message)");
        }
        var contents = new List<AIContent>();
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
        {
            contents.Add(new TextContent(content.GetString()));
        }
        else if (message.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
        {
            contents.Add(new TextContent(refusal.GetString()));
        }
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var f) || f.ValueKind != JsonValueKind.Object
                    || Text(f, "name") is not { } name)
                {
                    throw new InvalidOperationException("a tool call without a function name");
                }
                contents.Add(FunctionCallContent.CreateFromParsedArguments(Text(f, "arguments") ?? "{}", Text(call, "id") ?? "", name,
                    static json => JsonSerializer.Deserialize<Dictionary<string, object?>>(json, AIJsonUtilities.DefaultOptions)));
            }
        }
        var result = new ChatResponse(new ChatMessage(ChatRole.Assistant, contents))
        {
            ResponseId = Text(root, "id"),
            ModelId = Text(root, "model"),
            FinishReason = Text(choices[0], "finish_reason") switch
            {
                null => null,
                "stop" => ChatFinishReason.Stop,
                "length" => ChatFinishReason.Length,
                "tool_calls" or "function_call" => ChatFinishReason.ToolCalls,
                "content_filter" => ChatFinishReason.ContentFilter,
                var other => new ChatFinishReason(other),
            },
        };
        if (root.TryGetProperty("created", out var created) && created.ValueKind == JsonValueKind.Number && created.TryGetInt64(out var seconds))
        {
            result.CreatedAt = DateTimeOffset.FromUnixTimeSeconds(seconds);
        }
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            result.Usage = new UsageDetails
            {
                InputTokenCount = Number(usage, "prompt_tokens"),
                OutputTokenCount = Number(usage, "completion_tokens"),
                TotalTokenCount = Number(usage, "total_tokens"),
            };
        }
        return result;
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long? Number(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : null;

    /// <summary>Evaluations never stream; a caller that asks is told so.</summary>
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("evaluation calls are not streamed");

    public object? GetService(Type serviceType, object? serviceKey = null) => serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        // The HttpClient belongs to ModelClient.
    }

    /// <summary>A received non-2xx answer, as System.ClientModel's exception wants it (status, headers, buffered body).</summary>
    private sealed class BufferedResponse(HttpResponseMessage response, byte[] body) : PipelineResponse
    {
        private Stream? _stream;
        private readonly CopiedHeaders _headers = new(response);

        public override int Status => (int)response.StatusCode;
        public override string ReasonPhrase => response.ReasonPhrase ?? "";
        public override Stream? ContentStream { get => _stream ??= new MemoryStream(body, writable: false); set => _stream = value; }
        public override BinaryData Content => BinaryData.FromBytes(body);
        protected override PipelineResponseHeaders HeadersCore => _headers;
        public override BinaryData BufferContent(CancellationToken cancellationToken = default) => Content;
        public override ValueTask<BinaryData> BufferContentAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Content);
        public override void Dispose() => _stream?.Dispose();

        private sealed class CopiedHeaders(HttpResponseMessage response) : PipelineResponseHeaders
        {
            // Copied now: the response is disposed once the exception leaves GetResponseAsync.
            private readonly List<KeyValuePair<string, IEnumerable<string>>> All =
                [.. response.Headers.Concat(response.Content.Headers).Select(h => new KeyValuePair<string, IEnumerable<string>>(h.Key, [.. h.Value]))];

            public override bool TryGetValue(string name, out string? value)
            {
                if (TryGetValues(name, out var values))
                {
                    value = string.Join(",", values!);
                    return true;
                }
                value = null;
                return false;
            }

            public override bool TryGetValues(string name, out IEnumerable<string>? values)
            {
                var found = All.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).SelectMany(h => h.Value).ToList();
                values = found.Count > 0 ? found : null;
                return found.Count > 0;
            }

            public override IEnumerator<KeyValuePair<string, string>> GetEnumerator() =>
                All.Select(h => new KeyValuePair<string, string>(h.Key, string.Join(",", h.Value))).GetEnumerator();
        }
    }
}
