using System.Data.Common;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Ledger;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// The server never signs a history it did not write: with the server stopped, the store is edited behind its back
/// (SQLite file, or PostgreSQL rows when EMBARGO_TEST_POSTGRES is set); the restarted server, on the same store and
/// ledger key, refuses to sign and to write, and names the first leaf that differs.
/// </summary>
public sealed class LedgerIntegrityTests
{
    [Fact]
    public async Task ALeafRewrittenWithItsHashRecomputedStopsSigningAndWritingAfterARestart()
    {
        await using var host = await EmbargoHost.StartAsync();
        using var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(Milestone.Testing);
        var rewritten = await LedgerSizeAsync(host); // signs the tree before the leaf
        var evaluation = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        Assert.Equal(rewritten, evaluation.LedgerIndex);
        Assert.Equal(rewritten + 1, await LedgerSizeAsync(host)); // and the tree with it
        await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing));
        var size = await LedgerSizeAsync(host);

        await host.RestartAsync(async () =>
        {
            using var store = host.OpenStoreConnection();
            var data = (byte[])(await ScalarAsync(store, """SELECT "Data" FROM ledger_leaves WHERE "Index" = @i""", ("@i", rewritten)))!;
            var forged = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(data).Replace(evaluation.Id, evaluation.Id[..^1] + "X", StringComparison.Ordinal));
            Assert.NotEqual(data, forged);
            Assert.Equal(1, await ExecuteAsync(store, """UPDATE ledger_leaves SET "Data" = @d, "Hash" = @h WHERE "Index" = @i""",
                ("@d", forged), ("@h", MerkleHash.HashLeaf(forged)), ("@i", rewritten)));
        });

        await AssertIntegrityFailureAsync(host, rewritten);
        await AssertWritesRefusedAsync(host, w, rewritten, size);
    }

    [Fact]
    public async Task TheLastLeafDeletedStopsSigningAndWritingAfterARestartAndItsIndexIsNotReused()
    {
        await using var host = await EmbargoHost.StartAsync();
        using var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(Milestone.Mapping);
        var size = await LedgerSizeAsync(host);

        await host.RestartAsync(async () =>
        {
            using var store = host.OpenStoreConnection();
            Assert.Equal(1, await ExecuteAsync(store, """DELETE FROM ledger_leaves WHERE "Index" = @i""", ("@i", size - 1)));
        });

        await AssertIntegrityFailureAsync(host, size - 1);
        await AssertWritesRefusedAsync(host, w, size - 1, size - 1);
    }

    [Fact]
    public async Task ACertificateTierRaisedToOpenInTheStoreDoesNotAllowAnOpenRelease()
    {
        await using var host = await EmbargoHost.StartAsync();
        using var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(Milestone.Certified);
        Assert.Equal("hosted", w.Certificate!.Tier);

        await host.RestartAsync(async () =>
        {
            using var store = host.OpenStoreConnection();
            Assert.Equal(1, await ExecuteAsync(store, """UPDATE certificates SET "Tier" = 'open' WHERE "Id" = @id""", ("@id", w.Certificate.Id)));
        });

        Assert.Equal("open", (await host.Anonymous.Certificates.GetAsync(w.Certificate.Id, default)).Tier);
        var refused = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("open"));
        Assert.Contains($"certificate {w.Certificate.Id} is stored at open, but its signed statement says hosted", refused.Detail, StringComparison.Ordinal);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("api"));
        // The ledger itself was not touched: the server is healthy and releases at the tier the certifier signed.
        Assert.Equal("ok", await host.Anonymous.Service.HealthAsync(default));
        var release = await w.ReleaseAsync("hosted");
        Assert.Equal(w.Certificate.Id, release.CertificateId);
    }

    [Fact]
    public async Task AnUntouchedStoreSignsTheSameHistoryAfterARestart()
    {
        await using var host = await EmbargoHost.StartAsync();
        using var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(Milestone.Testing);
        var before = await CheckpointAsync(host);

        await host.RestartAsync(() => Task.CompletedTask);

        Assert.Equal(before, await CheckpointAsync(host));
        Assert.Equal("ok", await host.Anonymous.Service.HealthAsync(default));
        var evaluation = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        Assert.Equal(SizeOf(before), evaluation.LedgerIndex);
    }

    [Fact]
    public async Task ALeafDeletedWhileTheServerRunsStopsWritesWithoutReusingItsIndex()
    {
        await using var host = await EmbargoHost.StartAsync();
        using var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(Milestone.Mapping);
        var size = await LedgerSizeAsync(host);
        using (var store = host.OpenStoreConnection())
        {
            Assert.Equal(1, await ExecuteAsync(store, """DELETE FROM ledger_leaves WHERE "Index" = @i""", ("@i", size - 1)));
        }

        // It signs nothing smaller than what it signed, writes nothing, and does not reuse the index.
        await AssertIntegrityFailureAsync(host, size - 1);
        await AssertWritesRefusedAsync(host, w, size - 1, size - 1);
    }

    /// <summary>The checkpoint endpoint and /healthz answer 503 naming the first differing leaf.</summary>
    private static async Task AssertIntegrityFailureAsync(EmbargoHost host, long index)
    {
        foreach (var path in new[] { ApiRoutes.Ledger.Checkpoint.Template, ApiRoutes.Service.Health.Template })
        {
            var problem = await ProblemAsync(host, path);
            Assert.Equal("ledger-integrity", problem["code"]!.GetValue<string>());
            Assert.Equal(index, problem["ledgerIndex"]!.GetValue<long>());
            Assert.Contains($"leaf {index}", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    /// <summary>A write is refused with 503 naming the leaf, and the store keeps exactly <paramref name="leaves"/> leaves.</summary>
    private static async Task AssertWritesRefusedAsync(EmbargoHost host, ProtocolWorld w, long index, long leaves)
    {
        var before = await w.CaseTextAsync();
        var refused = await Refused(HttpStatusCode.ServiceUnavailable, null, () => w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio)));
        Assert.Contains($"leaf {index}", refused.Detail, StringComparison.Ordinal);
        await Refused(HttpStatusCode.ServiceUnavailable, null, () => host.Admin.Admin.CreateOrganisationAsync(
            new CreateOrganisationRequest { Name = "written after tampering " + w.Tag }, default));
        Assert.Equal(leaves, (await LeavesAsync(host)).Count);
        Assert.Equal(before, await w.CaseTextAsync());
    }

    private static async Task<JsonObject> ProblemAsync(EmbargoHost host, string path)
    {
        using var response = await host.Http.GetAsync(new Uri(host.Url, path.TrimStart('/')));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    private static async Task<object?> ScalarAsync(DbConnection store, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(store, sql, parameters);
        return await command.ExecuteScalarAsync();
    }

    private static async Task<int> ExecuteAsync(DbConnection store, string sql, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(store, sql, parameters);
        return await command.ExecuteNonQueryAsync();
    }

    private static DbCommand Command(DbConnection store, string sql, (string Name, object Value)[] parameters)
    {
        var command = store.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value;
            command.Parameters.Add(p);
        }
        return command;
    }
}
