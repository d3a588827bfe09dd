using Embargo.Evaluation.Statistics;

namespace Embargo.Evaluation.Tests;

public class StatisticsTests
{
    // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Stat Med 17:857, Table I,
    // method 3 (Wilson score, no continuity correction), published to 4 decimals.
    [Theory]
    [InlineData(81, 263, 0.2553, 0.3662)]
    [InlineData(15, 148, 0.0624, 0.1605)]
    [InlineData(0, 20, 0.0000, 0.1611)]
    [InlineData(1, 29, 0.0061, 0.1718)]
    [InlineData(29, 29, 0.8830, 1.0000)]
    [InlineData(0, 1, 0.0000, 0.7935)]   // computed independently (Python), not from the table
    public void WilsonIntervalMatchesNewcombeTableOne(int k, int n, double low, double high)
    {
        var ci = Stats.Wilson(k, n);
        Assert.Equal(low, ci.Low, 0.00006);
        Assert.Equal(high, ci.High, 0.00006);
    }

    // Newcombe (1998), "Interval estimation for the difference between independent proportions", Stat Med 17:873,
    // Table II, method 10 (hybrid score). Note: example (a) is 56/70 − 48/80 = 0.2000 with interval 0.0524 to 0.3339.
    [Theory]
    [InlineData(56, 70, 48, 80, 0.0524, 0.3339)]
    [InlineData(9, 10, 3, 10, 0.1705, 0.8090)]
    [InlineData(6, 7, 2, 7, 0.0582, 0.8062)]          // this and the last two rows: computed independently (Python)
    [InlineData(5, 56, 0, 29, -0.0381, 0.1926)]
    [InlineData(0, 10, 0, 20, -0.1611, 0.2775)]
    [InlineData(0, 10, 0, 10, -0.2775, 0.2775)]
    [InlineData(10, 10, 0, 20, 0.6791, 1.0000)]
    [InlineData(10, 10, 0, 10, 0.6075, 1.0000)]
    public void NewcombeUnpairedIntervalMatchesPublishedMethodTen(int k1, int n1, int k2, int n2, double low, double high)
    {
        var ci = Stats.NewcombeUnpaired(k1, n1, k2, n2);
        Assert.Equal(low, ci.Low, 0.00006);
        Assert.Equal(high, ci.High, 0.00006);
    }

    // Newcombe (1998), paired data, method 10, with the φ correction (ad − bc − n/2 when ad − bc > n/2, 0 when
    // 0 ≤ ad − bc ≤ n/2). Expected values computed independently in Python (math.sqrt, same formulas) to 6 decimals.
    [Theory]
    [InlineData(8, 26, 2, 4, 0.600000, 0.384719, 0.739220)]
    [InlineData(5, 3, 3, 29, 0.000000, -0.134528, 0.134528)]
    [InlineData(1, 1, 7, 12, -0.285714, -0.506920, -0.025559)]
    [InlineData(12, 3, 3, 22, 0.000000, -0.125752, 0.125752)]
    public void NewcombePairedIntervalMatchesIndependentComputation(int a, int b, int c, int d, double diff, double low, double high)
    {
        var ci = Stats.NewcombePaired(a, b, c, d);
        Assert.Equal(diff, (double)(b - c) / (a + b + c + d), 0.000001);
        Assert.Equal(low, ci.Low, 0.000002);
        Assert.Equal(high, ci.High, 0.000002);
    }

    // Exact one-sided McNemar: P(X ≥ b), X ~ Bin(b + c, 1/2). 26 vs 2: Σ_{x=26..28} C(28,x)/2^28 = 407/2^28.
    [Theory]
    [InlineData(26, 2, 407.0 / 268435456.0)]
    [InlineData(3, 3, 0.65625)]     // 42/64
    [InlineData(8, 2, 0.0546875)]   // 56/1024
    [InlineData(0, 5, 1.0)]
    public void McNemarExactOneSidedIsTheBinomialUpperTail(int b, int c, double expected)
    {
        Assert.Equal(expected, Stats.McNemarExactOneSided(b, c), expected * 1e-9 + 1e-12);
    }

    // Fisher one-sided P(X ≥ k1) from the hypergeometric; values summed exactly with Python fractions.
    [Theory]
    [InlineData(7, 10, 2, 10, 0.03488925934746368)]
    [InlineData(56, 70, 48, 80, 0.00632471112989837)]
    [InlineData(8, 40, 8, 40, 0.6096943775762711)]
    [InlineData(34, 40, 10, 40, 4.754054426310341e-08)]
    // Hundreds and thousands per group: where the hypergeometric's own Probability overflowed to NaN.
    [InlineData(200, 800, 160, 800, 0.009736396371044983)]
    [InlineData(1000, 4000, 800, 4000, 4.851584803835327e-08)]
    public void FisherExactOneSidedMatchesExactHypergeometricSum(int k1, int n1, int k2, int n2, double expected)
    {
        Assert.Equal(expected, Stats.FisherExactOneSided(k1, n1, k2, n2), expected * 1e-8);
    }
}
