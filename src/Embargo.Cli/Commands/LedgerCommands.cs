using System.CommandLine;
using Embargo.Cli.Infrastructure;
using static Embargo.Cli.Infrastructure.Common;

namespace Embargo.Cli.Commands;

public static class LedgerCommands
{
    public static Command Create()
    {
        var dir = new Option<string>("--out") { Description = "directory for ledger.jsonl, checkpoint.txt and ledger.vkey", Required = true };
        var export = new Command("export", "download the public ledger: every leaf, a signed checkpoint and the verifier key") { dir, Common.Server };
        export.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            var files = await ExportAsync(client, r.GetValue(dir)!, ct);
            foreach (var f in files)
            {
                Console.Out.WriteLine(f);
            }
            return CliApp.Ok;
        });
        var checkpoint = new Command("checkpoint", "print the current signed checkpoint") { Common.Server };
        checkpoint.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            Console.Out.Write(await client.GetTextAsync("/api/ledger/checkpoint", ct));
            return CliApp.Ok;
        });
        return Group("ledger", "the public transparency ledger", export, checkpoint);
    }

    /// <summary>Checkpoint first, then the leaves it covers (the leaves may have grown meanwhile; extra leaves are cut).</summary>
    public static async Task<IReadOnlyList<string>> ExportAsync(EmbargoClient client, string dir, CancellationToken ct)
    {
        Directory.CreateDirectory(dir);
        var checkpoint = await client.GetTextAsync("/api/ledger/checkpoint", ct);
        var size = long.Parse(checkpoint.Split('\n')[1], System.Globalization.CultureInfo.InvariantCulture);
        var key = await client.GetTextAsync("/api/ledger/key", ct);
        var leaves = size == 0 ? "" : await client.GetTextAsync($"/api/ledger/leaves?start=0&count={size}", ct);
        var paths = new[] { Path.Combine(dir, "ledger.jsonl"), Path.Combine(dir, "checkpoint.txt"), Path.Combine(dir, "ledger.vkey") };
        await File.WriteAllTextAsync(paths[0], leaves, ct);
        await File.WriteAllTextAsync(paths[1], checkpoint, ct);
        await File.WriteAllTextAsync(paths[2], key, ct);
        return paths;
    }
}
