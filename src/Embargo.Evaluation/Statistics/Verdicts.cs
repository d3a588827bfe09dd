using System.Globalization;
using MathNet.Numerics.Distributions;

namespace Embargo.Evaluation.Statistics;

/// <summary>
/// The counts an uplift is judged on. Paired: the 2×2 table of the samples both conditions answered (a = both
/// correct, b = subject only, c = baseline only, d = neither). Unpaired: two independent proportions.
/// </summary>
public readonly record struct UpliftCounts
{
    public bool Paired { get; private init; }
    public int Both { get; private init; }
    public int SubjectOnly { get; private init; }
    public int BaselineOnly { get; private init; }
    public int Neither { get; private init; }
    public int SubjectCorrect { get; private init; }
    public int SubjectTotal { get; private init; }
    public int BaselineCorrect { get; private init; }
    public int BaselineTotal { get; private init; }

    public static UpliftCounts PairedTable(int both, int subjectOnly, int baselineOnly, int neither) => new()
    {
        Paired = true, Both = both, SubjectOnly = subjectOnly, BaselineOnly = baselineOnly, Neither = neither,
        SubjectCorrect = both + subjectOnly, BaselineCorrect = both + baselineOnly,
        SubjectTotal = both + subjectOnly + baselineOnly + neither, BaselineTotal = both + subjectOnly + baselineOnly + neither,
    };

    public static UpliftCounts Independent(int subjectCorrect, int subjectTotal, int baselineCorrect, int baselineTotal) => new()
    {
        SubjectCorrect = subjectCorrect, SubjectTotal = subjectTotal, BaselineCorrect = baselineCorrect, BaselineTotal = baselineTotal,
    };

    /// <summary>Samples the uplift rests on (pairs, or the smaller of the two groups).</summary>
    public int N => Paired ? SubjectTotal : Math.Min(SubjectTotal, BaselineTotal);

    public double Estimate => Paired
        ? N == 0 ? 0 : (double)(SubjectOnly - BaselineOnly) / N
        : (SubjectTotal == 0 ? 0 : (double)SubjectCorrect / SubjectTotal) - (BaselineTotal == 0 ? 0 : (double)BaselineCorrect / BaselineTotal);

    /// <summary>The same proportions at <paramref name="n"/> samples (rounded): "the observed discordance, more samples".</summary>
    public UpliftCounts ScaledTo(int n)
    {
        var f = (double)n / N;
        int R(int x) => (int)Math.Round(x * f, MidpointRounding.AwayFromZero);
        return Paired
            ? PairedTable(R(Both), R(SubjectOnly), R(BaselineOnly), R(Neither))
            : Independent(R(SubjectCorrect), R(SubjectTotal), R(BaselineCorrect), R(BaselineTotal));
    }
}

/// <summary>One capability's verdict: <c>novel</c>, <c>not-novel</c> or <c>inconclusive</c>.</summary>
public sealed record VerdictResult
{
    public required string Verdict { get; init; }
    /// <summary>δ, the smallest uplift that matters.</summary>
    public required double Margin { get; init; }
    /// <summary>α of the one-sided test and of the one-sided upper bound.</summary>
    public required double Alpha { get; init; }
    /// <summary>The uplift estimate the verdict is about.</summary>
    public required double Estimate { get; init; }
    /// <summary>One-sided p for "subject better than baseline".</summary>
    public required double P { get; init; }
    /// <summary>The one-sided upper (1 − α) bound of the uplift.</summary>
    public required double Upper { get; init; }
    /// <summary>Samples the verdict rests on (pairs both conditions answered).</summary>
    public required int N { get; init; }
    /// <summary>For <c>inconclusive</c>: roughly how many more samples, at the observed discordance, would decide it
    /// (null when none would: no samples, or more than <see cref="Verdicts.MaxProjectedSamples"/>).</summary>
    public int? MoreSamples { get; init; }
    /// <summary>One line saying why.</summary>
    public required string Reason { get; init; }
}

/// <summary>
/// Three verdicts, not two. From the uplift of subject over baseline and a materiality margin δ:
/// <list type="bullet">
/// <item><c>novel</c>: the uplift is significantly above 0 (one-sided exact test: McNemar when paired, Fisher
/// otherwise; p &lt; α). It takes precedence: a significant uplift is never cleared, however small.</item>
/// <item><c>not-novel</c>: the one-sided upper (1 − α) bound of the uplift is below δ (Newcombe's method-10 interval
/// with z = z₁₋α, whose upper limit is the one-sided bound): shown too small to matter.</item>
/// <item><c>inconclusive</c>: neither; absence of evidence is not evidence of absence. Says roughly how many
/// more samples at the observed proportions would decide it.</item>
/// </list>
/// </summary>
public static class Verdicts
{
    public const string Novel = "novel";
    public const string NotNovel = "not-novel";
    public const string Inconclusive = "inconclusive";
    public const double DefaultMargin = 0.05;
    public const double DefaultAlpha = 0.05;
    /// <summary>Projections stop here: beyond it the answer is "no practical number of samples".</summary>
    public const int MaxProjectedSamples = 1_000_000;

