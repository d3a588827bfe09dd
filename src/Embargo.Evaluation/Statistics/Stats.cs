using MathNet.Numerics.Distributions;

namespace Embargo.Evaluation.Statistics;

/// <summary>A two-sided interval.</summary>
public readonly record struct Interval(double Low, double High);

/// <summary>
/// Proportions, differences of proportions and their tests. Formulas follow Newcombe (1998),
/// "Two-sided confidence intervals for the single proportion" and "Interval estimation for the difference
/// between independent proportions" (Stat Med 17:857–872 and 873–890), and "Improved confidence intervals for the
/// difference between binomial proportions based on paired data" (Stat Med 17:2635–2650). Distributions come
/// from MathNet.Numerics.
/// </summary>
public static class Stats
{
    /// <summary>z for a two-sided 95% interval.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>Wilson score interval (Newcombe 1998a method 3) for k successes of n; p̂ may also be a mean of scores.</summary>
    public static Interval Wilson(double successes, int n, double z = Z95)
    {
        if (n <= 0)
        {
            return new Interval(0, 1);
        }
        var p = successes / n;
        var z2 = z * z;
        var denom = 2 * (n + z2);
        var centre = 2 * n * p + z2;
        var half = z * Math.Sqrt(z2 + 4 * n * p * (1 - p));
        return new Interval(Math.Max(0, (centre - half) / denom), Math.Min(1, (centre + half) / denom));
    }

    /// <summary>Newcombe hybrid score interval for p1 − p2, independent samples (Newcombe 1998b method 10).</summary>
    public static Interval NewcombeUnpaired(double k1, int n1, double k2, int n2, double z = Z95)
    {
        double p1 = k1 / n1, p2 = k2 / n2, d = p1 - p2;
        var (l1, u1) = Wilson(k1, n1, z);
        var (l2, u2) = Wilson(k2, n2, z);
        var delta = Math.Sqrt(Sq(p1 - l1) + Sq(u2 - p2));
        var eps = Math.Sqrt(Sq(u1 - p1) + Sq(p2 - l2));
        return new Interval(Math.Max(-1, d - delta), Math.Min(1, d + eps));
    }

    /// <summary>
    /// Newcombe's score interval for the difference of paired proportions (Newcombe 1998c method 10) from the
    /// 2×2 table a = both correct, b = first only, c = second only, d = neither; the difference is (b − c)/n.
    /// φ̂ uses Newcombe's correction: (ad − bc − n/2)/√(efgh) when ad − bc &gt; n/2, 0 when 0 ≤ ad − bc ≤ n/2,
    /// and (ad − bc)/√(efgh) when negative.
    /// </summary>
    public static Interval NewcombePaired(int a, int b, int c, int d, double z = Z95)
    {
        var n = a + b + c + d;
        double p1 = (double)(a + b) / n, p2 = (double)(a + c) / n, diff = p1 - p2;
        var (l1, u1) = Wilson(a + b, n, z);
        var (l2, u2) = Wilson(a + c, n, z);
        var margins = (double)(a + b) * (c + d) * (a + c) * (b + d);
        var phi = 0.0;
        if (margins > 0)
        {
            var num = (double)a * d - (double)b * c;
            var corrected = num > n / 2.0 ? num - n / 2.0 : num < 0 ? num : 0;
            phi = corrected / Math.Sqrt(margins);
        }
        var delta = Math.Sqrt(Math.Max(0, Sq(p1 - l1) - 2 * phi * (p1 - l1) * (u2 - p2) + Sq(u2 - p2)));
        var eps = Math.Sqrt(Math.Max(0, Sq(u1 - p1) - 2 * phi * (u1 - p1) * (p2 - l2) + Sq(p2 - l2)));
        return new Interval(Math.Max(-1, diff - delta), Math.Min(1, diff + eps));
    }

    /// <summary>
    /// Exact McNemar test, one-sided (first better than second): P(X ≥ b) for X ~ Binomial(b + c, ½), where b counts
    /// pairs only the first got right and c pairs only the second got right. 1 when there are no discordant pairs.
    /// </summary>
    public static double McNemarExactOneSided(int b, int c)
    {
        var m = b + c;
        if (m == 0 || b == 0)
        {
            return 1.0;
        }
        // P(X >= b) = P(X <= c) by symmetry of Binomial(m, 1/2); the lower tail keeps precision.
        return Math.Min(1.0, Binomial.CDF(0.5, m, c));
    }

    /// <summary>
    /// Fisher's exact test, one-sided (first proportion greater): P(X ≥ k1) for X ~ Hypergeometric(population n1 + n2,
    /// successes k1 + k2, draws n1).
    /// </summary>
    public static double FisherExactOneSided(int k1, int n1, int k2, int n2)
    {
        var population = n1 + n2;
        var successes = k1 + k2;
        if (successes == 0 || k1 == 0)
        {
            return 1.0;
        }
        // Each term in log space: MathNet's Hypergeometric.Probability overflows to NaN from a few hundred samples per
        // group on, and a NaN p is never below α (a large run could never come out novel).
        var total = MathNet.Numerics.SpecialFunctions.BinomialLn(population, n1);
        var upper = 0.0;
        var max = Math.Min(successes, n1);
        for (var x = k1; x <= max; x++)
        {
            if (n1 - x > population - successes)
            {
                continue;
            }
            upper += Math.Exp(MathNet.Numerics.SpecialFunctions.BinomialLn(successes, x) + MathNet.Numerics.SpecialFunctions.BinomialLn(population - successes, n1 - x) - total);
        }
        return Math.Min(1.0, upper);
    }

    private static double Sq(double x) => x * x;
}
