using System.Net;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Authority is checked when a write commits, not only when its request was authenticated; and one release per
/// version and tier, however many identical requests race for it.
/// </summary>
public sealed class AuthorityAtCommitTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task WritesQueuedBehindTheirPrincipalsRevocationAreRefusedAndWriteNothing()
    {
        var (org, principals) = await DevelopersAsync(50);
        var start = await LedgerSizeAsync(Host);
        List<Task<ApiException>> writes;
        await using (var gate = await WriterGate.CloseAsync(Host))
        {
            // The revocations are queued first; the writes are authenticated meanwhile (the old tokens still work) and queue behind them.
            var revocations = principals.Select(p => Host.Admin.Admin.RevokeTokenAsync(p.Id, default)).ToList();
            await gate.QueuedAsync(50);
            writes = principals.Select((p, i) => Refused(HttpStatusCode.Forbidden, null,
                () => p.Client.Models.RegisterAsync(new RegisterModelRequest { Name = $"queued-{org}-{i}" }, default))).ToList();
            await gate.QueuedAsync(100);
            await gate.OpenAsync();
            await Task.WhenAll(revocations);
        }
        foreach (var refused in await Task.WhenAll(writes))
        {
            Assert.Contains("was revoked or replaced before this write committed", refused.Detail, StringComparison.Ordinal);
        }
        var leaves = await LeavesAsync(Host, start);
        Assert.Equal(50, leaves.Count);
        Assert.All(leaves, l => Assert.Equal("principal.revoked", l.Type));
    }

    [Fact]
    public async Task NoLeafOfARevokedPrincipalFollowsItsRevocationUnderConcurrentWrites()
    {
        for (var round = 0; round < 3; round++)
        {
            var (org, principals) = await DevelopersAsync(50);
            var start = await LedgerSizeAsync(Host);
            var tasks = principals.SelectMany((p, i) => new Task<HttpStatusCode>[]
            {
                StatusOf(() => p.Client.Models.RegisterAsync(new RegisterModelRequest { Name = $"race-{org}-{i}" }, default)),
                StatusOf(() => Host.Admin.Admin.RevokeTokenAsync(p.Id, default)),
            }).ToList();
            var statuses = await Task.WhenAll(tasks);
            // Every revocation succeeds; a write either commits before its revocation, or is refused (401 at the door, 403 at commit).
            Assert.All(statuses.Where((_, i) => i % 2 == 1), s => Assert.Equal(HttpStatusCode.OK, s));
            Assert.All(statuses.Where((_, i) => i % 2 == 0), s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden }));

            var leaves = await LeavesAsync(Host, start);
            foreach (var p in principals)
            {
                var revoked = Assert.Single(leaves, l => l.Type == "principal.revoked" && l.Data["principal"]!.GetValue<string>() == p.Id).Index;
                var after = leaves.Where(l => l.Index > revoked && l.Json["actor"]?["principal"]?.GetValue<string>() == p.Id).ToList();
                Assert.True(after.Count == 0, $"{p.Id} wrote leaf {after.FirstOrDefault()?.Index} after its revocation at {revoked}");
            }
            var committed = statuses.Where((s, i) => i % 2 == 0 && s == HttpStatusCode.OK).Count();
            Assert.Equal(committed, leaves.Count(l => l.Type == "model.registered"));

            // Each write refused at the door (401, its token already revoked) is a failed authentication from 127.0.0.1; over
            // the rounds they could pass the limit and lock this host's every client out. Let their window pass.
            Host.Time.Advance(2 * new Embargo.Server.Infrastructure.EmbargoOptions().AuthFailureWindow);
        }
    }

    [Fact]
    public async Task TwoConcurrentIdenticalReleasesGiveOneReleaseInTwentyRounds()
    {
        var worlds = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            var w = await ProtocolWorld.CreateAsync(Host);
            await w.DriveToAsync(Milestone.Certified);
            return w;
        }));
        try
        {
            var round = 0;
            foreach (var w in worlds)
            {
                foreach (var tier in new[] { "hosted", "staged" })
                {
                    var start = await LedgerSizeAsync(Host);
                    ReleaseDto[] twins;
                    if (round++ % 2 == 0)
                    {
                        // Same batch: the second runs in the transaction that already holds the first.
                        await using var gate = await WriterGate.CloseAsync(Host);
                        var both = new[] { w.ReleaseAsync(tier), w.ReleaseAsync(tier) };
                        await gate.QueuedAsync(2);
                        await gate.OpenAsync();
                        twins = await Task.WhenAll(both);
                    }
                    else
                    {
                        twins = await Task.WhenAll(w.ReleaseAsync(tier), w.ReleaseAsync(tier));
                    }
                    Assert.Equal(twins[0], twins[1]);
                    Assert.Equal(tier, twins[0].Tier);
                    var leaf = Assert.Single(await LeavesAsync(Host, start));
                    Assert.Equal("release.published", leaf.Type);
                    Assert.Equal(twins[0].LedgerIndex, leaf.Index);
                }
            }
            Assert.Equal(20, round);
        }
        finally
        {
            foreach (var w in worlds)
            {
                w.Dispose();
            }
        }
    }

    [Fact]
    public async Task ARepeatedReleaseAnswersWithTheFirstAndAddsNoLeaf()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var first = await w.ReleaseAsync("hosted");
        var size = await LedgerSizeAsync(Host);
        var again = await w.ReleaseAsync("hosted");
        Assert.Equal(first, again);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    private sealed record Developer(string Id, EmbargoClient Client);

    private async Task<(string Org, List<Developer> Principals)> DevelopersAsync(int count)
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var org = (await Host.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"Revoked Labs {tag}" }, default)).Id;
        var created = await Task.WhenAll(Enumerable.Range(0, count).Select(i => Host.Admin.Admin.CreatePrincipalAsync(
            new CreatePrincipalRequest { OrganisationId = org, Name = $"dev-{tag}-{i}", Role = "developer" }, default)));
        return (org, created.Select(c => new Developer(c.Principal.Id, Host.Admin.As(c.Token))).ToList());
    }

    private static async Task<HttpStatusCode> StatusOf(Func<Task> call)
    {
        try
        {
            await call();
            return HttpStatusCode.OK;
        }
        catch (ApiException e)
        {
            return e.Status;
        }
    }
}
