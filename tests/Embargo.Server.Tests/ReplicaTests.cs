using Embargo.Cli.Infrastructure;
using Embargo.Ledger;
using Embargo.Contracts;
using Embargo.Server;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Two server replicas on one store (the same SQLite file, or the same PostgreSQL database) keep one ledger.</summary>
public sealed class ReplicaTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task TwoReplicasWritingAtOnceKeepOneGaplessVerifiableLedger()
    {
        var (replica, replicaUrl) = await ServerLauncher.StartAsync(new ServerSettings
        {
            DataDirectory = Host.DataDirectory, AdminToken = Host.AdminToken, Storage = Host.Storage, ConnectionString = Host.ConnectionString,
            Time = Host.Time, LedgerOrigin = "embargo.test/ledger",
        }, default);
        try
        {
            using var other = new EmbargoClient(replicaUrl, Host.AdminToken);
            var before = await LedgerSizeAsync(Host);
            var tag = Guid.NewGuid().ToString("N")[..8];
            await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? Host.Admin : other)
                .Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"replica-{tag}-{i}" }, default)));

            var checkpointA = await CheckpointAsync(Host);
            var checkpointB = await other.Ledger.CheckpointAsync(default);
            Assert.Equal(before + 40, SizeOf(checkpointA));
            Assert.Equal(SizeOf(checkpointA), SizeOf(checkpointB));
            Assert.Equal(RootOf(checkpointA), RootOf(checkpointB));

            // The leaves one replica serves verify under the checkpoint the other signed.
            var vkey = (await other.Ledger.KeyAsync(default)).Trim();
            var verified = OfflineLedgerVerifier.Verify(await LeavesTextAsync(Host), checkpointB, vkey);
            Assert.True(verified.IsOk, verified.Error?.ToString());
            var created = (await LeavesAsync(Host, before)).Where(l => l.Type == "organisation.created").Select(l => l.Data["name"]!.GetValue<string>()).ToList();
            Assert.Equal(40, created.Count(n => n.StartsWith($"replica-{tag}-", StringComparison.Ordinal)));
        }
        finally
        {
            await replica.StopAsync();
            await replica.DisposeAsync();
        }
    }
}
