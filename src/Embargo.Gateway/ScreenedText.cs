using System.Text.Json;

namespace Embargo.Gateway;

/// <summary>
/// What the screens read. Everything a model is shown and everything it answers goes past them, not only the message text:
/// <list type="bullet">
/// <item>input screens read the messages' text first (the prompt: what the audit line's <c>promptSha256</c> covers), then every
/// other string in the request (names, tool-call arguments in the history, the tools' descriptions and their JSON schemas
/// with their member names, response formats, anything else), one per line;</item>
/// <item>output screens read the completion's text first (content, refusal, tool calls' names and arguments: what
/// <c>completionSha256</c> covers), then every other string in the answer (reasoning, annotations, logprobs tokens, members
/// outside the choices), one per line.</item>
/// </list>
/// What text screens cannot read — images, audio, files — is refused wherever a screen applies, never let through.
/// </summary>
internal static class ScreenedText
{
    /// <summary>The request's text: the prompt first (<paramref name="promptLength"/> characters), then, when
    /// <paramref name="rest"/>, every other string. <paramref name="unreadable"/> names the first message part or member the
    /// text screens cannot read (an image, audio, a file), or is null.</summary>
    public static PooledText Request(JsonElement root, JsonElement messages, bool rest, out int promptLength, out string? unreadable)
    {
        var text = new PooledText(512);
        unreadable = null;
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object || !m.TryGetProperty("content", out var content))
            {
                continue;
            }
            if (content.ValueKind == JsonValueKind.String)
            {
                text.Append(content);
                text.Append('\n');
            }
            else if (content.ValueKind == JsonValueKind.Array)
            {
                foreach (var part in content.EnumerateArray())
                {
                    if (part.ValueKind == JsonValueKind.Object && part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
                    {
                        text.Append(t);
                        text.Append('\n');
                    }
                    unreadable ??= UnreadablePart(part);
                }
            }
        }
        promptLength = text.Length;
        if (!rest)
        {
            return text;
        }
        foreach (var m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object)
            {
                AppendStrings(m, text, names: false);
                continue;
            }
            foreach (var p in m.EnumerateObject())
            {
                if (p.NameEquals("audio") && p.Value.ValueKind != JsonValueKind.Null)
                {
                    unreadable ??= "audio"; // an earlier spoken answer, played to the model again
                }
                if (!p.NameEquals("content"))
                {
                    AppendStrings(p.Value, text, names: false);
                }
                else if (p.Value.ValueKind == JsonValueKind.Array)
                {
                    foreach (var part in p.Value.EnumerateArray())
                    {
                        AppendExcept(part, "text", text, names: false);
                    }
                }
            }
        }
        foreach (var p in root.EnumerateObject())
        {
            if (!p.NameEquals("model") && !p.NameEquals("messages"))
            {
                AppendStrings(p.Value, text, names: true);
            }
        }
        return text;
    }

    /// <summary>A content part's type when it is not text (image_url, input_audio, file, …); null for text and refusal parts.</summary>
    private static string? UnreadablePart(JsonElement part)
    {
        if (part.ValueKind != JsonValueKind.Object)
        {
            return null; // a string or number part is read as it is
        }
        if (part.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String)
        {
            return type.ValueEquals("text") || type.ValueEquals("refusal") ? null : Printable(type.GetString()!);
        }
        return part.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? null : "(a part without a type)";
    }

    /// <summary>Whether the request brings its own chat template (vLLM and SGLang take one as <c>chat_template</c>): the template
    /// builds the model's prompt, and can assemble a phrase from pieces no screen sees together.</summary>
    public static bool BringsItsOwnTemplate(JsonElement root) =>
        root.TryGetProperty("chat_template", out var template) && template.ValueKind != JsonValueKind.Null;

    /// <summary>Whether the request asks for spoken output, which text screens cannot read.</summary>
    public static bool AsksForAudio(JsonElement root)
    {
        if (root.TryGetProperty("audio", out var audio) && audio.ValueKind != JsonValueKind.Null)
        {
            return true;
        }
        if (root.TryGetProperty("modalities", out var modalities) && modalities.ValueKind == JsonValueKind.Array)
        {
            foreach (var m in modalities.EnumerateArray())
            {
                if (m.ValueKind == JsonValueKind.String && !m.ValueEquals("text"))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Everything a completion's message (or a streamed delta) says that the audit line hashes: content, refusal, and
    /// each tool call's name and arguments, with no separator (as the caller would put them together).</summary>
    public static void AppendCompletion(JsonElement message, PooledText text)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            return;
        }
        if (message.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
        {
            text.Append(content);
        }
        if (message.TryGetProperty("refusal", out var refusal) && refusal.ValueKind == JsonValueKind.String)
        {
            text.Append(refusal);
        }
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                if (call.ValueKind == JsonValueKind.Object && call.TryGetProperty("function", out var f) && f.ValueKind == JsonValueKind.Object)
                {
                    if (f.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                    {
                        text.Append(name);
                    }
                    if (f.TryGetProperty("arguments", out var args) && args.ValueKind == JsonValueKind.String)
                    {
                        text.Append(args);
                    }
                }
            }
        }
    }

    /// <summary>Every string of a whole (not streamed) answer that <see cref="AppendCompletion"/> did not take, one per line.</summary>
    public static void AppendAnswerRest(JsonElement root, PooledText text)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            AppendStrings(root, text, names: false);
            return;
        }
        foreach (var p in root.EnumerateObject())
        {
            if (!p.NameEquals("choices") || p.Value.ValueKind != JsonValueKind.Array)
            {
                AppendStrings(p.Value, text, names: false);
                continue;
            }
            foreach (var choice in p.Value.EnumerateArray())
            {
                if (choice.ValueKind != JsonValueKind.Object)
                {
                    AppendStrings(choice, text, names: false);
                    continue;
                }
                foreach (var c in choice.EnumerateObject())
                {
                    if (c.NameEquals("message"))
                    {
                        AppendMessageRest(c.Value, text);
                    }
                    else
                    {
                        AppendStrings(c.Value, text, names: false);
                    }
                }
            }
        }
    }

    /// <summary>A message's strings that <see cref="AppendCompletion"/> did not take.</summary>
    private static void AppendMessageRest(JsonElement message, PooledText text)
    {
        if (message.ValueKind != JsonValueKind.Object)
        {
            AppendStrings(message, text, names: false);
            return;
        }
        foreach (var p in message.EnumerateObject())
        {
            if ((p.NameEquals("content") || p.NameEquals("refusal")) && p.Value.ValueKind == JsonValueKind.String)
            {
                continue;
            }
            if (!p.NameEquals("tool_calls") || p.Value.ValueKind != JsonValueKind.Array)
            {
                AppendStrings(p.Value, text, names: false);
                continue;
            }
            foreach (var call in p.Value.EnumerateArray())
            {
                if (call.ValueKind != JsonValueKind.Object)
                {
                    AppendStrings(call, text, names: false);
                    continue;
                }
                foreach (var c in call.EnumerateObject())
                {
                    if (c.NameEquals("function") && c.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var f in c.Value.EnumerateObject())
                        {
                            if (!((f.NameEquals("name") || f.NameEquals("arguments")) && f.Value.ValueKind == JsonValueKind.String))
                            {
                                AppendStrings(f.Value, text, names: false);
                            }
                        }
                    }
                    else
                    {
                        AppendStrings(c.Value, text, names: false);
                    }
                }
            }
        }
    }

    /// <summary>The strings of an object but its member <paramref name="except"/> when that is a string.</summary>
    private static void AppendExcept(JsonElement element, string except, PooledText text, bool names)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            AppendStrings(element, text, names);
            return;
        }
        foreach (var p in element.EnumerateObject())
        {
            if (!(p.NameEquals(except) && p.Value.ValueKind == JsonValueKind.String))
            {
                AppendStrings(p.Value, text, names);
            }
        }
    }

    /// <summary>Every string value in <paramref name="element"/> (and, with <paramref name="names"/>, every member name), one per line.</summary>
    public static void AppendStrings(JsonElement element, PooledText text, bool names)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                text.Append(element);
                text.Append('\n');
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    AppendStrings(item, text, names);
                }
                break;
            case JsonValueKind.Object:
                foreach (var p in element.EnumerateObject())
                {
                    if (names)
                    {
                        text.Append(p.Name);
                        text.Append('\n');
                    }
                    AppendStrings(p.Value, text, names);
                }
                break;
        }
    }

    private static string Printable(string text) => text.Length > 32 || text.Any(char.IsControl) ? "(an unknown type)" : text;
}

