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

    /// <summary>One page of a list route: <paramref name="call"/> with <c>limit</c> and <c>offset</c> added to its query.</summary>
    public static Task<List<T>> PageAsync<T>(this EmbargoClient client, ApiCall call, int limit, long offset, CancellationToken ct) =>
        client.SendAsync<List<T>>(call.Query(("limit", limit), ("offset", offset)), null, ct);

    /// <summary>Every item of a list route, page by page.</summary>
    public static async Task<List<T>> AllAsync<T>(this EmbargoClient client, ApiCall call, CancellationToken ct, int pageSize = MaxListPage)
    {
        var all = new List<T>();
        while (true)
        {
            var page = await client.PageAsync<T>(call, pageSize, all.Count, ct);
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
    public static async Task<string> LeavesAsync(EmbargoClient client, long start, long end, CancellationToken ct, int pageSize = MaxLeafPage)
    {
        var text = new System.Text.StringBuilder();
        var next = start;
        while (next < end)
        {
            var want = (int)Math.Min(pageSize, end - next);
            var page = await client.GetTextAsync(ApiRoutes.Ledger.Leaves.With().Query(("start", next), ("limit", want)), ct);
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
