using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Embargo.Text;

namespace Embargo.Evaluation.Data;

/// <summary>One dataset sample in the common eval-harness shape.</summary>
public sealed record EvalSample
{
    public required string Id { get; init; }
    /// <summary>The input as chat messages (a string input becomes one user message).</summary>
    public required IReadOnlyList<ChatMessage> Input { get; init; }
    public required IReadOnlyList<string> Target { get; init; }
    public IReadOnlyList<string>? Choices { get; init; }
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    /// <summary>The text of the last user message of the input.</summary>
    public string InputText => Input.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
}

/// <summary>Loads JSONL and CSV datasets; a malformed line is reported with its file and line number.</summary>
public static class DatasetLoader
{
    public static IReadOnlyList<EvalSample> Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new EvalInputException($"dataset {path} not found");
        }
        var ext = Path.GetExtension(path).ToLowerInvariant();
        var samples = ext switch
        {
            ".jsonl" or ".ndjson" => LoadJsonl(path),
            ".csv" => LoadCsv(path),
            _ => throw new EvalInputException($"dataset {path}: unsupported format '{ext}' (use .jsonl or .csv)"),
        };
        // A set finds out whether any id repeats; only then does the grouping name the first repeated id (in file order).
        var ids = new HashSet<string>(samples.Count, StringComparer.Ordinal);
        if (!samples.TrueForAll(s => ids.Add(s.Id)) && samples.GroupBy(s => s.Id).FirstOrDefault(g => g.Count() > 1) is { } dup)
        {
            throw new EvalInputException($"dataset {path}: duplicate sample id '{dup.Key}'");
        }
        return samples;
    }

    private static List<EvalSample> LoadJsonl(string path)
    {
        var list = new List<EvalSample>();
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(line);
                list.Add(FromJson(doc.RootElement, list.Count + 1));
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
            {
                throw new EvalInputException($"dataset {path} line {lineNo}: {(e is JsonException json ? JsonErrorText.Describe(json) : e.Message)}", e);
            }
        }
        return list;
    }

    private static EvalSample FromJson(JsonElement e, int ordinal)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("expected a JSON object");
        }
        if (!e.TryGetProperty("input", out var input))
        {
            throw new FormatException("missing 'input'");
        }
        var id = e.TryGetProperty("id", out var idEl)
            ? (idEl.ValueKind == JsonValueKind.String ? idEl.GetString()! : idEl.GetRawText())
            : ordinal.ToString(CultureInfo.InvariantCulture);
        var messages = new List<ChatMessage>();
        if (input.ValueKind == JsonValueKind.String)
        {
            messages.Add(new ChatMessage(ChatRole.User, input.GetString()));
        }
        else if (input.ValueKind == JsonValueKind.Array)
        {
            foreach (var m in input.EnumerateArray())
            {
                var role = m.GetProperty("role").GetString() ?? throw new FormatException("message without role");
                messages.Add(new ChatMessage(new ChatRole(role), m.GetProperty("content").GetString()));
            }
            if (messages.Count == 0)
            {
                throw new FormatException("'input' is an empty message list");
            }
        }
        else
        {
            throw new FormatException("'input' must be a string or a list of chat messages");
        }
        var target = new List<string>();
        if (e.TryGetProperty("target", out var t))
        {
            if (t.ValueKind == JsonValueKind.Array)
            {
                foreach (var x in t.EnumerateArray())
                {
                    target.Add(Text(x));
                }
            }
            else if (t.ValueKind != JsonValueKind.Null)
            {
                target.Add(Text(t));
            }
        }
        List<string>? choices = null;
        if (e.TryGetProperty("choices", out var c) && c.ValueKind == JsonValueKind.Array)
        {
            choices = c.EnumerateArray().Select(Text).ToList();
        }
        var metadata = new Dictionary<string, string>();
        if (e.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in md.EnumerateObject())
            {
                metadata[p.Name] = Text(p.Value);
            }
        }
        return new EvalSample { Id = id, Input = messages, Target = target, Choices = choices, Metadata = metadata };
    }

    private static string Text(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();

    // CSV: header row with id,input,target[,choices][,metadata columns]; choices separated by '|'.
    private static List<EvalSample> LoadCsv(string path)
    {
        var rows = ParseCsv(File.ReadAllText(path), path);
        if (rows.Count == 0)
        {
            return [];
        }
        var header = rows[0].Fields.Select(h => h.Trim().ToLowerInvariant()).ToList();
        var inputCol = header.IndexOf("input");
        if (inputCol < 0)
        {
            throw new EvalInputException($"dataset {path} line 1: CSV header needs an 'input' column");
        }
        var list = new List<EvalSample>();
        foreach (var (line, fields) in rows.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Length == 0)
            {
                continue;
            }
            if (fields.Count != header.Count)
            {
                throw new EvalInputException($"dataset {path} line {line}: expected {header.Count} fields, found {fields.Count}");
            }
            string? Get(string name) => header.IndexOf(name) is var i and >= 0 ? fields[i] : null;
            var metadata = new Dictionary<string, string>();
            for (var i = 0; i < header.Count; i++)
            {
                if (header[i] is not ("id" or "input" or "target" or "choices"))
                {
                    metadata[header[i]] = fields[i];
                }
            }
            list.Add(new EvalSample
            {
                Id = Get("id") is { Length: > 0 } id ? id : (list.Count + 1).ToString(CultureInfo.InvariantCulture),
                Input = [new ChatMessage(ChatRole.User, fields[inputCol])],
                Target = Get("target") is { } t ? [t] : [],
                Choices = Get("choices") is { Length: > 0 } ch ? ch.Split('|') : null,
                Metadata = metadata,
            });
        }
        return list;
    }

    private static List<(int Line, List<string> Fields)> ParseCsv(string text, string path)
    {
        var rows = new List<(int, List<string>)>();
        var fields = new List<string>();
        var sb = new StringBuilder();
        var line = 1;
        var rowStart = 1;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (quoted)
            {
                if (ch == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"')
                    {
                        sb.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    if (ch == '\n')
                    {
                        line++;
                    }
                    sb.Append(ch);
                }
                continue;
            }
            switch (ch)
            {
                case '"' when sb.Length == 0:
                    quoted = true;
                    break;
                case ',':
                    fields.Add(sb.ToString());
                    sb.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    fields.Add(sb.ToString());
                    sb.Clear();
                    rows.Add((rowStart, fields));
                    fields = [];
                    line++;
                    rowStart = line;
                    break;
                default:
                    sb.Append(ch);
                    break;
            }
        }
        if (quoted)
        {
            throw new EvalInputException($"dataset {path} line {rowStart}: unterminated quoted field");
        }
        if (sb.Length > 0 || fields.Count > 0)
        {
            fields.Add(sb.ToString());
            rows.Add((rowStart, fields));
        }
        return rows;
    }
}
