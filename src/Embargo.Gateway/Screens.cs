using System.Buffers;
using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Embargo.Protocol;

namespace Embargo.Gateway;

/// <summary>What the screens decided about a text: it passes, a screen blocks it, or a screen could not decide (fail closed).</summary>
public readonly record struct ScreenVerdict(string? BlockedBy, string? UnavailableScreen)
{
    public static ScreenVerdict Pass => default;
    public bool Passed => BlockedBy is null && UnavailableScreen is null;
    public static ScreenVerdict Blocked(string screen) => new(screen, null);
    public static ScreenVerdict Unavailable(string screen) => new(null, screen);
}

/// <summary>
/// The text screens match: Unicode NFKC, then lower case (invariant), with format characters (zero-width spaces, joiners,
/// soft hyphens) removed, so full-width letters, ligatures, case and invisible separators do not hide a phrase.
/// </summary>
public static class ScreenText
{
    public static string Normalize(string text)
    {
        if (Ascii.IsValid(text))
        {
            return string.Create(text.Length, text, static (span, t) => FoldAscii(t, span));
        }
        var folded = text.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        if (!folded.Any(c => CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.Format))
        {
            return folded;
        }
        var sb = new StringBuilder(folded.Length);
        foreach (var c in folded)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.Format)
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>The normal form of ASCII text (the caller has checked <see cref="Ascii.IsValid(ReadOnlySpan{char})"/>): NFKC
    /// leaves ASCII as it is and it has no format characters, so only case folds. <paramref name="into"/> is as long as the
    /// text.</summary>
    public static void FoldAscii(ReadOnlySpan<char> ascii, Span<char> into) => Ascii.ToLower(ascii, into, out _);

    /// <summary>Null when this process can normalise Unicode (it needs ICU: a process in invariant-globalization mode cannot).</summary>
    public static string? SelfCheck() =>
        Normalize("\uFB01\uFF21") == "fia" ? null
            : "Unicode NFKC normalisation is unavailable in this process (it runs in invariant-globalization mode or without libicu): the screens could be bypassed, so the gateway does not start";
}

/// <summary>A keyword/regex screen, compiled once: keywords as one vectorised multi-string search, regexes without backtracking.</summary>
public sealed class RuleScreen
{
    public required string Name { get; init; }
    public required SearchValues<string>? Keywords { get; init; }
    public required Regex[] Patterns { get; init; }
    /// <summary>The longest normalised text this screen can match: the stream hold-back window.</summary>
    public required int Window { get; init; }

    /// <summary>Some pattern needed the backtracking engine (a backreference or lookaround): a match may take up to the regex
    /// timeout instead of linear time.</summary>
    public bool Backtracks => Patterns.Any(p => (p.Options & RegexOptions.NonBacktracking) == 0);

    public bool Matches(ReadOnlySpan<char> normalized)
    {
        if (Keywords is not null && normalized.IndexOfAny(Keywords) >= 0)
        {
            return true;
        }
        foreach (var pattern in Patterns)
        {
            try
            {
                if (pattern.IsMatch(normalized))
                {
                    return true;
                }
            }
            catch (RegexMatchTimeoutException)
            {
                return true; // a pattern that cannot decide in time blocks: fail closed
            }
        }
        return false;
    }
}

public enum ClassifierKind { Moderation, Chat }

/// <summary>A screen that asks a classifier: an OpenAI /moderations endpoint, or a guard model answering "safe"/"unsafe".</summary>
public sealed class ClassifierScreen
{
    public required string Name { get; init; }
    public required Uri Url { get; init; }
    public required string Model { get; init; }
    public required ClassifierKind Kind { get; init; }
    public required TimeSpan Timeout { get; init; }
    public string? ApiKey { get; init; }

