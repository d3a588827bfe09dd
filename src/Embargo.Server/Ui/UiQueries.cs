using System.Globalization;
using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Ui;

/// <summary>One event of a case's protocol timeline, read from its ledger leaf.</summary>
public sealed record TimelineEntry(long Index, string Type, string At, string? ActorRole, string? ActorOrganisation);

/// <summary>What the pages read beyond the API's own queries: names, the case's ledger entries, formatting.</summary>
public static class UiQueries
{
    /// <summary>How many of the newest ledger leaves a case timeline scans.</summary>
    public const int TimelineWindow = 20_000;

    public static Caller? CallerOf(HttpContext? http) =>
        http?.User.FindFirst(Caller.PrincipalClaim) is null ? null : Caller.From(http.User);

    public static async Task<Dictionary<string, string>> OrganisationNamesAsync(EmbargoDb db, CancellationToken ct) =>
        await db.Organisations.AsNoTracking().ToDictionaryAsync(o => o.Id, o => o.Name, StringComparer.Ordinal, ct);

    /// <summary>
    /// The ledger entries of a case: every leaf among the newest <see cref="TimelineWindow"/> whose data names the case
    /// or one of its threat models, evaluations, findings, disclosures, mitigations, certificates or releases.
    /// </summary>
    public static async Task<List<TimelineEntry>> TimelineAsync(EmbargoDb db, CaseSnapshot snap, IEnumerable<string> more, CancellationToken ct)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal) { snap.Case.Id };
        ids.UnionWith(snap.ThreatModels.Select(t => t.Id));
        ids.UnionWith(snap.Evaluations.Select(e => e.Id));
        ids.UnionWith(snap.Findings.Select(f => f.Id));
        ids.UnionWith(snap.Disclosures.Select(d => d.Id));
        ids.UnionWith(snap.Mitigations.Select(m => m.Id));
        ids.UnionWith(more);
        var size = await db.LedgerLeaves.MaxAsync(l => (long?)l.Index, ct) ?? -1;
        var from = Math.Max(0, size + 1 - TimelineWindow);
        var leaves = await db.LedgerLeaves.AsNoTracking().Where(l => l.Index >= from).OrderBy(l => l.Index).Select(l => new { l.Index, l.Data }).ToListAsync(ct);
        var result = new List<TimelineEntry>();
        foreach (var leaf in leaves)
        {
            if (LedgerEvents.TryParse(leaf.Data) is not { } node || node["data"] is not JsonObject data || !Names(data, ids))
            {
                continue;
            }
            var actor = node["actor"] as JsonObject;
            result.Add(new TimelineEntry(leaf.Index, node["type"]?.GetValue<string>() ?? "?", node["at"]?.GetValue<string>() ?? "",
                actor?["role"]?.GetValue<string>(), actor?["organisation"]?.GetValue<string>()));
        }
        return result;
    }

    /// <summary>Whether a leaf's data names one of the ids (top-level values, or one level into arrays and objects).</summary>
    private static bool Names(JsonObject data, HashSet<string> ids)
    {
        foreach (var (_, value) in data)
        {
            switch (value)
            {
                case JsonValue v when v.TryGetValue<string>(out var s) && ids.Contains(s):
                    return true;
                case JsonArray a when a.Any(x => x is JsonValue xv && xv.TryGetValue<string>(out var xs) && ids.Contains(xs)):
                    return true;
                case JsonObject o when o.Any(p => p.Value is JsonValue pv && pv.TryGetValue<string>(out var ps) && ids.Contains(ps)):
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Answers the page with an error status while still rendering it (the explanation is the page): set when the response
    /// starts, because the component renderer does not render a body for a 404 it was told about beforehand.
    /// </summary>
    public static void Status(HttpContext http, int status) => http.Response.OnStarting(() =>
    {
        http.Response.StatusCode = status;
        return Task.CompletedTask;
    });

    public static string Pct(double value) => value.ToString("0.0%", CultureInfo.InvariantCulture);
    public static string Num(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);
    public static string When(DateTimeOffset? at) => at is { } a ? a.UtcDateTime.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Name(IReadOnlyDictionary<string, string> names, string? id) =>
        id is null ? "—" : names.TryGetValue(id, out var n) ? n : id;

    /// <summary>Phase order for the dashboard.</summary>
    public static IReadOnlyList<string> Phases { get; } = Enum.GetValues<CaseState>().Select(s => s.Name()).ToList();
}