/// <summary>
/// What the output rules read of a streamed answer. Each place in the answer that carries the model's text from chunk to
/// chunk — a choice's content, refusal or reasoning, each tool call's name and arguments, logprobs tokens, any other member —
/// is one channel, keyed by the choice's index and the path to the string (an array element by its own <c>index</c> member
/// where it has one, as streamed tool calls do), so text split across chunks is read whole even when the upstream
/// interleaves choices or tool calls. The strings that only label a chunk (ids, roles, types, finish reasons, everything
/// outside the choices) are read chunk by chunk, as <see cref="Loose"/> text.
/// </summary>
internal sealed class StreamedText : IDisposable
{
    /// <summary>One channel's text so far, and how much of it the caller has been sent.</summary>
    internal sealed class Channel(bool completion, string lane) : IDisposable
    {
        /// <summary>The channels whose chunks go out in the upstream's order: a choice's reasoning, or the rest of the choice
        /// (content, refusal, tool calls, logprobs). Clients read a choice's answer as one sequence — the official clients
        /// take a new tool call's first chunk as the end of the one before, and content's end at a tool call — so nothing of
        /// an answer goes ahead of an earlier part of the same answer; only another choice, or a choice's answer ahead of its
        /// reasoning, may (ChatPipeline.ReleaseAround).</summary>
        public string Lane => lane;

