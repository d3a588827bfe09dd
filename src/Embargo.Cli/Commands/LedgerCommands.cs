using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Ledger;
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
            Console.Out.Write(Output.Safe(await client.GetTextAsync("/api/ledger/checkpoint", ct), multiline: true));
            return CliApp.Ok;
        });
        return Group("ledger", "the public transparency ledger", export, checkpoint, Monitor());
    }

    /// <summary>
    /// A monitor's check that the ledger only grew: the checkpoint saved earlier and the current one both verify
    /// under the ledger key, and the server's consistency proof links the two roots (RFC 9162 §2.1.4).
    /// </summary>
    private static Command Monitor()
    {
        var since = new Option<string>("--since") { Description = "a signed checkpoint saved earlier", Required = true };
        var key = new Option<string>("--ledger-key") { Description = "the ledger's note verifier key file (name+hash+key)", Required = true };
        var save = new Option<string>("--save") { Description = "write the current checkpoint here once it is proven consistent" };
        var command = new Command("monitor", "prove the ledger is append-only since a checkpoint you saved") { since, key, save, Common.Server, Common.Json };
        command.SetAction(async (r, ct) =>
        {
            var verifier = NoteVerifier.Parse(ReadFile(r.GetValue(key)!, "ledger key").Trim());
            if (!verifier.IsOk)
            {
                throw new UserInputException($"{r.GetValue(key)}: {verifier.Error!.Message}");
            }
            var old = OpenCheckpoint(verifier.Value, ReadFile(r.GetValue(since)!, "checkpoint"), r.GetValue(since)!);
            using var client = Client(r);
            var currentText = await client.GetTextAsync("/api/ledger/checkpoint", ct);
            var current = OpenCheckpoint(verifier.Value, currentText, "the server's checkpoint");
            if (current.Origin != old.Origin)
            {
                throw new CommandFailedException($"the server's ledger is {current.Origin}, the saved checkpoint is for {old.Origin}");
            }
            if (current.Size < old.Size)
            {
                throw new CommandFailedException($"the ledger shrank from {old.Size} to {current.Size} leaves: it was rewritten");
            }
            if (old.Size > 0 && current.Size > old.Size)
            {
                var proof = await client.GetAsync<Embargo.Server.Ledger.ConsistencyProofResponse>($"/api/ledger/proofs/consistency?from={old.Size}&to={current.Size}", ct);
                var verified = MerkleVerifier.VerifyConsistency(old.Size, current.Size, old.RootHash, current.RootHash, proof.Proof.Select(Convert.FromBase64String).ToList());
                if (!verified.IsOk)
                {
                    throw new CommandFailedException($"the ledger is not consistent with the saved checkpoint: {verified.Error!.Message}");
                }
            }
            else if (current.Size == old.Size && !current.RootHash.AsSpan().SequenceEqual(old.RootHash))
            {
                throw new CommandFailedException($"two different roots for the same size {old.Size}: the ledger forked");
            }
            if (r.GetValue(save) is { } path)
            {
                await File.WriteAllTextAsync(path, currentText, ct);
            }
            Output.Write(new { consistent = true, origin = current.Origin, from = old.Size, to = current.Size }, r.GetValue(Common.Json), "ledger monitor");
            return CliApp.Ok;
        });
        return command;
    }

    private static Checkpoint OpenCheckpoint(NoteVerifier verifier, string signedNote, string what)
    {
        var body = verifier.Open(signedNote);
        if (!body.IsOk)
        {
            throw new CommandFailedException($"{what}: {body.Error!.Message}");
        }
        var checkpoint = Checkpoint.Parse(body.Value);
        return checkpoint.IsOk ? checkpoint.Value : throw new CommandFailedException($"{what}: {checkpoint.Error!.Message}");
    }

    /// <summary>Checkpoint first, then the leaves it covers (the leaves may have grown meanwhile; extra leaves are cut).</summary>
    public static async Task<IReadOnlyList<string>> ExportAsync(EmbargoClient client, string dir, CancellationToken ct)
    {
        Directory.CreateDirectory(dir);
        var checkpoint = await client.GetTextAsync("/api/ledger/checkpoint", ct);
        var size = long.Parse(checkpoint.Split('\n')[1], System.Globalization.CultureInfo.InvariantCulture);
        var key = await client.GetTextAsync("/api/ledger/key", ct);
        var leaves = size == 0 ? "" : await client.GetLeavesAsync(0, size, ct);
        var paths = new[] { Path.Combine(dir, "ledger.jsonl"), Path.Combine(dir, "checkpoint.txt"), Path.Combine(dir, "ledger.vkey") };
        await File.WriteAllTextAsync(paths[0], leaves, ct);
        await File.WriteAllTextAsync(paths[1], checkpoint, ct);
        await File.WriteAllTextAsync(paths[2], key, ct);
        return paths;
    }
}
