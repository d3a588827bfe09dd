using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Ledger;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server;
using Embargo.Server.Auth;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

// Durable ledger appends per second from many concurrent writers, through the server's group-committing
// LedgerWriter (each append is a committed transaction before the writer is answered), on SQLite (WAL,
// synchronous=FULL) and, when EMBARGO_BENCH_POSTGRES is set, on PostgreSQL (fsync on). Also end to end
// over HTTP. Usage: dotnet run -c Release --project bench/Embargo.Bench.Server [-- appends writers]
// Per-case write cost and tenant isolation: [-- case-scale [writes] [sizes…]] (CaseScale.cs).
if (args.Length > 0 && args[0] == "case-scale")
{
    await CaseScaleBench.RunAsync(args[1..]);
    return;
}
var appends = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var writers = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 256;
var report = new StringBuilder();
report.AppendLine($"| store | path | writers | appends | seconds | appends/s | leaves after |");
report.AppendLine("|---|---|---:|---:|---:|---:|---:|");

await Run("sqlite", null);
var pg = Environment.GetEnvironmentVariable("EMBARGO_BENCH_POSTGRES");
if (!string.IsNullOrEmpty(pg))
{
    await Run("postgres", pg + $";Database=embargo_bench_{Guid.NewGuid():N}");
}
Console.WriteLine();
Console.WriteLine(report);

async Task Run(string storage, string? connection)
{
    var dir = Directory.CreateTempSubdirectory("embargo-bench-");
    var token = "bench-admin-token-0123456789";
    var (app, url) = await ServerLauncher.StartAsync(new ServerSettings
    {
        DataDirectory = dir.FullName, Storage = storage, ConnectionString = connection, AdminToken = token,
    }, CancellationToken.None);
    try
    {
        var writer = app.Services.GetRequiredService<LedgerWriter>();
        var factory = app.Services.GetRequiredService<EmbargoDbFactory>();
        if (storage == "sqlite")
        {
            await using var db = factory.CreateDbContext();
            await db.Database.OpenConnectionAsync();
            using var cmd = db.Database.GetDbConnection().CreateCommand();
            cmd.CommandText = "PRAGMA journal_mode; ";
            var journal = await cmd.ExecuteScalarAsync();
            cmd.CommandText = "PRAGMA synchronous;";
            var sync = await cmd.ExecuteScalarAsync();
            Console.WriteLine($"sqlite journal_mode={journal} synchronous={sync} (2 = FULL: fsync on every commit)");
        }

        // 1. Through the LedgerWriter: `writers` tasks each appending appends/writers events, one unit of work each.
        var perWriter = appends / writers;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < perWriter; i++)
            {
                var r = await writer.ExecuteAsync<long>(Caller.System, (uow, ct) =>
                    Task.FromResult<Result<long>>(uow.Append("bench.event", new JsonObject { ["writer"] = w, ["i"] = i })), CancellationToken.None);
                if (!r.IsOk)
                {
                    throw new InvalidOperationException(r.Error!.Message);
                }
            }
        })));
        stopwatch.Stop();
        var size = app.Services.GetRequiredService<LedgerState>().Size;
        Row(storage, "LedgerWriter (in-process)", writers, perWriter * writers, stopwatch.Elapsed, size);

        // 2. Over HTTP: concurrent clients creating organisations (auth, JSON, validation, one leaf each).
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 });
        var client = new EmbargoClient(url, token, http);
        var httpWriters = 64;
        var httpEach = Math.Max(1, appends / 10 / httpWriters);
        stopwatch.Restart();
        await Task.WhenAll(Enumerable.Range(0, httpWriters).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < httpEach; i++)
            {
                await client.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"org-{w}-{i}" }, CancellationToken.None);
            }
        })));
        stopwatch.Stop();
        size = app.Services.GetRequiredService<LedgerState>().Size;
        Row(storage, $"HTTP {ApiRoutes.Admin.CreateOrganisation}", httpWriters, httpEach * httpWriters, stopwatch.Elapsed, size);

        // The log must still verify end to end after the run.
        var checkpoint = await client.Ledger.CheckpointAsync(CancellationToken.None);
        var jsonl = await client.Ledger.LeavesAsync(ct: CancellationToken.None);
        var vkey = (await client.Ledger.KeyAsync(CancellationToken.None)).Trim();
        var verified = OfflineLedgerVerifier.Verify(jsonl, checkpoint, vkey);
        Console.WriteLine($"{storage}: offline verification of all {size} leaves: {(verified.IsOk ? "ok" : verified.Error!.Message)}");
    }
    finally
    {
        await app.StopAsync();
        await app.DisposeAsync();
        dir.Delete(recursive: true);
    }
}

void Row(string storage, string path, int w, int n, TimeSpan elapsed, long size)
{
    var line = $"| {storage} | {path} | {w} | {n:N0} | {elapsed.TotalSeconds:F2} | {n / elapsed.TotalSeconds:N0} | {size:N0} |";
    Console.WriteLine(line);
    report.AppendLine(line);
}