        public PooledText Text { get; } = new(256);
        /// <summary>Characters of <see cref="Text"/> already sent to the caller.</summary>
        public int Released;
        /// <summary>Text arrived since the rules last read this channel.</summary>
        public bool Fresh;
        /// <summary>Part of the completion's text (<see cref="ScreenedText.AppendCompletion"/>); classifiers read it there.</summary>
        public bool Completion => completion;

        public void Dispose() => Text.Dispose();
    }

    /// <summary>Where one event's text ended in one channel.</summary>
    internal readonly record struct Touch(Channel Channel, int End);

    private readonly Dictionary<string, Channel> _channels = new(StringComparer.Ordinal);
    private readonly PooledText _allLoose = new(256);
    private readonly HashSet<string> _looseSeen = new(StringComparer.Ordinal);

    /// <summary>The labelling strings of the events read since <see cref="TakeLoose"/>, one per line.</summary>
    public PooledText Loose { get; } = new(256);

    public IEnumerable<Channel> Fresh => _channels.Values.Where(c => c.Fresh);

    /// <summary>The indexes of the choices streamed so far, in order (at most <see cref="MaxChoices"/>).</summary>
    public SortedSet<long> ChoiceIndexes { get; } = [];

    /// <summary>More choice indexes than this are not kept (an upstream that numbers every chunk anew).</summary>
    private const int MaxChoices = 128;

