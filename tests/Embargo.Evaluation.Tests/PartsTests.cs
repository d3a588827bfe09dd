using Embargo.Evaluation.Data;
using Embargo.Evaluation.Scoring;
using Embargo.Evaluation.Solving;
using Embargo.Evaluation.Tools;

namespace Embargo.Evaluation.Tests;

public class PartsTests
{
    private static TaskState State(string output, IReadOnlyList<string>? choices = null) =>
        new(new EvalSample { Id = "x", Input = [new(Microsoft.Extensions.AI.ChatRole.User, "q")], Target = [], Choices = choices }, 1) { Output = output };

    [Theory]
    [InlineData("Reasoning...\nANSWER: c", "C")]
    [InlineData("ANSWER: A\nwait, ANSWER: (B)", "B")]
    [InlineData(" (D). ", "D")]
    [InlineData("The answer is probably A or B", null)]
    public void TheChoiceScorerExtractsTheLastAnswerLetter(string output, string? letter) =>
        Assert.Equal(letter, ChoiceScorer.ExtractLetter(output));

    [Fact]
    public async Task AChoiceLetterBeyondTheOptionsScoresZero()
    {
        var score = await new ChoiceScorer().ScoreAsync(State("ANSWER: E", ["a", "b"]), ["E"], CancellationToken.None);
        Assert.Equal(0, score.Value);
    }

    [Theory]
    [InlineData("ANSWER: 3.14", "3.1416", 0.01, false, 1)]
    [InlineData("ANSWER: 3.2", "3.1416", 0.01, false, 0)]
    [InlineData("about 1,005 units", "1000", 0.01, true, 1)]
    [InlineData("no idea", "5", 1, false, 0)]
    public async Task TheNumericScorerAppliesItsTolerance(string output, string target, double tol, bool relative, double expected)
    {
        var score = await new NumericScorer(tol, relative).ScoreAsync(State(output), [target], CancellationToken.None);
        Assert.Equal(expected, score.Value);
    }

    [Fact]
    public async Task ExactIncludesAndRegexScorersCompareWithAnyTarget()
    {
        Assert.Equal(1, (await new ExactScorer().ScoreAsync(State("ANSWER:  Paris."), ["London", "paris"], CancellationToken.None)).Value);
        Assert.Equal(0, (await new ExactScorer().ScoreAsync(State("Paris, France"), ["paris"], CancellationToken.None)).Value);
        Assert.Equal(1, (await new IncludesScorer(true).ScoreAsync(State("It is PARIS, France"), ["paris"], CancellationToken.None)).Value);
        Assert.Equal(0, (await new IncludesScorer(false).ScoreAsync(State("It is PARIS"), ["paris"], CancellationToken.None)).Value);
        var regex = new RegexScorer(@"code=(\d+)", true);
        Assert.Equal(1, (await regex.ScoreAsync(State("result code=42 ok"), ["42"], CancellationToken.None)).Value);
        Assert.Equal(0, (await regex.ScoreAsync(State("result code=41 ok"), ["42"], CancellationToken.None)).Value);
    }

    [Theory]
    [InlineData("1 + 2 * 3", 7)]
    [InlineData("(1 + 2) * 3", 9)]
    [InlineData("2 ^ 3 ^ 2", 512)]
    [InlineData("-4 + sqrt(16) / 2", -2)]
    [InlineData("1.5e2 - 50", 100)]
    public void TheCalculatorEvaluatesArithmetic(string expression, double expected) =>
        Assert.Equal(expected, Calculator.Evaluate(expression), 1e-12);

    [Theory]
    [InlineData("1 / 0")]
    [InlineData("2 +")]
    [InlineData("System.IO.File.Delete('x')")]
    [InlineData("(1 + 2")]
    public void TheCalculatorRejectsAnythingButArithmetic(string expression) =>
        Assert.StartsWith("error:", new ToolBox(["calculator"], null).Invoke("calculator", new Dictionary<string, object?> { ["expression"] = expression }), StringComparison.Ordinal);

    [Fact]
    public void TheDocumentToolReadsOnlyTheTasksDocuments()
    {
        var root = Directory.CreateTempSubdirectory("embargo-docs-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "docs"));
            File.WriteAllText(Path.Combine(root, "docs", "guide.txt"), "line one\nphishing uses urgency\n");
            File.WriteAllText(Path.Combine(root, "secret.txt"), "outside");
            var tools = new ToolBox(["documents"], Path.Combine(root, "docs"));
            string Call(string action, string name = "", string query = "") =>
                tools.Invoke("documents", new Dictionary<string, object?> { ["action"] = action, ["name"] = name, ["query"] = query });
            Assert.Equal("guide.txt", Call("list"));
            Assert.Contains("urgency", Call("read", "guide.txt"), StringComparison.Ordinal);
            Assert.Equal("guide.txt:2: phishing uses urgency", Call("search", query: "URGENCY"));
            Assert.StartsWith("error:", Call("read", "../secret.txt"), StringComparison.Ordinal);
            Assert.StartsWith("error:", Call("read", Path.Combine(root, "secret.txt")), StringComparison.Ordinal);
            Assert.StartsWith("error:", tools.Invoke("calculator", new Dictionary<string, object?> { ["expression"] = "1+1" }), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void ATaskWithAnUnknownScorerIsRejectedByName()
    {
        var dir = Directory.CreateTempSubdirectory("embargo-task-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "d.jsonl"), "{\"id\":1,\"input\":\"x\",\"target\":\"y\"}\n");
            File.WriteAllText(Path.Combine(dir, "t.yaml"), "dataset: d.jsonl\nscorer:\n  type: vibes\n");
            var e = Assert.Throws<EvalInputException>(() => TaskLoader.Load(Path.Combine(dir, "t.yaml")));
            Assert.Contains("unknown scorer 'vibes'", e.Message, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir, "t.yaml"), "dataset: d.jsonl\nsolver: [unclosed\n");
            e = Assert.Throws<EvalInputException>(() => TaskLoader.Load(Path.Combine(dir, "t.yaml")));
            Assert.Contains("line ", e.Message, StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir, "t.yaml"), "dataset: d.jsonl\n");
            var task = TaskLoader.Load(Path.Combine(dir, "t.yaml"));
            Assert.Equal("1", task.Samples[0].Id);       // a numeric id becomes its text
            Assert.Equal("t", task.Capability);         // name and capability default to the file name
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void TheBundledSampleTasksLoadWithFortySamplesEach()
    {
        foreach (var name in new[] { "cyber-phishing.yaml", "bio-acquisition.yaml" })
        {
            var task = TaskLoader.Load(Path.Combine(Fixtures.SamplesRoot, name));
            Assert.Equal(40, task.Samples.Count);
            Assert.All(task.Samples, s => Assert.Contains("SAMPLE", s.InputText, StringComparison.Ordinal));
            Assert.All(task.Samples, s => Assert.Equal(4, s.Choices!.Count));
        }
    }
}