    /// <summary>True = blocked, false = passes, null = the classifier failed or timed out (the caller fails closed).</summary>
    public async Task<bool?> FlagsAsync(HttpClient http, string text, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Url);
            if (ApiKey is not null)
            {
                request.Headers.Authorization = new("Bearer", ApiKey);
            }
            var body = new ArrayBufferWriter<byte>(256 + text.Length);
            using (var w = new Utf8JsonWriter(body))
            {
                w.WriteStartObject();
                w.WriteString("model", Model);
                if (Kind == ClassifierKind.Moderation)
                {
                    w.WriteString("input", text);
                }
                else
                {
                    w.WriteStartArray("messages");
                    w.WriteStartObject();
                    w.WriteString("role", "user");
                    w.WriteString("content", text);
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteNumber("max_tokens", 8);
                }
                w.WriteEndObject();
            }
            request.Content = new ReadOnlyMemoryContent(body.WrittenMemory);
            request.Content.Headers.ContentType = new("application/json");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var doc = await JsonDocument.ParseAsync(stream, default, timeout.Token);
            var root = doc.RootElement;
            if (Kind == ClassifierKind.Moderation)
            {
                if (root.TryGetProperty("results", out var results) && results.ValueKind == JsonValueKind.Array && results.GetArrayLength() > 0
                    && results[0].TryGetProperty("flagged", out var flagged) && flagged.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    return flagged.GetBoolean();
                }
                return null;
            }
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0
                && choices[0].TryGetProperty("message", out var message) && message.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String)
            {
                var answer = content.GetString()!.Trim().ToLowerInvariant();
                return answer.StartsWith("unsafe", StringComparison.Ordinal) ? true
                    : answer.StartsWith("safe", StringComparison.Ordinal) ? false
                    : null;
            }
            return null;
        }
        // InvalidOperationException: an answer of the wrong shape (results: [1]) or with a string that is not valid Unicode.
        catch (Exception e) when (e is HttpRequestException or JsonException or OperationCanceledException or IOException or InvalidOperationException)
        {
            if (ct.IsCancellationRequested)
            {
                throw;
            }
            return null;
        }
    }
}

/// <summary>The screens that apply to one model, split by direction.</summary>
public sealed class ModelScreens
{
    public static readonly ModelScreens None = new() { InputRules = [], OutputRules = [], InputClassifiers = [], OutputClassifiers = [], OutputWindow = 0 };

    public ModelScreens() => _outputBacktracks = new(() => OutputRules!.Any(r => r.Backtracks));
    private readonly Lazy<bool> _outputBacktracks;

    public required RuleScreen[] InputRules { get; init; }
    public required RuleScreen[] OutputRules { get; init; }
    public required ClassifierScreen[] InputClassifiers { get; init; }
    public required ClassifierScreen[] OutputClassifiers { get; init; }
    /// <summary>How much streamed text (normalised characters) is held back so no part of a blocked phrase is sent.</summary>
    public required int OutputWindow { get; init; }

    public bool HasOutput => OutputRules.Length > 0 || OutputClassifiers.Length > 0;

    /// <summary>The first input screen's name (rules before classifiers), or null when no input screen applies.</summary>
    public string? FirstInputScreen => InputRules.Length > 0 ? InputRules[0].Name : InputClassifiers.FirstOrDefault()?.Name;

    /// <summary>The first output screen's name (rules before classifiers), or null when no output screen applies.</summary>
    public string? FirstOutputScreen => OutputRules.Length > 0 ? OutputRules[0].Name : OutputClassifiers.FirstOrDefault()?.Name;

    /// <summary>An output rule may take up to the regex timeout (<see cref="RuleScreen.Backtracks"/>). The upstream's answer
    /// arrives on a socket thread (`embargo gateway` runs socket completions there), which serves other connections too: such
    /// a screen runs on a pool thread instead (<see cref="LeaveSocketThreadAsync"/>).</summary>
    public bool OutputBacktracks => _outputBacktracks.Value;

    /// <summary>Moves the caller to a thread-pool thread when an output rule may backtrack; otherwise completes at once.</summary>
    public ValueTask LeaveSocketThreadAsync() => OutputBacktracks ? YieldAsync() : ValueTask.CompletedTask;

    private static async ValueTask YieldAsync() => await Task.Yield();

    /// <summary>The first rule that matches <paramref name="text"/> once normalised. ASCII text (the common case) is folded in
    /// a pooled buffer, without a string; other text goes through <see cref="ScreenText.Normalize"/>, and is read a second time
    /// with Latin lookalikes from other scripts as Latin letters (<see cref="LatinConfusables"/>).</summary>
    public static string? FirstRuleMatchOf(RuleScreen[] rules, ReadOnlySpan<char> text)
    {
        if (rules.Length == 0)
        {
            return null;
        }
        if (!Ascii.IsValid(text))
        {
            // Read once as normalised, and once more with other scripts' Latin lookalikes as Latin letters, if it has any.
            var normalized = ScreenText.Normalize(new string(text));
            return FirstRuleMatch(rules, normalized)
                ?? (LatinConfusables.Fold(normalized) is { } latin ? FirstRuleMatch(rules, latin) : null);
        }
        var folded = ArrayPool<char>.Shared.Rent(Math.Max(text.Length, 1));
        try
        {
            ScreenText.FoldAscii(text, folded);
            return FirstRuleMatch(rules, folded.AsSpan(0, text.Length));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(folded);
        }
    }

