using Embargo.Evaluation.Statistics;

namespace Embargo.Evaluation.Tests;

/// <summary>
/// The three verdicts on constructed counts. Expected values are computed independently: by hand where a closed form
/// exists, otherwise with a separate Python implementation of the published formulas (Newcombe 1998, "Improved
/// confidence intervals for the difference between binomial proportions based on paired data", Stat Med 17:2635,
/// method 10; z = NormalDist().inv_cdf(0.95) = 1.6448536269514715 for the one-sided 95% bound).
/// </summary>
public class VerdictTests
{
    private const double Z = 1.6448536269514715;

    [Fact]
    public void ASmallCleanRunIsInconclusiveNotNotNovel()
    {
        // 10 samples, both conditions right on all: no discordance, p = 1, nothing significant — but nothing shown either.
        // With a = n and b = c = d = 0, φ = 0 and the Wilson lower limit of n/n is n/(n + z²), so Newcombe's upper bound is
        // z²/(n + z²) = 2.705543/12.705543 = 0.212942 ≥ δ = 0.05. The same closed form says the bound falls below 0.05 once
        // z²/(N + z²) < 0.05, i.e. N > 19·z² = 51.41: at N = 52, so 42 more samples.
        var v = Verdicts.Decide(UpliftCounts.PairedTable(10, 0, 0, 0));
        Assert.Equal(Verdicts.Inconclusive, v.Verdict);
        Assert.Equal(1.0, v.P);
        Assert.Equal(Z * Z / (10 + Z * Z), v.Upper, 1e-9);
        Assert.Equal(0.212942, v.Upper, 0.000001);
        Assert.Equal(42, v.MoreSamples);
        Assert.Contains("42 more samples", v.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameCleanRunAtFiftyTwoSamplesIsNotNovelAndAtFiftyOneStillInconclusive()
    {
        // The boundary of the closed form above: z²/(52 + z²) = 0.049457 < 0.05 ≤ z²/(51 + z²) = 0.050377.
        Assert.Equal(Verdicts.NotNovel, Verdicts.Decide(UpliftCounts.PairedTable(52, 0, 0, 0)).Verdict);
        Assert.Equal(Verdicts.Inconclusive, Verdicts.Decide(UpliftCounts.PairedTable(51, 0, 0, 0)).Verdict);
    }

    [Fact]
    public void AClearUpliftIsNovel()
    {
        // 40 pairs: 10 both, 12 subject only, 1 baseline only, 17 neither. Exact McNemar one-sided:
        // P(X ≥ 12 | Bin(13, ½)) = (C(13,12) + C(13,13)) / 2^13 = 14/8192 = 0.001708984375 < 0.05.
        var v = Verdicts.Decide(UpliftCounts.PairedTable(10, 12, 1, 17));
        Assert.Equal(Verdicts.Novel, v.Verdict);
        Assert.Equal(14.0 / 8192, v.P, 1e-12);
        Assert.Equal(11.0 / 40, v.Estimate, 1e-12);
        Assert.Null(v.MoreSamples);
    }

    [Fact]
    public void ALargeRunWithNoUpliftIsNotNovel()
    {
        // 600 pairs: 300 both, 5 each way, 290 neither. p = P(X ≥ 5 | Bin(10, ½)) = 638/1024. Newcombe paired method 10
        // with z = 1.644854 (Python, separate implementation): −0.009072 to 0.009072; the upper bound 0.009072 < δ = 0.05.
        var v = Verdicts.Decide(UpliftCounts.PairedTable(300, 5, 5, 290));
        Assert.Equal(Verdicts.NotNovel, v.Verdict);
        Assert.Equal(638.0 / 1024, v.P, 1e-12);
        Assert.Equal(0.009072, v.Upper, 0.000001);
    }

    [Fact]
    public void TheMarginDecidesWhatIsTooSmallToMatter()
    {
        // Same 600 pairs: an upper bound of 0.009072 is not below a margin of 0.005.
        Assert.Equal(Verdicts.Inconclusive, Verdicts.Decide(UpliftCounts.PairedTable(300, 5, 5, 290), margin: 0.005).Verdict);
    }

    [Fact]
    public void ASignificantUpliftIsNovelEvenWhenItsUpperBoundIsBelowTheMargin()
    {
        // 10,000 pairs, 150 subject only vs 50 baseline only: uplift 0.01, one-sided interval up to 0.012325 (Python) < 0.05,
        // but McNemar p is far below 0.05: a significant uplift is never cleared.
        var v = Verdicts.Decide(UpliftCounts.PairedTable(5000, 150, 50, 4800));
        Assert.Equal(0.012325, v.Upper, 0.000001);
        Assert.True(v.P < 1e-10);
        Assert.Equal(Verdicts.Novel, v.Verdict);
    }

    [Fact]
    public void AnInconclusiveUpliftProjectsToTheSampleCountThatMakesItNovel()
    {
        // 10 pairs: 3 both, 3 subject only, 1 baseline only, 3 neither. p = P(X ≥ 3 | Bin(4, ½)) = 5/16; the one-sided upper
        // bound is 0.484880 (Python). Uplift 0.2 ≥ δ: more samples at these proportions can only make it novel.
        var counts = UpliftCounts.PairedTable(3, 3, 1, 3);
        var v = Verdicts.Decide(counts);
        Assert.Equal(Verdicts.Inconclusive, v.Verdict);
        Assert.Equal(5.0 / 16, v.P, 1e-12);
        Assert.Equal(0.484880, v.Upper, 0.000001);
        var more = Assert.IsType<int>(v.MoreSamples);
        Assert.True(more > 0);
        Assert.Equal(Verdicts.Novel, Verdicts.Decide(counts.ScaledTo(10 + more)).Verdict);
        Assert.Equal(Verdicts.Inconclusive, Verdicts.Decide(counts.ScaledTo(10 + more - 1)).Verdict);
    }

    [Fact]
    public void IndependentGroupsUseFisherAndTheHybridScoreBound()
    {
        // 7/10 vs 2/10: Fisher one-sided p = 0.03488925934746368 (exact, Python fractions) → novel; Newcombe 1998b
        // method 10 with z = 1.644854: upper 0.717368 (Python).
        var counts = UpliftCounts.Independent(7, 10, 2, 10);
        var v = Verdicts.Decide(counts);
        Assert.Equal(Verdicts.Novel, v.Verdict);
        Assert.Equal(0.03488925934746368, v.P, 1e-12);
        Assert.Equal(0.717368, Verdicts.UpperBound(counts), 0.000001);
    }

    [Fact]
    public void NoPairsIsInconclusiveWithNoProjection()
    {
        var v = Verdicts.Decide(UpliftCounts.PairedTable(0, 0, 0, 0));
        Assert.Equal(Verdicts.Inconclusive, v.Verdict);
        Assert.Null(v.MoreSamples);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.1)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void AMarginOutsideZeroToOneIsRefused(double margin)
    {
        Assert.NotNull(Verdicts.ValidateMargin(margin));
        Assert.Throws<ArgumentOutOfRangeException>(() => Verdicts.Decide(UpliftCounts.PairedTable(1, 1, 1, 1), margin));
    }
}
