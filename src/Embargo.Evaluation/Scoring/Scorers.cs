using System.Globalization;
using System.Text.RegularExpressions;
using Embargo.Evaluation.Data;
using Embargo.Evaluation.Solving;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation.Scoring;

/// <summary>A sample's score in [0, 1] and why. The answer is what the scorer extracted from the output.</summary>
public sealed record Score(double Value, string? Answer, string Explanation);

public interface IScorer
{
    Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct);
}

/// <summary>Answer extraction shared by the scorers: the text after the last "ANSWER:" if present, else the whole output.</summary>
public static partial class AnswerText
{
    [GeneratedRegex(@"ANSWER\s*:\s*(.+)", RegexOptions.IgnoreCase)]
    private static partial Regex AnswerLine();

    public static string Extract(string output)
    {
        var matches = AnswerLine().Matches(output);
        return (matches.Count > 0 ? matches[^1].Groups[1].Value : output).Trim();
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    public static string Normalize(string s) => Whitespace().Replace(s.Trim().TrimEnd('.').ToLowerInvariant(), " ");
}

public sealed class ExactScorer : IScorer
{
    public Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct)
    {
        var answer = AnswerText.Extract(state.Output);
        var normalized = AnswerText.Normalize(answer);
        string? hit = null;
        foreach (var t in target)
        {
            if (AnswerText.Normalize(t) == normalized)
            {
                hit = t;
                break;
            }
        }
        return Task.FromResult(new Score(hit is null ? 0 : 1, answer,
            hit is null ? $"'{answer}' matches no target" : $"'{answer}' equals target '{hit}'"));
    }
}

public sealed class IncludesScorer(bool ignoreCase) : IScorer
{
    public Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct)
    {
        var cmp = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var hit = target.FirstOrDefault(t => state.Output.Contains(t, cmp));
        return Task.FromResult(new Score(hit is null ? 0 : 1, hit,
            hit is null ? "output includes no target" : $"output includes '{hit}'"));
    }
}

/// <summary>The pattern extracts the answer (group 1, else the whole match), compared with the targets;
/// with no targets, a match is correct.</summary>
public sealed class RegexScorer(string pattern, bool ignoreCase) : IScorer
{
    private readonly Regex _regex = new(pattern, (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None) | RegexOptions.Multiline, TimeSpan.FromSeconds(1));

    public Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct)
    {
        var m = _regex.Match(state.Output);
        if (!m.Success)
        {
            return Task.FromResult(new Score(0, null, $"pattern /{pattern}/ did not match"));
        }
        var answer = m.Groups.Count > 1 ? m.Groups[1].Value : m.Value;
        if (target.Count == 0)
        {
            return Task.FromResult(new Score(1, answer, "pattern matched"));
        }
        var cmp = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var hit = target.Any(t => string.Equals(t.Trim(), answer.Trim(), cmp));
        return Task.FromResult(new Score(hit ? 1 : 0, answer, hit ? $"extracted '{answer}' equals target" : $"extracted '{answer}' matches no target"));
    }
}

/// <summary>Multiple-choice letter: "ANSWER: X" (last one wins), else an output that is just a letter ("B", "(B)", "B.").</summary>
public sealed partial class ChoiceScorer : IScorer
{
    [GeneratedRegex(@"ANSWER\s*:\s*\(?([A-Za-z])\)?(?![A-Za-z])", RegexOptions.IgnoreCase)]
    private static partial Regex AnswerLetter();

    [GeneratedRegex(@"^\s*\(?([A-Za-z])\)?[.:]?\s*$")]
    private static partial Regex BareLetter();

    public static string? ExtractLetter(string output)
    {
        var matches = AnswerLetter().Matches(output);
        if (matches.Count > 0)
        {
            return matches[^1].Groups[1].Value.ToUpperInvariant();
        }
        var bare = BareLetter().Match(output);
        return bare.Success ? bare.Groups[1].Value.ToUpperInvariant() : null;
    }

