using System.Globalization;

namespace Embargo.Evaluation;

/// <summary>A parse error names the 1-based column where the text stops making sense.</summary>
public sealed record CommitmentParseError(int Column, string Message)
{
    public override string ToString() => $"column {Column}: {Message}";
}

public sealed record CommitmentParseResult
{
    public Commitment? Commitment { get; init; }
    public CommitmentParseError? Error { get; init; }
    public bool Success => Commitment is not null;
}

/// <summary>One value the commitment read, e.g. uplift("cyber-phishing") = 0.6; null when the result is missing.</summary>
public sealed record CommitmentEvidence(string Function, string Capability, double? Value)
{
    /// <summary>For verdict(...): the verdict read (null when missing).</summary>
    public string? Text { get; init; }
}

public sealed record CommitmentOutcome
{
    public required bool Fired { get; init; }
    /// <summary>The tier the commitment caps at, when it fired (the lead maps tier names).</summary>
    public string? MaxTier { get; init; }
    /// <summary>True when a value the condition needed was missing and the condition could not be decided
    /// (such a commitment does not fire; the caller should treat the case as not yet evaluated).</summary>
    public bool Undetermined { get; init; }
    public required IReadOnlyList<CommitmentEvidence> Evidence { get; init; }
}

/// <summary>
/// An if-then commitment: <c>CONDITION =&gt; max_tier(TIER)</c>. See README.md for the grammar. Evaluation uses
/// three-valued logic: a missing result makes a comparison unknown; <c>false and unknown</c> is false,
/// <c>true or unknown</c> is true; a commitment fires only when its condition is definitely true.
/// </summary>
public sealed class Commitment
{
    /// <summary>The longest commitment text accepted, in characters (checked before tokenising).</summary>
    public const int MaxLength = 2000;

    /// <summary>The deepest nesting of parentheses and 'not' accepted (checked while parsing, so no input can overflow the stack).</summary>
    public const int MaxDepth = 32;

    public static readonly IReadOnlyList<string> Functions =
        ["uplift", "p", "accuracy", "baseline_accuracy", "ci_low", "ci_high", "samples", "upper", "verdict"];

    private readonly Node _condition;

    private Commitment(string text, Node condition, string tier)
    {
        Text = text;
        _condition = condition;
        Tier = tier;
    }

    public string Text { get; }
    /// <summary>The tier named by max_tier(...).</summary>
    public string Tier { get; }
    /// <summary>Capabilities the condition reads.</summary>
    public IReadOnlyList<string> Capabilities => Calls(_condition).Select(c => c.Capability).Distinct().ToList();

    public static CommitmentParseResult Parse(string text)
    {
        if (text.Length > MaxLength)
        {
            return new CommitmentParseResult { Error = new CommitmentParseError(MaxLength + 1, $"the commitment is longer than {MaxLength} characters") };
        }
        try
        {
            var p = new Parser(text);
            var (cond, tier) = p.ParseCommitment();
            return new CommitmentParseResult { Commitment = new Commitment(text, cond, tier) };
        }
        catch (ParseException e)
        {
            return new CommitmentParseResult { Error = new CommitmentParseError(e.Column, e.Message) };
        }
    }

    public CommitmentOutcome Evaluate(IReadOnlyDictionary<string, EvalSummary> resultsByCapability)
    {
        var evidence = new List<CommitmentEvidence>();
        var result = Eval(_condition, resultsByCapability, evidence) as bool?;
        return new CommitmentOutcome
        {
            Fired = result == true,
            MaxTier = result == true ? Tier : null,
            Undetermined = result is null,
            Evidence = evidence.Distinct().ToList(),
        };
    }

    public override string ToString() => Text;

