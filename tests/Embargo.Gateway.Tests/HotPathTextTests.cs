using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Embargo.Gateway.Tests;

/// <summary>The hot path's allocation-free text handling gives exactly what the string-based path gives.</summary>
public sealed class HotPathTextTests
{
    [Fact]
    public void PooledTextUnescapesJsonStringsExactlyAsGetStringDoesAcrossGrowth()
    {
        var values = new[]
        {
            "plain", "", "line\nbreak \"quoted\" tab\t back\\slash", "caf\u00e9 \U0001F600 \uFF50\uFF48\uFF49\uFF53\uFF48",
            "</script> & \u2028", new string('x', 5000) + "\u00e9",
        };
        using var doc = JsonDocument.Parse(JsonSerializer.Serialize(values));
        using var text = new PooledText(4); // grows several times
        var expected = new StringBuilder();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            text.Append(e);
            text.Append('|');
            expected.Append(e.GetString()).Append('|');
        }
        Assert.Equal(expected.ToString(), text.ToString());
        Assert.Equal(string.Concat(values.Select(v => v + "|")), text.ToString());
        Assert.Equal(text.ToString(), text.Memory.ToString());
        Assert.Equal("plain", text.ToString(0, 5));
    }

    [Fact]
    public void RulesMatchPooledAsciiTextAndNormalisedUnicodeTextAsTheStringPathDoes()
    {
        var rule = new RuleScreen
        {
            Name = "kits",
            Keywords = SearchValues.Create(["phishing kit"], StringComparison.Ordinal),
            Patterns = [new Regex(@"(?i)clone\s+the\s+login\s+page", RegexOptions.NonBacktracking)],
            Window = 64,
        };
        RuleScreen[] rules = [rule];
        string[] texts =
        [
            "write me a Phishing KIT please", "how do I CLONE  the Login page", "a walk by the river",
            "a \uFF50\uFF48\uFF49\uFF53\uFF48\uFF49\uFF4E\uFF47 kit", "phish\u200Bing kit", "caf\u00e9 by the river",
        ];
        foreach (var t in texts)
        {
            Assert.Equal(ModelScreens.FirstRuleMatch(rules, ScreenText.Normalize(t)), ModelScreens.FirstRuleMatchOf(rules, t));
        }
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf(rules, texts[0]));
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf(rules, texts[1]));
        Assert.Null(ModelScreens.FirstRuleMatchOf(rules, texts[2]));
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf(rules, texts[3]));
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf(rules, texts[4]));
        Assert.Null(ModelScreens.FirstRuleMatchOf([], texts[0]));
    }

    [Fact]
    public void APhraseSpelledWithLookalikesFromOtherScriptsIsMatchedAndRulesInThoseScriptsStillMatchTheirOwnLetters()
    {
        var latin = new RuleScreen
        {
            Name = "kits",
            Keywords = SearchValues.Create(["phishing kit"], StringComparison.Ordinal),
            Patterns = [new Regex(@"(?i)clone\s+the\s+login\s+page", RegexOptions.NonBacktracking)],
            Window = 64,
        };
        var cyrillic = new RuleScreen
        {
            Name = "parol",
            Keywords = SearchValues.Create(["\u043f\u0430\u0440\u043e\u043b\u044c"], StringComparison.Ordinal), // Russian for "password"
            Patterns = [],
            Window = 64,
        };

        // NFKC leaves every one of these alone: Cyrillic р (U+0440) and capital О (U+041E), Greek ο, Ο and ρ, IPA ɡ (U+0261).
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf([latin], "a \u0440hishing kit"));
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf([latin], "CL\u041ENE THE L\u039FGIN PAGE"));
        Assert.Equal("kits", ModelScreens.FirstRuleMatchOf([latin], "clone the l\u03bfgin \u03c1a\u0261e"));
        Assert.Null(ModelScreens.FirstRuleMatchOf([latin], "\u0440\u0435\u0441\u0442\u043e\u0440\u0430\u043d by the river")); // "restaurant"
        // A rule in Cyrillic still reads the Cyrillic text as it is (capitals fold first).
        Assert.Equal("parol", ModelScreens.FirstRuleMatchOf([cyrillic], "\u0432\u0430\u0448 \u041f\u0410\u0420\u041e\u041b\u042c"));
        Assert.Equal("parol", ModelScreens.FirstRuleMatchOf([latin, cyrillic], "\u043f\u0430\u0440\u043e\u043b\u044c"));
    }

    [Theory]
    [InlineData("please clone the login page", true)]
    [InlineData("HARVESTING credential lists", true)]
    [InlineData("a GAIN-of-function question", true)]
    [InlineData("gain of functional analysis", false)]
    [InlineData("a walk by the river", false)]
    public void AScreensRegexesScannedInOnePassBlockWhereAnyOfThemMatches(string text, bool blocked)
    {
        string[] patterns = ["(?i)clone\\s+the\\s+login\\s+page", "harvest(ing)?\\s+credentials?", "(?i)\\bgain[- ]of[- ]function\\b"];
        var config = GatewayParts.Assemble("test",
            [new Upstream { Name = "m", ChatUrl = new Uri("http://127.0.0.1:9/v1/chat/completions"), Model = "m", Certificate = CertificateGate.ForEvaluation("m", Embargo.Protocol.Tier.Api, null) }],
            new Dictionary<string, Grant>(),
            [new ScreenSpec { Name = "rules", ApplyTo = ["input"], Regex = [.. patterns] }],
            new AuditSettings());
        Assert.True(config.IsOk, config.Error?.Message);
        var rules = config.Value.Screens.For("m").InputRules;
        Assert.Single(Assert.Single(rules).Patterns); // one alternation, one scan
        Assert.Equal(blocked ? "rules" : null, ModelScreens.FirstRuleMatchOf(rules, text));
        var each = patterns.Select(p => new Regex(p, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)).ToArray();
        Assert.Equal(blocked, each.Any(r => r.IsMatch(ScreenText.Normalize(text))));
    }

    [Fact]
    public async Task AnOutputScreenThatMayBacktrackMovesToAPoolThreadAndOneInLinearTimeStaysOnTheCallersThread()
    {
        var config = GatewayParts.Assemble("test",
            [new Upstream { Name = "m", ChatUrl = new Uri("http://127.0.0.1:9/v1/chat/completions"), Model = "m", Certificate = CertificateGate.ForEvaluation("m", Embargo.Protocol.Tier.Api, null) },
             new Upstream { Name = "n", ChatUrl = new Uri("http://127.0.0.1:9/v1/chat/completions"), Model = "n", Certificate = CertificateGate.ForEvaluation("n", Embargo.Protocol.Tier.Api, null) }],
            new Dictionary<string, Grant>(),
            [new ScreenSpec { Name = "linear", ApplyTo = ["output"], Regex = ["kit\\s+for"], Keywords = ["phishing kit"] },
             new ScreenSpec { Name = "backref", ApplyTo = ["output"], Models = ["n"], Regex = ["(\\w+) \\1"] }],
            new AuditSettings());
        Assert.True(config.IsOk, config.Error?.Message);
        var linear = config.Value.Screens.For("m");
        var backref = config.Value.Screens.For("n");
        Assert.False(linear.OutputBacktracks);
        Assert.True(backref.OutputBacktracks);
        Assert.Equal("backref", ModelScreens.FirstRuleMatchOf(backref.OutputRules, "say it twice twice"));

        // From a thread that is not a pool thread (as a socket thread is not): only the backtracking screen leaves it.
        bool linearDoneAtOnce = false, backrefDoneAtOnce = true, thenOnPool = false;
        async Task Run()
        {
            linearDoneAtOnce = linear.LeaveSocketThreadAsync().AsTask().IsCompleted;
            var leave = backref.LeaveSocketThreadAsync().AsTask();
            backrefDoneAtOnce = leave.IsCompleted;
            await leave;
            thenOnPool = Thread.CurrentThread.IsThreadPoolThread;
        }
        var runner = new Thread(() => Run().GetAwaiter().GetResult());
        runner.Start();
        await Task.Run(runner.Join);
        Assert.True(linearDoneAtOnce);
        Assert.False(backrefDoneAtOnce);
        Assert.True(thenOnPool);
    }

    [Fact]
    public void InlineDigestIsTheSha256OfTheTextsUtf8()
    {
        foreach (var t in new[] { "", "hello\n", "caf\u00e9 \U0001F600", new string('y', 3000) })
        {
            var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(t)));
            Assert.Equal(expected, InlineSha256.Of(t).ToString());
        }
    }
}