    public static string? FirstRuleMatch(RuleScreen[] rules, ReadOnlySpan<char> normalized)
    {
        foreach (var rule in rules)
        {
            if (rule.Matches(normalized))
            {
                return rule.Name;
            }
        }
        return null;
    }

    /// <summary>Rules first, then each classifier in turn (the text becomes a string only when a classifier needs it).</summary>
    public static async ValueTask<ScreenVerdict> RunAsync(RuleScreen[] rules, ClassifierScreen[] classifiers, HttpClient http, ReadOnlyMemory<char> text, CancellationToken ct)
    {
        if (rules.Length == 0 && classifiers.Length == 0)
        {
            return ScreenVerdict.Pass;
        }
        if (FirstRuleMatchOf(rules, text.Span) is { } blocked)
        {
            return ScreenVerdict.Blocked(blocked);
        }
        string? asString = null;
        foreach (var classifier in classifiers)
        {
            var flagged = await classifier.FlagsAsync(http, asString ??= text.ToString(), ct);
            if (flagged is null)
            {
                return ScreenVerdict.Unavailable(classifier.Name);
            }
            if (flagged.Value)
            {
                return ScreenVerdict.Blocked(classifier.Name);
            }
        }
        return ScreenVerdict.Pass;
    }
}

/// <summary>Every screen of the file, compiled once and indexed by the model they apply to.</summary>
public sealed class ScreenSet
{
    private readonly FrozenDictionary<string, ModelScreens> _byModel;

    private ScreenSet(FrozenDictionary<string, ModelScreens> byModel, int count)
    {
        _byModel = byModel;
        Count = count;
    }

    public int Count { get; }

    public ModelScreens For(string model) => _byModel.TryGetValue(model, out var screens) ? screens : ModelScreens.None;