    private static object? Eval(Node node, IReadOnlyDictionary<string, EvalSummary> results, List<CommitmentEvidence> evidence)
    {
        switch (node)
        {
            case Num n:
                return n.Value;
            case Str str:
                return str.Value;
            case VerdictCall vc:
                {
                    var verdict = results.TryGetValue(vc.Capability, out var vs) ? vs.Verdict?.Verdict : null;
                    evidence.Add(new CommitmentEvidence("verdict", vc.Capability, null) { Text = verdict });
                    return verdict;
                }
            case Bool b:
                return b.Value;
            case Call c:
                var v = Read(c, results);
                evidence.Add(new CommitmentEvidence(c.Function, c.Capability, v));
                return v;
            case Not n:
                return Eval(n.Operand, results, evidence) is bool x ? !x : null;
            case And a:
                {
                    var l = (bool?)Eval(a.Left, results, evidence);
                    var r = (bool?)Eval(a.Right, results, evidence);
                    return l == false || r == false ? false : l == true && r == true ? true : null;
                }
            case Or o:
                {
                    var l = (bool?)Eval(o.Left, results, evidence);
                    var r = (bool?)Eval(o.Right, results, evidence);
                    return l == true || r == true ? true : l == false && r == false ? false : null;
                }
            case Compare cmp:
                {
                    var leftValue = Eval(cmp.Left, results, evidence);
                    var rightValue = Eval(cmp.Right, results, evidence);
                    if (leftValue is string || rightValue is string)
                    {
                        // verdict("cap") == "novel": strings compare for (in)equality only; a missing verdict is unknown.
                        return leftValue is string ls && rightValue is string rs ? (cmp.Op == "==" ? ls == rs : ls != rs) : null;
                    }
                    if (leftValue is not double l || rightValue is not double r)
                    {
                        return null;
                    }
                    return cmp.Op switch
                    {
                        "<" => l < r,
                        "<=" => l <= r,
                        ">" => l > r,
                        ">=" => l >= r,
                        "==" => l == r,
                        _ => l != r,
                    };
                }
            default:
                throw new InvalidOperationException("unknown node");
        }
    }

    private static double? Read(Call c, IReadOnlyDictionary<string, EvalSummary> results)
    {
        if (!results.TryGetValue(c.Capability, out var s))
        {
            return null;
        }
        return c.Function switch
        {
            "uplift" => s.Uplift?.Estimate,
            "p" => s.Uplift?.P,
            "ci_low" => s.Uplift?.Ci95Low,
            "ci_high" => s.Uplift?.Ci95High,
            "accuracy" => s.Subject.Accuracy,
            "baseline_accuracy" => s.Baseline?.Accuracy,
            "samples" => s.Samples,
            "upper" => s.Verdict?.Upper,
            _ => null,
        };
    }

    private static IEnumerable<Call> Calls(Node n) => n switch
    {
        Call c => [c],
        VerdictCall v => [new Call("verdict", v.Capability)],
        Not x => Calls(x.Operand),
        And a => Calls(a.Left).Concat(Calls(a.Right)),
        Or o => Calls(o.Left).Concat(Calls(o.Right)),
        Compare c => Calls(c.Left).Concat(Calls(c.Right)),
        _ => [],
    };

    private abstract record Node(bool IsBool);
    private sealed record Num(double Value) : Node(false);
    private sealed record Bool(bool Value) : Node(true);
    private sealed record Call(string Function, string Capability) : Node(false);
    /// <summary>verdict("cap"): a string, compared with == or != to a quoted verdict.</summary>
    private sealed record VerdictCall(string Capability) : Node(false);
    private sealed record Str(string Value) : Node(false);
    private sealed record Not(Node Operand) : Node(true);
    private sealed record And(Node Left, Node Right) : Node(true);
    private sealed record Or(Node Left, Node Right) : Node(true);
    private sealed record Compare(string Op, Node Left, Node Right) : Node(true);

    private sealed class ParseException(int column, string message) : Exception(message)
    {
        public int Column { get; } = column;
    }

    private enum Kind { Number, String, Ident, Symbol, End }

    private readonly record struct Token(Kind Kind, string Text, int Column);

    private sealed class Parser
    {
        private readonly List<Token> _tokens = [];
        private int _pos;
        private int _depth;