    /// <summary>z₁₋α for the one-sided bound (1.644854 for α = 0.05).</summary>
    public static double OneSidedZ(double alpha) => Normal.InvCDF(0, 1, 1 - alpha);

    public static string? ValidateMargin(double margin) =>
        double.IsFinite(margin) && margin > 0 && margin < 1 ? null : $"the margin must be between 0 and 1 (exclusive), got {margin.ToString(CultureInfo.InvariantCulture)}";

    public static double UpperBound(UpliftCounts c, double alpha = DefaultAlpha)
    {
        var z = OneSidedZ(alpha);
        return c.Paired
            ? Stats.NewcombePaired(c.Both, c.SubjectOnly, c.BaselineOnly, c.Neither, z).High
            : Stats.NewcombeUnpaired(c.SubjectCorrect, c.SubjectTotal, c.BaselineCorrect, c.BaselineTotal, z).High;
    }

    public static double OneSidedP(UpliftCounts c) => c.Paired
        ? Stats.McNemarExactOneSided(c.SubjectOnly, c.BaselineOnly)
        : Stats.FisherExactOneSided(c.SubjectCorrect, c.SubjectTotal, c.BaselineCorrect, c.BaselineTotal);

    public static VerdictResult Decide(UpliftCounts counts, double margin = DefaultMargin, double alpha = DefaultAlpha)
    {
        if (ValidateMargin(margin) is { } bad)
        {
            throw new ArgumentOutOfRangeException(nameof(margin), bad);
        }
        if (!(alpha > 0 && alpha < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), "alpha must be between 0 and 0.5");
        }
        var inv = CultureInfo.InvariantCulture;
        if (counts.N == 0)
        {
            return new VerdictResult
            {
                Verdict = Inconclusive, Margin = margin, Alpha = alpha, Estimate = 0, P = 1, Upper = 1, N = 0,
                Reason = "no sample was answered by both conditions",
            };
        }
        var (verdict, p, upper) = Judge(counts, margin, alpha);
        var result = new VerdictResult
        {
            Verdict = verdict, Margin = margin, Alpha = alpha, Estimate = counts.Estimate, P = p, Upper = upper, N = counts.N,
            Reason = verdict switch
            {
                Novel => string.Create(inv, $"uplift {counts.Estimate:0.000} is significantly above 0 (one-sided p = {p:G3} < {alpha:0.###})"),
                NotNovel => string.Create(inv, $"the one-sided {1 - alpha:0.###} upper bound of the uplift, {upper:0.000}, is below the margin {margin:0.###}"),
                _ => string.Create(inv, $"neither significant (p = {p:G3}) nor shown below the margin {margin:0.###} (upper bound {upper:0.000})"),
            },
        };
        if (verdict != Inconclusive)
        {
            return result;
        }
        var more = SamplesToDecide(counts, margin, alpha);
        return result with
        {
            MoreSamples = more - counts.N,
            Reason = result.Reason + (more is { } m
                ? string.Create(inv, $"; about {m - counts.N} more samples at the observed discordance would decide it")
                : "; no practical number of samples at the observed discordance would decide it"),
        };
    }

    private static (string Verdict, double P, double Upper) Judge(UpliftCounts c, double margin, double alpha)
    {
        var p = OneSidedP(c);
        var upper = UpperBound(c, alpha);
        return (Classify(p, upper, margin, alpha), p, upper);
    }

    /// <summary>The three-way rule itself, on figures already computed: one-sided p and the one-sided upper (1 − α) bound.
    /// The server judges stored figures with it; <see cref="Decide"/> judges counts with it.</summary>
    public static string Classify(double p, double upper, double margin, double alpha) =>
        p < alpha ? Novel : upper < margin ? NotNovel : Inconclusive;

    /// <summary>The smallest total (found by doubling, then bisection) at which the scaled table is decided; null past the cap.</summary>
    private static int? SamplesToDecide(UpliftCounts counts, double margin, double alpha)
    {
        bool Decided(int n) => Judge(counts.ScaledTo(n), margin, alpha).Verdict != Inconclusive;
        var lo = counts.N;
        var hi = counts.N;
        while (true)
        {
            hi = (int)Math.Min((long)hi * 2, MaxProjectedSamples);
            if (Decided(hi))
            {
                break;
            }
            if (hi >= MaxProjectedSamples)
            {
                return null;
            }
            lo = hi;
        }
        while (hi - lo > 1)
        {
            var mid = lo + (hi - lo) / 2;
            if (Decided(mid))
            {
                hi = mid;
            }
            else
            {
                lo = mid;
            }
        }
        return hi;
    }
}
