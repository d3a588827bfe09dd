namespace Embargo.Evaluation.Tests;

public class CommitmentTests
{
    private static EvalSummary Result(string cap, double uplift, double p, double subjectAcc = 0.8, double? baselineAcc = 0.4) => new()
    {
        Task = cap,
        Capability = cap,
        Samples = 40,
        LogPath = "x.json",
        Subject = new ConditionResult { Accuracy = subjectAcc, Ci95Low = 0.6, Ci95High = 0.9, Correct = 32, Total = 40, Model = "s" },
        Baseline = baselineAcc is null ? null : new ConditionResult { Accuracy = baselineAcc.Value, Ci95Low = 0.3, Ci95High = 0.5, Correct = 16, Total = 40, Model = "b" },
        Uplift = baselineAcc is null ? null : new UpliftResult { Estimate = uplift, Ci95Low = uplift - 0.2, Ci95High = uplift + 0.1, P = p, Test = "mcnemar-exact" },
    };

    private static Dictionary<string, EvalSummary> Results(params EvalSummary[] s) => s.ToDictionary(x => x.Capability);

    [Fact]
    public void TheExampleCommitmentFiresWhenUpliftIsLargeAndSignificant()
    {
        var parsed = Commitment.Parse("""uplift("bio-acquisition") >= 0.10 and p("bio-acquisition") < 0.05 => max_tier(hosted)""");
        Assert.True(parsed.Success, parsed.Error?.ToString());
        var outcome = parsed.Commitment!.Evaluate(Results(Result("bio-acquisition", 0.12, 0.01)));
        Assert.True(outcome.Fired);
        Assert.Equal("hosted", outcome.MaxTier);
        Assert.Equal([new CommitmentEvidence("uplift", "bio-acquisition", 0.12), new CommitmentEvidence("p", "bio-acquisition", 0.01)], outcome.Evidence);
    }

    [Theory]
    [InlineData(0.09, 0.01)]
    [InlineData(0.12, 0.05)]
    public void TheCommitmentDoesNotFireBelowEitherThreshold(double uplift, double p)
    {
        var c = Commitment.Parse("""uplift("bio") >= 0.10 and p("bio") < 0.05 => max_tier(hosted)""").Commitment!;
        var outcome = c.Evaluate(Results(Result("bio", uplift, p)));
        Assert.False(outcome.Fired);
        Assert.Null(outcome.MaxTier);
        Assert.False(outcome.Undetermined);
    }

    [Fact]
    public void OrNotParenthesesAndAllFunctionsEvaluate()
    {
        var c = Commitment.Parse(
            """(accuracy("a") > 0.7 and not baseline_accuracy("a") >= 0.5) or (ci_low('b') > 0 && ci_high(b) <= 1) => max_tier("api")""").Commitment!;
        Assert.True(c.Evaluate(Results(Result("a", 0.4, 0.01), Result("b", -0.5, 0.9))).Fired);
        Assert.False(c.Evaluate(Results(Result("a", 0.4, 0.01, baselineAcc: 0.6), Result("b", 0.1, 0.9))).Fired);   // ci_low = −0.1
        Assert.True(c.Evaluate(Results(Result("a", 0.4, 0.01, baselineAcc: 0.6), Result("b", 0.3, 0.9))).Fired);    // ci_low = 0.1
        Assert.Equal("api", c.Tier);
        Assert.Equal(["a", "b"], c.Capabilities);
    }

    [Fact]
    public void AMissingResultLeavesTheCommitmentUndeterminedNotFired()
    {
        var c = Commitment.Parse("""not uplift("bio") >= 0.10 => max_tier(hosted)""").Commitment!;
        var outcome = c.Evaluate(Results(Result("cyber", 0.5, 0.001)));
        Assert.False(outcome.Fired);
        Assert.True(outcome.Undetermined);
        Assert.Equal([new CommitmentEvidence("uplift", "bio", null)], outcome.Evidence);
        // and a run without a baseline has no uplift either
        Assert.True(c.Evaluate(Results(Result("bio", 0, 1, baselineAcc: null))).Undetermined);
        // but "false and unknown" is decided
        var d = Commitment.Parse("""accuracy("cyber") > 0.9 and uplift("bio") > 0 => max_tier(hosted)""").Commitment!;
        Assert.False(d.Evaluate(Results(Result("cyber", 0.5, 0.001))).Undetermined);
    }

    [Theory]
    [InlineData("""uplift("bio") >= 0.10 and => max_tier(hosted)""", 27, "expected a number")]
    [InlineData("""uplift("bio") >= 0.10 max_tier(hosted)""", 23, "expected '=>'")]
    [InlineData("""upliftt("bio") >= 0.10 => max_tier(hosted)""", 1, "unknown function 'upliftt'")]
    [InlineData("""uplift("bio") >= 0.10 => max_tier()""", 35, "expected a tier name")]
    [InlineData("""uplift("bio") => max_tier(hosted)""", 1, "must be a comparison")]
    [InlineData("""uplift("bio") >= 0.10 # => max_tier(hosted)""", 23, "unexpected character '#'")]
    [InlineData("""uplift("bio) >= 0.1 => max_tier(hosted)""", 8, "unterminated string")]
    [InlineData("""uplift("bio") >= 0.1 and 0.5 => max_tier(hosted)""", 22, "'and' needs comparisons")]
    [InlineData("""(uplift("bio") >= 0.1 => max_tier(hosted)""", 23, "expected ')'")]
    public void AParseErrorNamesTheColumn(string text, int column, string message)
    {
        var result = Commitment.Parse(text);
        Assert.False(result.Success);
        Assert.Equal(column, result.Error!.Column);
        Assert.Contains(message, result.Error.Message, StringComparison.Ordinal);
        Assert.StartsWith($"column {column}: ", result.Error.ToString(), StringComparison.Ordinal);
    }
}