        public Parser(string text)
        {
            var i = 0;
            while (i < text.Length)
            {
                var ch = text[i];
                if (char.IsWhiteSpace(ch))
                {
                    i++;
                }
                else if (char.IsDigit(ch) || (ch == '.' && i + 1 < text.Length && char.IsDigit(text[i + 1])))
                {
                    var start = i;
                    while (i < text.Length && (char.IsDigit(text[i]) || text[i] == '.'))
                    {
                        i++;
                    }
                    if (i < text.Length && (text[i] == 'e' || text[i] == 'E'))
                    {
                        i++;
                        if (i < text.Length && (text[i] == '-' || text[i] == '+'))
                        {
                            i++;
                        }
                        while (i < text.Length && char.IsDigit(text[i]))
                        {
                            i++;
                        }
                    }
                    _tokens.Add(new Token(Kind.Number, text[start..i], start + 1));
                }
                else if (char.IsLetter(ch) || ch == '_')
                {
                    var start = i;
                    while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '-'))
                    {
                        i++;
                    }
                    _tokens.Add(new Token(Kind.Ident, text[start..i], start + 1));
                }
                else if (ch is '"' or '\'')
                {
                    var start = i;
                    var end = text.IndexOf(ch, i + 1);
                    if (end < 0)
                    {
                        throw new ParseException(start + 1, "unterminated string");
                    }
                    _tokens.Add(new Token(Kind.String, text[(i + 1)..end], start + 1));
                    i = end + 1;
                }
                else
                {
                    var two = i + 1 < text.Length ? text.Substring(i, 2) : "";
                    if (two is ">=" or "<=" or "==" or "!=" or "=>" or "&&" or "||")
                    {
                        _tokens.Add(new Token(Kind.Symbol, two, i + 1));
                        i += 2;
                    }
                    else if (ch is '<' or '>' or '(' or ')' or '!')
                    {
                        _tokens.Add(new Token(Kind.Symbol, ch.ToString(), i + 1));
                        i++;
                    }
                    else
                    {
                        throw new ParseException(i + 1, $"unexpected character '{OneLine(ch.ToString())}'");
                    }
                }
            }
            _tokens.Add(new Token(Kind.End, "", text.Length + 1));
        }

        private Token Peek => _tokens[_pos];

        private bool IsKeyword(string word) => Peek.Kind == Kind.Ident && Peek.Text == word;

        private bool IsSymbol(string s) => Peek.Kind == Kind.Symbol && Peek.Text == s;

        private static string Describe(Token t) => t.Kind == Kind.End ? "end of text" : $"'{OneLine(t.Text)}'";

        /// <summary>Error messages stay one short line: control characters are written as \uXXXX, long text is cut.</summary>
        private static string OneLine(string text)
        {
            var shown = string.Concat(text.Take(40).Select(c => char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString()));
            return text.Length > 40 ? shown + "…" : shown;
        }

        private Token Expect(Kind kind, string? text, string what)
        {
            var t = Peek;
            if (t.Kind != kind || (text is not null && t.Text != text))
            {
                throw new ParseException(t.Column, $"expected {what}, found {Describe(t)}");
            }
            _pos++;
            return t;
        }

        public (Node, string) ParseCommitment()
        {
            var start = Peek;
            var cond = Or();
            if (!cond.IsBool)
            {
                throw new ParseException(start.Column, "the condition must be a comparison or a boolean expression");
            }
            Expect(Kind.Symbol, "=>", "'=>'");
            Expect(Kind.Ident, "max_tier", "max_tier(TIER)");
            Expect(Kind.Symbol, "(", "'('");
            var tierTok = Peek;
            if (tierTok.Kind is not (Kind.Ident or Kind.String) || tierTok.Text.Length == 0)
            {
                throw new ParseException(tierTok.Column, $"expected a tier name, found {Describe(tierTok)}");
            }
            _pos++;
            Expect(Kind.Symbol, ")", "')'");
            Expect(Kind.End, null, "end of text");
            return (cond, tierTok.Text);
        }

        private Node Or()
        {
            var left = And();
            while (IsKeyword("or") || IsSymbol("||"))
            {
                var op = Peek;
                _pos++;
                var right = And();
                left = new Or(RequireBool(left, op), RequireBool(right, op));
            }
            return left;
        }

        private Node And()
        {
            var left = Unary();
            while (IsKeyword("and") || IsSymbol("&&"))
            {
                var op = Peek;
                _pos++;
                var right = Unary();
                left = new And(RequireBool(left, op), RequireBool(right, op));
            }
            return left;
        }

        /// <summary>One more level of '(' or 'not'; refused past <see cref="MaxDepth"/> before recursing further.</summary>
        private void Enter(Token at)
        {
            if (++_depth > MaxDepth)
            {
                throw new ParseException(at.Column, $"the commitment nests deeper than {MaxDepth} levels of parentheses and 'not'");
            }
        }

        private static Node RequireBool(Node n, Token op) =>
            n.IsBool ? n : throw new ParseException(op.Column, $"'{op.Text}' needs comparisons on both sides");

        private Node Unary()
        {
            if (IsKeyword("not") || IsSymbol("!"))
            {
                var op = Peek;
                _pos++;
                Enter(op);
                var operand = Unary();
                _depth--;
                return new Not(operand.IsBool ? operand : throw new ParseException(op.Column, "'not' needs a comparison or boolean"));
            }
            return Comparison();
        }

        private Node Comparison()
        {
            var left = Term();
            if (Peek.Kind == Kind.Symbol && Peek.Text is "<" or "<=" or ">" or ">=" or "==" or "!=")
            {
                var op = Peek;
                _pos++;
                var rightTok = Peek;
                var right = Term();
                if (left.IsBool)
                {
                    throw new ParseException(op.Column, $"'{op.Text}' compares numbers, not conditions");
                }
                if (right.IsBool)
                {
                    throw new ParseException(rightTok.Column, $"'{op.Text}' compares numbers, not conditions");
                }
                if (IsText(left) || IsText(right))
                {
                    if (op.Text is not ("==" or "!="))
                    {
                        throw new ParseException(op.Column, $"'{op.Text}' compares numbers; a verdict is compared with == or !=");
                    }
                    if (!(IsText(left) && IsText(right)))
                    {
                        throw new ParseException(rightTok.Column, "a verdict is compared with a quoted verdict (\"novel\", \"not-novel\" or \"inconclusive\"), not a number");
                    }
                    foreach (var side in new[] { left, right })
                    {
                        if (side is Str { Value: var v } && !Verdicts.Contains(v))
                        {
                            throw new ParseException(rightTok.Column, $"'{v}' is not a verdict (one of {string.Join(", ", Verdicts)})");
                        }
                    }
                }
                return new Compare(op.Text, left, right);
            }
            if (IsText(left))
            {
                throw new ParseException(Peek.Column, "a verdict or a quoted text must be compared with == or !=");
            }
            return left;
        }

        private static readonly string[] Verdicts = [Statistics.Verdicts.Novel, Statistics.Verdicts.NotNovel, Statistics.Verdicts.Inconclusive];

        private static bool IsText(Node n) => n is Str or VerdictCall;

        private Node Term()
        {
            var t = Peek;
            switch (t.Kind)
            {
                case Kind.Number:
                    _pos++;
                    if (!double.TryParse(t.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                    {
                        throw new ParseException(t.Column, $"'{OneLine(t.Text)}' is not a number");
                    }
                    return new Num(v);
                case Kind.Symbol when t.Text == "(":
                    _pos++;
                    Enter(t);
                    var inner = Or();
                    Expect(Kind.Symbol, ")", "')'");
                    _depth--;
                    return inner;
                case Kind.Ident when t.Text is "true" or "false":
                    _pos++;
                    return new Bool(t.Text == "true");
                case Kind.Ident:
                    if (!Functions.Contains(t.Text))
                    {
                        throw new ParseException(t.Column, $"unknown function '{OneLine(t.Text)}' (one of {string.Join(", ", Functions)})");
                    }
                    _pos++;
                    Expect(Kind.Symbol, "(", $"'(' after {t.Text}");
                    var arg = Peek;
                    if (arg.Kind is not (Kind.String or Kind.Ident) || arg.Text.Length == 0)
                    {
                        throw new ParseException(arg.Column, $"expected a capability name, found {Describe(arg)}");
                    }
                    _pos++;
                    Expect(Kind.Symbol, ")", "')'");
                    return t.Text == "verdict" ? new VerdictCall(arg.Text) : new Call(t.Text, arg.Text);
                case Kind.String:
                    _pos++;
                    return new Str(t.Text);
                default:
                    throw new ParseException(t.Column, $"expected a number, a function or '(', found {Describe(t)}");
            }
        }
    }
}
