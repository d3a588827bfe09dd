using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;

namespace Embargo.Server.Tests.Infrastructure;

/// <summary>One decoded ledger leaf: its index, exact bytes and the canonical JSON they hold.</summary>
public sealed record Leaf(long Index, byte[] Bytes, JsonObject Json)
{
    public string Type => Json["type"]!.GetValue<string>();
    public JsonObject Data => Json["data"]!.AsObject();
    public string Text => Encoding.UTF8.GetString(Bytes);
}

public static class Api
{
    /// <summary>Asserts that <paramref name="attempt"/> is refused with exactly this status and rule.</summary>
    public static async Task<ApiException> Refused(HttpStatusCode status, string? rule, Func<Task> attempt)
    {
        var e = await Assert.ThrowsAsync<ApiException>(attempt);
        Assert.True(status == e.Status, $"expected {(int)status} but got {(int)e.Status}: {e.Message}");
        Assert.True(rule == e.Rule, $"expected rule '{rule}' but got '{e.Rule}': {e.Message}");
        return e;
    }

    public static async Task<string> CheckpointAsync(EmbargoHost host) => await host.Anonymous.GetTextAsync("/api/ledger/checkpoint", default);

    public static long SizeOf(string checkpoint) => long.Parse(checkpoint.Split('\n')[1], CultureInfo.InvariantCulture);

    public static byte[] RootOf(string checkpoint) => Convert.FromBase64String(checkpoint.Split('\n')[2]);

    public static async Task<long> LedgerSizeAsync(EmbargoHost host) => SizeOf(await CheckpointAsync(host));

    public static async Task<string> LeavesTextAsync(EmbargoHost host, long start = 0) =>
        await host.Anonymous.GetLeavesAsync(start, long.MaxValue, default);

    public static async Task<IReadOnlyList<Leaf>> LeavesAsync(EmbargoHost host, long start = 0) => Decode(await LeavesTextAsync(host, start));

    public static IReadOnlyList<Leaf> Decode(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var o = JsonNode.Parse(line)!.AsObject();
            var bytes = Convert.FromBase64String(o["leaf"]!.GetValue<string>());
            return new Leaf(o["index"]!.GetValue<long>(), bytes, JsonNode.Parse(bytes)!.AsObject());
        }).ToList();

    /// <summary>Runs <paramref name="refused"/> and asserts the ledger did not grow and the case did not change.</summary>
    public static async Task<ApiException> RefusedWithoutChange(ProtocolWorld w, HttpStatusCode status, string? rule, Func<Task> refused)
    {
        var size = await LedgerSizeAsync(w.Host);
        var before = await w.CaseTextAsync();
        var e = await Refused(status, rule, refused);
        Assert.Equal(size, await LedgerSizeAsync(w.Host));
        Assert.Equal(before, await w.CaseTextAsync());
        return e;
    }

    public static string Json(object o) => JsonSerializer.Serialize(o, EmbargoClient.Json);
}