    /// <summary>Reads one event; appends to <paramref name="touches"/> each channel it added text to, and where that ended.</summary>
    public void Read(JsonElement root, List<Touch> touches)
    {
        var looseFrom = Loose.Length;
        if (root.ValueKind != JsonValueKind.Object)
        {
            ScreenedText.AppendStrings(root, Loose, names: false);
        }
        else
        {
            foreach (var p in root.EnumerateObject())
            {
                if (!p.NameEquals("choices") || p.Value.ValueKind != JsonValueKind.Array)
                {
                    ScreenedText.AppendStrings(p.Value, Loose, names: false);
                    continue;
                }
                var position = 0;
                foreach (var choice in p.Value.EnumerateArray())
                {
                    var index = IndexOf(choice, position++);
                    if (ChoiceIndexes.Count < MaxChoices)
                    {
                        ChoiceIndexes.Add(index);
                    }
                    Walk(choice, index.ToString(System.Globalization.CultureInfo.InvariantCulture), null, touches);
                }
            }
        }
        // Chunks repeat their labels (id, model, object): a classifier reads each distinct one once.
        var lines = _looseSeen.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var range in Loose.Span[looseFrom..].Split('\n'))
        {
            var line = Loose.Span[looseFrom..][range];
            if (line.Length > 0 && lines.Add(line))
            {
                _allLoose.Append(line);
                _allLoose.Append('\n');
            }
        }
    }

    /// <summary>Marks the loose text read (after the rules have read it).</summary>
    public void TakeLoose() => Loose.Clear();

    /// <summary>What a classifier reads at the end: the completion's text, then every other channel's and the loose strings.</summary>
    public PooledText ForClassifiers(ReadOnlySpan<char> completion)
    {
        var text = new PooledText(completion.Length + _allLoose.Length + 64);
        text.Append(completion);
        text.Append('\n');
        foreach (var channel in _channels.Values)
        {
            if (!channel.Completion && channel.Text.Length > 0)
            {
                text.Append(channel.Text.Span);
                text.Append('\n');
            }
        }
        text.Append(_allLoose.Span);
        return text;
    }

    private void Walk(JsonElement element, string path, string? member, List<Touch> touches)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                if (member is "role" or "type" or "id" or "finish_reason" or "object" or "model")
                {
                    Loose.Append(element);
                    Loose.Append('\n');
                    break;
                }
                // A tool call's name and arguments are one channel, the name first: the name comes once, in the call's first
                // chunk, so as a channel of its own no text would ever follow it and the whole call would be held until the
                // stream ends. Read together, they are also what the completion's text joins (AppendCompletion).
                var key = member is "name" or "arguments" && IsToolCallFunction(path) ? path[..path.LastIndexOf('/')] : path;
                if (!_channels.TryGetValue(key, out var channel))
                {
                    _channels[key] = channel = new Channel(IsCompletion(key), LaneOf(key));
                }
                var before = channel.Text.Length;
                channel.Text.Append(element);
                if (channel.Text.Length > before)
                {
                    channel.Fresh = true;
                    touches.Add(new Touch(channel, channel.Text.Length));
                }
                break;
            case JsonValueKind.Array:
                var position = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, path + "/" + IndexOf(item, position++).ToString(System.Globalization.CultureInfo.InvariantCulture), member, touches);
                }
                break;
            case JsonValueKind.Object:
                foreach (var p in element.EnumerateObject())
                {
                    Walk(p.Value, path + "/" + p.Name, p.Name, touches);
                }
                break;
        }
    }

    /// <summary>An element's own <c>index</c> member (streamed choices and tool calls carry one), else its position.</summary>
    private static long IndexOf(JsonElement element, int position) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("index", out var i) && i.ValueKind == JsonValueKind.Number && i.TryGetInt64(out var index)
            ? index : position;

    /// <summary>The choice's index, with "/reasoning" for its reasoning (vLLM's reasoning_content, or reasoning).</summary>
    private static string LaneOf(string key)
    {
        var parts = key.Split('/');
        return parts.Length >= 3 && parts[1] == "delta" && parts[2] is "reasoning_content" or "reasoning" ? parts[0] + "/reasoning" : parts[0];
    }

    /// <summary>Whether a string's path is a streamed tool call's function name or arguments: CHOICE/delta/tool_calls/N/function/MEMBER.</summary>
    private static bool IsToolCallFunction(string path)
    {
        var parts = path.Split('/');
        return parts.Length == 6 && parts[1] == "delta" && parts[2] == "tool_calls" && parts[4] == "function";
    }

    /// <summary>Channels whose text <see cref="ScreenedText.AppendCompletion"/> also takes from a delta: a choice's content and
    /// refusal, and each tool call's function (its name and arguments, one channel).</summary>
    private static bool IsCompletion(string key)
    {
        var parts = key.Split('/');
        return parts.Length >= 3 && parts[1] == "delta"
            && ((parts.Length == 3 && parts[2] is "content" or "refusal")
                || (parts.Length == 5 && parts[2] == "tool_calls" && parts[4] == "function"));
    }

    public void Dispose()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
        Loose.Dispose();
        _allLoose.Dispose();
    }
}
