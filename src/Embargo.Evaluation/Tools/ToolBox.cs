using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation.Tools;

/// <summary>
/// The project's sandboxed tools, offered to the model through the chat-completions tools API:
/// "calculator" (arithmetic only; no code execution) and "documents" (read-only lookup over the files a task ships,
/// confined to one folder). Tool errors are returned to the model as text, never thrown.
/// </summary>
public sealed class ToolBox
{
    private readonly string? _documentRoot;
    private readonly List<AITool> _declarations = [];

    public ToolBox(IEnumerable<string> names, string? documentRoot)
    {
        _documentRoot = documentRoot is null ? null : Path.GetFullPath(documentRoot);
        foreach (var name in names)
        {
            _declarations.Add(name switch
            {
                "calculator" => AIFunctionFactory.CreateDeclaration("calculator",
                    "Evaluates an arithmetic expression (+ - * / ^, parentheses, sqrt). Returns the number.",
                    Schema("""{"type":"object","properties":{"expression":{"type":"string"}},"required":["expression"]}""")),
                "documents" => AIFunctionFactory.CreateDeclaration("documents",
                    "Read-only lookup over the task's documents. action 'list' lists them; 'read' returns one by name; 'search' finds lines containing a query.",
                    Schema("""{"type":"object","properties":{"action":{"type":"string","enum":["list","read","search"]},"name":{"type":"string"},"query":{"type":"string"}},"required":["action"]}""")),
                _ => throw new EvalInputException($"unknown tool '{name}'"),
            });
        }
    }

    public IReadOnlyList<AITool> Declarations => _declarations;

    private static JsonElement Schema(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    public string Invoke(string name, IDictionary<string, object?>? args)
    {
        string Arg(string key) => args is not null && args.TryGetValue(key, out var v) && v is not null
            ? (v is JsonElement { ValueKind: JsonValueKind.String } je ? je.GetString() ?? "" : v.ToString() ?? "") : "";
        try
        {
            return name switch
            {
                "calculator" when _declarations.Any(d => d.Name == "calculator") =>
                    Calculator.Evaluate(Arg("expression")).ToString("G15", CultureInfo.InvariantCulture),
                "documents" when _declarations.Any(d => d.Name == "documents") => Documents(Arg("action"), Arg("name"), Arg("query")),
                _ => $"error: tool '{name}' is not available",
            };
        }
        catch (FormatException e)
        {
            return "error: " + e.Message;
        }
    }

    private string Documents(string action, string name, string query)
    {
        if (_documentRoot is null || !Directory.Exists(_documentRoot))
        {
            return "error: this task ships no documents";
        }
        var files = Directory.EnumerateFiles(_documentRoot, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_documentRoot, f).Replace('\\', '/')).Order(StringComparer.Ordinal).ToList();
        switch (action)
        {
            case "list":
                return string.Join("\n", files);
            case "read":
                if (!files.Contains(name))
                {
                    return $"error: no document named '{name}'";
                }
                var text = File.ReadAllText(Path.Combine(_documentRoot, name));
                return text.Length > 20_000 ? text[..20_000] + "\n[truncated]" : text;
            case "search":
                if (string.IsNullOrWhiteSpace(query))
                {
                    return "error: search needs a query";
                }
                var hits = files.SelectMany(f => File.ReadLines(Path.Combine(_documentRoot, f))
                        .Select((l, i) => (f, i, l)))
                    .Where(x => x.l.Contains(query, StringComparison.OrdinalIgnoreCase))
                    .Take(20).Select(x => $"{x.f}:{x.i + 1}: {x.l}");
                return string.Join("\n", hits) is { Length: > 0 } s ? s : "no matches";
            default:
                return "error: action must be list, read or search";
        }
    }
}

/// <summary>A recursive-descent arithmetic evaluator: numbers, + - * / ^, unary minus, parentheses, sqrt(x).</summary>
public static class Calculator
{
    public static double Evaluate(string expression)
    {
        var p = new Parser(expression);
        var value = p.Expr();
        p.SkipWs();
        if (p.Pos < expression.Length)
        {
            throw new FormatException($"unexpected '{expression[p.Pos]}' at column {p.Pos + 1}");
        }
        return value;
    }

    private sealed class Parser(string s)
    {
        public int Pos;

        public void SkipWs()
        {
            while (Pos < s.Length && char.IsWhiteSpace(s[Pos]))
            {
                Pos++;
            }
        }

        private bool Eat(char c)
        {
            SkipWs();
            if (Pos < s.Length && s[Pos] == c)
            {
                Pos++;
                return true;
            }
            return false;
        }

        public double Expr()
        {
            var v = Term();
            while (true)
            {
                if (Eat('+')) { v += Term(); }
                else if (Eat('-')) { v -= Term(); }
                else { return v; }
            }
        }

        private double Term()
        {
            var v = Power();
            while (true)
            {
                if (Eat('*')) { v *= Power(); }
                else if (Eat('/'))
                {
                    var d = Power();
                    if (d == 0)
                    {
                        throw new FormatException("division by zero");
                    }
                    v /= d;
                }
                else { return v; }
            }
        }

        private double Power()
        {
            var b = Unary();
            return Eat('^') ? Math.Pow(b, Power()) : b;
        }

        private double Unary()
        {
            if (Eat('-'))
            {
                return -Unary();
            }
            if (Eat('+'))
            {
                return Unary();
            }
            return Atom();
        }

        private double Atom()
        {
            SkipWs();
            if (Eat('('))
            {
                var v = Expr();
                if (!Eat(')'))
                {
                    throw new FormatException($"expected ')' at column {Pos + 1}");
                }
                return v;
            }
            if (string.CompareOrdinal(s, Pos, "sqrt", 0, 4) == 0)
            {
                Pos += 4;
                if (!Eat('('))
                {
                    throw new FormatException($"expected '(' at column {Pos + 1}");
                }
                var v = Expr();
                if (!Eat(')'))
                {
                    throw new FormatException($"expected ')' at column {Pos + 1}");
                }
                return Math.Sqrt(v);
            }
            var start = Pos;
            while (Pos < s.Length && (char.IsDigit(s[Pos]) || s[Pos] == '.' || s[Pos] == 'e' || s[Pos] == 'E'
                   || ((s[Pos] == '-' || s[Pos] == '+') && Pos > start && (s[Pos - 1] == 'e' || s[Pos - 1] == 'E'))))
            {
                Pos++;
            }
            if (start == Pos || !double.TryParse(s.AsSpan(start, Pos - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var n))
            {
                throw new FormatException($"expected a number at column {start + 1}");
            }
            return n;
        }
    }
}