    public Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct)
    {
        var letter = ExtractLetter(state.Output);
        if (letter is null)
        {
            return Task.FromResult(new Score(0, null, "no answer letter found in the output"));
        }
        var choices = state.Sample.Choices;
        if (choices is { Count: > 0 } && letter[0] - 'A' >= choices.Count)
        {
            return Task.FromResult(new Score(0, letter, $"letter {letter} is not one of the {choices.Count} options"));
        }
        var ok = target.Any(t => string.Equals(t.Trim(), letter, StringComparison.OrdinalIgnoreCase));
        return Task.FromResult(new Score(ok ? 1 : 0, letter, ok ? $"chose {letter}, correct" : $"chose {letter}, target {string.Join("/", target)}"));
    }
}

/// <summary>Numeric answer within a tolerance (absolute, or relative to the target): the last number in the answer.</summary>
public sealed partial class NumericScorer(double tolerance, bool relative) : IScorer
{
    [GeneratedRegex(@"-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")]
    private static partial Regex Number();

    public Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct)
    {
        var matches = Number().Matches(AnswerText.Extract(state.Output));
        if (matches.Count == 0)
        {
            return Task.FromResult(new Score(0, null, "no number found in the output"));
        }
        var text = matches[^1].Value.Replace(",", "", StringComparison.Ordinal);
        var value = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        foreach (var t in target)
        {
            if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var expected))
            {
                var allowed = relative ? Math.Abs(expected) * tolerance : tolerance;
                if (Math.Abs(value - expected) <= allowed)
                {
                    return Task.FromResult(new Score(1, text, $"{text} is within {allowed.ToString(CultureInfo.InvariantCulture)} of {t}"));
                }
            }
        }
        return Task.FromResult(new Score(0, text, $"{text} is not within tolerance of {string.Join("/", target)}"));
    }
}

/// <summary>A grader model applies a rubric; it must reply with "GRADE: C" (correct), "GRADE: P" (partial, 0.5)
/// or "GRADE: I" (incorrect). An unparseable grade scores 0 and keeps the grader's text.</summary>
public sealed partial class ModelGradedScorer(IGenerate grader, string? rubric) : IScorer
{
    [GeneratedRegex(@"GRADE\s*:\s*([CPI])\b", RegexOptions.IgnoreCase)]
    private static partial Regex Grade();

    public async Task<Score> ScoreAsync(TaskState state, IReadOnlyList<string> target, CancellationToken ct)
    {
        var prompt = $"""
            You are grading an answer to a question.

            [Question]
            {state.Sample.InputText}

            [Reference answer]
            {string.Join(" | ", target)}

            [Rubric]
            {rubric ?? "The answer is correct if it agrees with the reference answer in substance."}

            [Answer to grade]
            {state.Output}

            Explain briefly, then end with exactly one line: GRADE: C (correct), GRADE: P (partially correct) or GRADE: I (incorrect).
            """;
        var response = await grader.GenerateAsync([new ChatMessage(ChatRole.User, prompt)], null, ct);
        var text = response.Text;
        var matches = Grade().Matches(text);
        if (matches.Count == 0)
        {
            return new Score(0, null, $"grader {grader.ModelName} gave no grade: {text}");
        }
        var g = matches[^1].Groups[1].Value.ToUpperInvariant();
        return new Score(g switch { "C" => 1, "P" => 0.5, _ => 0 }, g, $"grader {grader.ModelName}: {text.Trim()}");
    }
}

public static class ScorerFactory
{
    public static IScorer Build(ScorerSpec spec, IGenerate? grader) => spec.Type switch
    {
        "exact" => new ExactScorer(),
        "includes" => new IncludesScorer(spec.IgnoreCase),
        "regex" => new RegexScorer(spec.Pattern!, spec.IgnoreCase),
        "choice" => new ChoiceScorer(),
        "numeric" => new NumericScorer(spec.Tolerance, spec.Relative),
        "model_graded" => new ModelGradedScorer(grader ?? throw new EvalInputException("the model_graded scorer needs a grader model"), spec.Rubric),
        _ => throw new EvalInputException($"unknown scorer '{spec.Type}'"),
    };
}