    public const int DefaultMaxMatch = 256;
    public const int MaxWindow = 64 * 1024;
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    internal static Result<ScreenSet> Compile(IReadOnlyList<ScreenSpec> specs, IReadOnlySet<string> models, string where, Func<string, string?> environment)
    {
        var compiled = new List<(object Screen, bool Input, bool Output, IReadOnlySet<string>? Models)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < specs.Count; i++)
        {
            var s = specs[i];
            var at = $"{where}: screens[{i}]";
            if (string.IsNullOrWhiteSpace(s.Name) || !seen.Add(s.Name))
            {
                return ProtocolError.Validation($"{at}.name is required and must be unique");
            }
            if (s.ApplyTo is not { Count: > 0 } || s.ApplyTo.Any(a => a is not ("input" or "output")))
            {
                return ProtocolError.Validation($"{at}.apply_to must list input and/or output");
            }
            if (s.Models?.FirstOrDefault(m => !models.Contains(m)) is { } missing)
            {
                return ProtocolError.Validation($"{at}.models names '{missing}', which is not an upstream");
            }
            var hasRules = s.Keywords is { Count: > 0 } || s.Regex is { Count: > 0 };
            if (hasRules == (s.Classifier is not null))
            {
                return ProtocolError.Validation($"{at}: a screen has keywords and/or regex, or a classifier (exactly one of the two)");
            }
            object screen;
            if (s.Classifier is { } c)
            {
                if (!Uri.TryCreate(c.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
                {
                    return ProtocolError.Validation($"{at}.classifier.url '{c.Url}' is not an http(s) URL");
                }
                if (string.IsNullOrWhiteSpace(c.Model))
                {
                    return ProtocolError.Validation($"{at}.classifier.model is required");
                }
                ClassifierKind kind;
                switch (c.Kind)
                {
                    case "moderation": kind = ClassifierKind.Moderation; break;
                    case "chat": kind = ClassifierKind.Chat; break;
                    default: return ProtocolError.Validation($"{at}.classifier.kind '{c.Kind}' must be moderation or chat");
                }
                if (c.TimeoutMs is { } ms && (ms < 1 || ms > 60_000))
                {
                    return ProtocolError.Validation($"{at}.classifier.timeout_ms must be from 1 to 60000");
                }
                string? key = null;
                if (c.ApiKeyEnv is not null && string.IsNullOrEmpty(key = environment(c.ApiKeyEnv)))
                {
                    return ProtocolError.Validation($"{at}.classifier.api_key_env: the environment variable {c.ApiKeyEnv} is not set");
                }
                var path = kind == ClassifierKind.Moderation ? "/moderations" : "/chat/completions";
                screen = new ClassifierScreen
                {
                    Name = s.Name, Url = new Uri(url.AbsoluteUri.TrimEnd('/') + path), Model = c.Model, Kind = kind,
                    Timeout = TimeSpan.FromMilliseconds(c.TimeoutMs ?? 1000), ApiKey = key,
                };
            }
            else
            {
                var keywords = (s.Keywords ?? []).Select(k => ScreenText.Normalize(k ?? "")).ToArray();
                if (keywords.Any(k => k.Length == 0))
                {
                    return ProtocolError.Validation($"{at}.keywords: a keyword is empty");
                }
                var patterns = new List<Regex>();
                foreach (var pattern in s.Regex ?? [])
                {
                    try
                    {
                        patterns.Add(CompileRegex(pattern));
                    }
                    catch (ArgumentException e)
                    {
                        return ProtocolError.Validation($"{at}.regex '{pattern}' is not a valid regular expression: {e.Message.ReplaceLineEndings(" ")}");
                    }
                }
                if (s.MaxMatch is { } mm && (mm < 1 || mm > MaxWindow))
                {
                    return ProtocolError.Validation($"{at}.max_match must be from 1 to {MaxWindow}");
                }
                var window = Math.Max(keywords.Length == 0 ? 0 : keywords.Max(k => k.Length), patterns.Count == 0 ? 0 : s.MaxMatch ?? DefaultMaxMatch);
                if (window > MaxWindow)
                {
                    return ProtocolError.Validation($"{at}.keywords: a keyword is longer than {MaxWindow} characters");
                }
                screen = new RuleScreen
                {
                    Name = s.Name,
                    Keywords = keywords.Length == 0 ? null : SearchValues.Create(keywords.Distinct().ToArray(), StringComparison.Ordinal),
                    Patterns = OnePass(s.Regex ?? [], patterns),
                    Window = window,
                };
            }
            compiled.Add((screen, s.ApplyTo.Contains("input"), s.ApplyTo.Contains("output"), s.Models?.ToHashSet(StringComparer.Ordinal)));
        }
        var byModel = new Dictionary<string, ModelScreens>(StringComparer.Ordinal);
        foreach (var model in models)
        {
            var applies = compiled.Where(c => c.Models is null || c.Models.Contains(model)).ToList();
            var outputRules = applies.Where(c => c.Output).Select(c => c.Screen).OfType<RuleScreen>().ToArray();
            byModel[model] = new ModelScreens
            {
                InputRules = applies.Where(c => c.Input).Select(c => c.Screen).OfType<RuleScreen>().ToArray(),
                OutputRules = outputRules,
                InputClassifiers = applies.Where(c => c.Input).Select(c => c.Screen).OfType<ClassifierScreen>().ToArray(),
                OutputClassifiers = applies.Where(c => c.Output).Select(c => c.Screen).OfType<ClassifierScreen>().ToArray(),
                OutputWindow = outputRules.Length == 0 ? 0 : outputRules.Max(r => r.Window),
            };
        }
        return new ScreenSet(byModel.ToFrozenDictionary(StringComparer.Ordinal), compiled.Count);
    }

    /// <summary>Linear-time matching where the pattern allows it (no backtracking an input can blow up); otherwise compiled with a timeout.
    /// Matching is case-insensitive: the text it sees is already case-folded.</summary>
    /// <summary>A screen's patterns as one alternation, so a text is scanned once rather than once per pattern (the same
    /// verdict: the alternation matches where any pattern does; inline options stay scoped to their own group). Patterns
    /// with a '#' keep their own scans: in (?x) mode it starts a comment that would swallow the group's end.</summary>
    private static Regex[] OnePass(IReadOnlyList<string> sources, List<Regex> each)
    {
        if (each.Count < 2 || sources.Any(p => p.Contains('#')))
        {
            return [.. each];
        }
        try
        {
            return [CompileRegex(string.Join('|', sources.Select(p => $"(?:{p})")))];
        }
        catch (ArgumentException)
        {
            return [.. each];
        }
    }

    private static Regex CompileRegex(string pattern)
    {
        const RegexOptions common = RegexOptions.IgnoreCase | RegexOptions.CultureInvariant;
        try
        {
            return new Regex(pattern, common | RegexOptions.NonBacktracking, RegexTimeout);
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, common | RegexOptions.Compiled, RegexTimeout);
        }
    }
}
