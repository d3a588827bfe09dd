using System.Globalization;

namespace Embargo.Contracts;

/// <summary>
/// Walks the server's paged lists (<c>?limit=&amp;offset=</c>; the ledger's leaves <c>?start=&amp;limit=</c>) to the end,
/// so callers that want everything never stop at the first page. A page shorter than asked is the last.
/// </summary>
public static class PagedReads
{
    /// <summary>The largest page a list endpoint answers.</summary>
    public const int MaxListPage = 1000;

    /// <summary>The largest page of ledger leaves.</summary>
    public const int MaxLeafPage = 10_000;

    /// <summary>The path of one page of a list: <paramref name="path"/> with <c>limit</c> and <c>offset</c> added to its query.</summary>
    public static string ListPage(string path, int limit, long offset) =>
        $"{path}{(path.Contains('?', StringComparison.Ordinal) ? '&' : '?')}limit={limit.ToString(CultureInfo.InvariantCulture)}&offset={offset.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The path of one page of ledger leaves from <paramref name="start"/>.</summary>
    public static string LeavesPage(long start, int limit) =>
        $"/api/ledger/leaves?start={start.ToString(CultureInfo.InvariantCulture)}&limit={limit.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Every item of a list endpoint, page by page.</summary>
    public static async Task<List<T>> GetAllAsync<T>(this EmbargoClient client, string path, CancellationToken ct, int pageSize = MaxListPage)
    {
        var all = new List<T>();
        while (true)
        {
            var page = await client.GetAsync<List<T>>(ListPage(path, pageSize, all.Count), ct);
            all.AddRange(page);
            if (page.Count < pageSize)
            {
                return all;
            }
        }
    }

    /// <summary>
    /// The ledger's leaves [<paramref name="start"/>, <paramref name="end"/>) as ledger.jsonl text, page by page; stops
    /// early when the ledger holds fewer (<c>long.MaxValue</c>: every leaf from start).
    /// </summary>
    public static async Task<string> GetLeavesAsync(this EmbargoClient client, long start, long end, CancellationToken ct, int pageSize = MaxLeafPage)
    {
        var text = new System.Text.StringBuilder();
        var next = start;
        while (next < end)
        {
            var want = (int)Math.Min(pageSize, end - next);
            var page = await client.GetTextAsync(LeavesPage(next, want), ct);
            var lines = page.Count(c => c == '\n');
            text.Append(page);
            next += lines;
            if (lines < want)
            {
                break;
            }
        }
        return text.ToString();
    }
}
