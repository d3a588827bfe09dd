using System.Globalization;
using Embargo.Protocol;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Embargo.Server.Infrastructure;

/// <summary>One page of a list: skip <see cref="Offset"/> items, answer at most <see cref="Limit"/>.</summary>
public readonly record struct Page(long Offset, int Limit);

/// <summary>
/// The one paging scheme of every list endpoint: <c>?limit=N&amp;offset=M</c> (the ledger's leaves: <c>?start=M&amp;limit=N</c>,
/// the start being a leaf index). The body stays the list itself; the response says how many there are in all
/// (<c>X-Total-Count</c>) and, when more follow, where the next page starts (<c>X-Next-Offset</c>, and a
/// <c>Link: &lt;…&gt;; rel="next"</c> with the same query otherwise). A bad value is a 400 naming the parameter.
/// </summary>
public static class Paging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const string TotalHeader = "X-Total-Count";
    public const string NextHeader = "X-Next-Offset";

    /// <summary>
    /// Parses <c>limit</c> and <c>offset</c> (or another name for the offset) from their raw query values; a bad one is
    /// a 400 ProblemDetails whose <c>member</c> names the parameter.
    /// </summary>
    public static bool TryParse(string? limit, string? offset, out Page page, [NotNullWhen(false)] out ProblemHttpResult? problem,
        int defaultLimit = DefaultLimit, int maxLimit = MaxLimit, string offsetName = "offset")
    {
        page = default;
        problem = null;
        var size = defaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1 || size > maxLimit))
        {
            problem = Refuse("limit", $"limit: a page holds 1–{maxLimit} items (default {defaultLimit})");
            return false;
        }
        long skip = 0;
        if (offset is not null && !long.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out skip))
        {
            problem = Refuse(offsetName, $"{offsetName}: a whole number ≥ 0");
            return false;
        }
        page = new Page(skip, size);
        return true;
    }

    private static ProblemHttpResult Refuse(string member, string message)
    {
        var problem = ApiResults.Problem(ProtocolError.Validation(message));
        problem.ProblemDetails.Extensions["member"] = member;
        return problem;
    }

    /// <summary>The page of <paramref name="all"/> (already filtered to what the caller may see, in the list's order), with the paging headers set.</summary>
    public static List<T> Slice<T>(HttpContext http, IReadOnlyList<T> all, Page page)
    {
        SetHeaders(http, all.Count, page, "offset");
        return all.Skip((int)Math.Min(page.Offset, int.MaxValue)).Take(page.Limit).ToList();
    }

    /// <summary>Sets <c>X-Total-Count</c> and, when items follow the page, <c>X-Next-Offset</c> and <c>Link rel="next"</c>.</summary>
    public static void SetHeaders(HttpContext http, long total, Page page, string offsetName)
    {
        http.Response.Headers[TotalHeader] = total.ToString(CultureInfo.InvariantCulture);
        var next = page.Offset + page.Limit;
        if (next < total)
        {
            http.Response.Headers[NextHeader] = next.ToString(CultureInfo.InvariantCulture);
            var query = new QueryBuilder(http.Request.Query
                .Where(q => q.Key is not ("limit" or "offset") && q.Key != offsetName)
                .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? ""))))
            {
                { offsetName, next.ToString(CultureInfo.InvariantCulture) },
                { "limit", page.Limit.ToString(CultureInfo.InvariantCulture) },
            };
            http.Response.Headers.Link = $"<{http.Request.PathBase}{http.Request.Path}{query}>; rel=\"next\"";
        }
    }
}
