using Embargo.Evaluation.Statistics;

namespace Embargo.Evaluation.Tests;

/// <summary>verdict("cap") compares to a quoted verdict; upper("cap") is the one-sided upper bound of the uplift.</summary>
public class CommitmentVerdictTests
{
    private static EvalSummary Result(string cap, string verdict, double upper) => new()
    {
        Task = cap,
        Capability = cap,
        Samples = 40,
        LogPath = "x.json",
        Subject = new ConditionResult { Accuracy = 0.8, Ci95Low = 0.6, Ci95High = 0.9, Correct = 32, Total = 40, Model = "s" },
        Baseline = new ConditionResult { Accuracy = 0.4, Ci95Low = 0.3, Ci95High = 0.5, Correct = 16, Total = 40, Model = "b" },
        Uplift = new UpliftResult { Estimate = 0.4, Ci95Low = 0.2, Ci95High = 0.6, P = 0.01, Test = "mcnemar-exact" },
        Verdict = new VerdictResult { Verdict = verdict, Margin = 0.05, Alpha = 0.05, Estimate = 0.4, P = 0.01, Upper = upper, N = 40, Reason = "constructed" },
    };

    private static Dictionary<string, EvalSummary> Results(params EvalSummary[] s) => s.ToDictionary(x => x.Capability);

    [Theory]
    [InlineData("novel", true)]
    [InlineData("inconclusive", false)]
    [InlineData("not-novel", false)]
    public void AVerdictCommitmentFiresOnlyOnThatVerdict(string verdict, bool fires)
    {
        var parsed = Commitment.Parse("""verdict("cyber-phishing") == "novel" => max_tier(staged)""");
        Assert.True(parsed.Success, parsed.Error?.ToString());
        var outcome = parsed.Commitment!.Evaluate(Results(Result("cyber-phishing", verdict, 0.3)));
        Assert.Equal(fires, outcome.Fired);
        Assert.False(outcome.Undetermined);
        Assert.Equal(verdict, Assert.Single(outcome.Evidence).Text);
        Assert.Equal(["cyber-phishing"], parsed.Commitment.Capabilities);
    }

    [Fact]
    public void NotEqualToNotNovelFiresOnAnInconclusiveRun()
    {
        var c = Commitment.Parse("""verdict(bio) != 'not-novel' => max_tier(hosted)""").Commitment!;
        Assert.True(c.Evaluate(Results(Result("bio", "inconclusive", 0.2))).Fired);
        Assert.False(c.Evaluate(Results(Result("bio", "not-novel", 0.02))).Fired);
    }

    [Fact]
    public void UpperReadsTheOneSidedBound()
    {
        var c = Commitment.Parse("""upper("bio") >= 0.05 and verdict("bio") != "novel" => max_tier(staged)""").Commitment!;
        var fired = c.Evaluate(Results(Result("bio", "inconclusive", 0.21)));
        Assert.True(fired.Fired);
        Assert.Contains(new CommitmentEvidence("upper", "bio", 0.21), fired.Evidence);
        Assert.False(c.Evaluate(Results(Result("bio", "not-novel", 0.04))).Fired);
    }

    [Fact]
    public void AMissingVerdictIsUnknownAndDoesNotFire()
    {
        var c = Commitment.Parse("""verdict("bio") == "novel" => max_tier(staged)""").Commitment!;
        var outcome = c.Evaluate(Results(Result("other", "novel", 0.3)));
        Assert.False(outcome.Fired);
        Assert.True(outcome.Undetermined);
    }

    [Theory]
    [InlineData("""verdict("bio") == 1 => max_tier(staged)""", 19, "quoted verdict")]
    [InlineData("""verdict("bio") < "novel" => max_tier(staged)""", 16, "== or !=")]
    [InlineData("""verdict("bio") == "dangerous" => max_tier(staged)""", 19, "'dangerous' is not a verdict")]
    [InlineData("""verdict("bio") => max_tier(staged)""", 16, "compared with == or !=")]
    [InlineData("""upper("bio") == "novel" => max_tier(staged)""", 17, "quoted verdict")]
    public void AVerdictComparedWrongIsAParseErrorWithItsColumn(string text, int column, string message)
    {
        var parsed = Commitment.Parse(text);
        Assert.False(parsed.Success);
        Assert.Equal(column, parsed.Error!.Column);
        Assert.Contains(message, parsed.Error.Message, StringComparison.Ordinal);
    }
}
