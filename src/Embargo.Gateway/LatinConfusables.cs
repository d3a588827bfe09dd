using System.Buffers;
using System.Collections.Frozen;

namespace Embargo.Gateway;

/// <summary>
/// Letters of other scripts that pass for Latin ones (Cyrillic с, е, а in "сrеdеntiаl"; Greek ο, ρ; IPA ɑ, ɡ), from
/// Unicode's confusables data (UTS #39; the table is generated, see <c>tools/unicode/</c>). NFKC does not touch them, so
/// a phrase spelled with them would pass a rule written in Latin letters. The screens read normalised text that has any
/// of them a second time with each replaced by its Latin letter (one character for one, so lengths and offsets hold);
/// the first reading stays as it was, so rules written in those scripts keep matching their own letters.
/// </summary>
internal static partial class LatinConfusables
{
    private static readonly FrozenDictionary<char, char> Latin = Build();
    private static readonly SearchValues<char> Lookalikes = SearchValues.Create([.. Latin.Keys]);

    private static FrozenDictionary<char, char> Build()
    {
        var map = new Dictionary<char, char>();
        for (var i = 0; i < Pairs.Length; i += 2)
        {
            map[Pairs[i]] = Pairs[i + 1];
        }
        return map.ToFrozenDictionary();
    }

    /// <summary>The text (normalised and case-folded) with each lookalike replaced by its Latin letter; null when it has none.</summary>
    public static string? Fold(string normalized)
    {
        var first = normalized.AsSpan().IndexOfAny(Lookalikes);
        if (first < 0)
        {
            return null;
        }
        return string.Create(normalized.Length, (normalized, first), static (span, state) =>
        {
            state.normalized.AsSpan().CopyTo(span);
            for (var i = state.first; i < span.Length; i++)
            {
                if (Latin.TryGetValue(span[i], out var latin))
                {
                    span[i] = latin;
                }
            }
        });
    }
}
