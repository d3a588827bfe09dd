namespace Embargo.Evaluation.Tests;

/// <summary>The commitment parser is bounded in length and nesting depth: no input can overflow its stack.</summary>
public class CommitmentLimitTests
{
    private const string Comparison = """uplift("bio") >= 0.1""";

    private static string Nested(int depth) => new string('(', depth) + Comparison + new string(')', depth) + " => max_tier(hosted)";

    [Fact]
    public void EightThousandNestedParenthesesAreRefusedNamingTheLengthLimit()
    {
        var parsed = Commitment.Parse(Nested(8000));
        Assert.False(parsed.Success);
        Assert.Equal(Commitment.MaxLength + 1, parsed.Error!.Column);
        Assert.Contains($"longer than {Commitment.MaxLength} characters", parsed.Error.Message);
    }

    [Fact]
    public void NestingOneLevelDeeperThanTheLimitIsRefusedAtTheParenthesisThatCrossesIt()
    {
        var text = Nested(Commitment.MaxDepth + 1);
        Assert.True(text.Length <= Commitment.MaxLength);
        var parsed = Commitment.Parse(text);
        Assert.False(parsed.Success);
        Assert.Equal(Commitment.MaxDepth + 1, parsed.Error!.Column);
        Assert.Contains($"deeper than {Commitment.MaxDepth} levels", parsed.Error.Message);
    }

    [Fact]
    public void NestingExactlyAtTheLimitParsesAndEvaluates()
    {
        var parsed = Commitment.Parse(Nested(Commitment.MaxDepth));
        Assert.True(parsed.Success, parsed.Error?.ToString());
        Assert.Equal("hosted", parsed.Commitment!.Tier);
        Assert.Equal(["bio"], parsed.Commitment.Capabilities);
    }

    [Theory]
    [InlineData("not ")]
    [InlineData("!")]
    public void AChainOfNegationsDeeperThanTheLimitIsRefused(string negation)
    {
        var text = string.Concat(Enumerable.Repeat(negation, Commitment.MaxDepth + 1)) + Comparison + " => max_tier(hosted)";
        var parsed = Commitment.Parse(text);
        Assert.False(parsed.Success);
        Assert.Contains($"deeper than {Commitment.MaxDepth} levels", parsed.Error!.Message);
    }

    [Fact]
    public void TheLongestFlatAndChainWithinTheLengthLimitParsesAndEvaluates()
    {
        var terms = new List<string>();
        string Text() => string.Join(" and ", terms) + " => max_tier(staged)";
        while (Text().Length + " and 1<2".Length <= Commitment.MaxLength)
        {
            terms.Add("1<2");
        }
        var parsed = Commitment.Parse(Text());
        Assert.True(parsed.Success, parsed.Error?.ToString());
        Assert.True(terms.Count > 200);
        var outcome = parsed.Commitment!.Evaluate(new Dictionary<string, EvalSummary>());
        Assert.True(outcome.Fired);
        Assert.Equal("staged", outcome.MaxTier);
    }

    /// <summary>Random text from a fixed seed: brackets, operators, quotes, odd Unicode. Parse answers, never throws.</summary>
    [Fact]
    public void RandomHostileTextIsAlwaysAnsweredWithACommitmentOrAnErrorNeverAnException()
    {
        string[] pieces = ["(", ")", "((((", "))))", "not ", "!", "and", "or", "&&", "||", " ", "uplift(", "p('x')", "\"", "'", ">=", "<", "==", "=>",
            "max_tier(", "hosted", "0.1", "1e309", "-", ".", "\0", "\u202E", "\uD800", "\uDFFF", "\u001B[2J", "\r\n", "\u00A0", "\uFEFF", "٣"];
        var random = new Random(20261203);
        for (var i = 0; i < 2000; i++)
        {
            var count = random.Next(0, i % 10 == 0 ? 4000 : 60);
            var text = string.Concat(Enumerable.Range(0, count).Select(_ => pieces[random.Next(pieces.Length)]));
            var parsed = Commitment.Parse(text);
            Assert.True(parsed.Success ^ parsed.Error is not null, $"case {i}: neither or both of commitment and error");
            if (parsed.Error is { } error)
            {
                Assert.InRange(error.Column, 1, Commitment.MaxLength + 1);
                Assert.DoesNotContain(error.Message, char.IsControl);
                Assert.True(error.Message.Length < 300, error.Message);
            }
        }
    }
}
