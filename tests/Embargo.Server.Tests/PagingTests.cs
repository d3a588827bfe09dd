using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Ledger;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Lists are paged (<c>?limit=&amp;offset=</c>, the ledger's leaves <c>?start=&amp;limit=</c>): walking the pages gives the
/// whole list, the response says the total and where the next page starts, and a bad value is a 400 naming it.
/// </summary>
public sealed class PagingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private sealed record RawPage(HttpStatusCode Status, string Body, long? Total, long? Next, string? Link);

    private async Task<RawPage> GetRaw(string path, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Host.Url, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await Host.Http.SendAsync(request);
        static long? Header(HttpResponseMessage r, string name) =>
            r.Headers.TryGetValues(name, out var values) ? long.Parse(values.Single(), CultureInfo.InvariantCulture) : null;
        return new RawPage(response.StatusCode, await response.Content.ReadAsStringAsync(), Header(response, "X-Total-Count"), Header(response, "X-Next-Offset"),
            response.Headers.TryGetValues("Link", out var link) ? link.Single() : null);
    }

    [Fact]
    public async Task LedgerLeavesWalkedSevenAtATimeAreExactlyTheLeavesTheSignedCheckpointCovers()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var checkpoint = await CheckpointAsync(Host);
        var size = SizeOf(checkpoint);
        Assert.True(size > 14, $"the world wrote {size} leaves; the walk needs several pages");

        var walked = new StringBuilder();
        long start = 0;
        while (start < size)
        {
            var page = await GetRaw($"/api/ledger/leaves?start={start}&limit=7");
            Assert.Equal(HttpStatusCode.OK, page.Status);
            Assert.Equal(size, page.Total);
            var lines = page.Body.Count(c => c == '\n');
            Assert.Equal(Math.Min(7, size - start), lines);
            if (start + lines < size)
            {
                Assert.Equal(start + 7, page.Next);
                Assert.Equal($"</api/ledger/leaves?start={start + 7}&limit=7>; rel=\"next\"", page.Link);
            }
            else
            {
                Assert.Null(page.Next);
                Assert.Null(page.Link);
            }
            walked.Append(page.Body);
            start += lines;
        }

        // Same bytes as one big page, and the RFC 6962 root over them is the signed one.
        Assert.Equal(await Host.Anonymous.GetTextAsync(ApiRoutes.Ledger.Leaves.With().Query(("start", 0), ("limit", size)), default), walked.ToString());
        var leaves = Decode(walked.ToString());
        Assert.Equal(Enumerable.Range(0, (int)size).Select(i => (long)i), leaves.Select(l => l.Index));
        var tree = new MerkleTree();
        foreach (var leaf in leaves)
        {
            tree.AppendLeaf(leaf.Bytes);
        }
        Assert.Equal(RootOf(checkpoint), tree.Root());
    }

    [Fact]
    public async Task WithoutALimitTheLedgerAnswersOneThousandLeavesAPage()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var page = await GetRaw("/api/ledger/leaves?start=1");
        Assert.Equal(size, page.Total);
        Assert.Equal(Math.Min(1000, size - 1), page.Body.Count(c => c == '\n'));
        Assert.StartsWith("{\"index\":1,", page.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/ledger/leaves?limit=0", "limit")]
    [InlineData("/api/ledger/leaves?limit=10001", "limit")]
    [InlineData("/api/ledger/leaves?limit=ten", "limit")]
    [InlineData("/api/ledger/leaves?start=-1", "start")]
    [InlineData("/api/ledger/leaves?start=1e3", "start")]
    [InlineData("/api/organisations?limit=1001", "limit")]
    [InlineData("/api/organisations?offset=-5", "offset")]
    [InlineData("/api/public/advisories?limit=1.5", "limit")]
    [InlineData("/api/public/bad-actors?offset=x", "offset")]
    [InlineData("/api/reference-models?limit=-3", "limit")]
    [InlineData("/api/violations?limit=0", "limit")]
    [InlineData("/api/cases?limit=5000", "limit")]
    [InlineData("/api/cases?offset=99999999999999999999", "offset")]
    public async Task ABadPagingParameterIsA400NamingIt(string path, string member)
    {
        var size = await LedgerSizeAsync(Host);
        var page = await GetRaw(path, Host.AdminToken);
        Assert.Equal(HttpStatusCode.BadRequest, page.Status);
        var problem = JsonNode.Parse(page.Body)!.AsObject();
        Assert.Equal(400, problem["status"]!.GetValue<int>());
        Assert.Equal(member, problem["member"]!.GetValue<string>());
        Assert.StartsWith(member + ":", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task OrganisationsWalkedTwoAtATimeFollowingTheNextOffsetAreTheWholeListInOrder()
    {
        for (var i = 0; i < 5; i++)
        {
            await Host.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"Paging Org {Guid.NewGuid():N}" }, default);
        }
        var whole = await Host.Anonymous.PageAsync<OrganisationDto>(ApiRoutes.Organisations.List.With(), 1000, 0, default);
        var walked = new List<OrganisationDto>();
        long? offset = 0;
        while (offset is { } at)
        {
            var page = await GetRaw($"/api/organisations?limit=2&offset={at}");
            Assert.Equal(HttpStatusCode.OK, page.Status);
            Assert.Equal(whole.Count, page.Total);
            var items = System.Text.Json.JsonSerializer.Deserialize<List<OrganisationDto>>(page.Body, EmbargoClient.Json)!;
            Assert.Equal(page.Next is null ? whole.Count - at : 2, items.Count);
            walked.AddRange(items);
            offset = page.Next;
        }
        Assert.Equal(whole.Select(o => o.Id), walked.Select(o => o.Id));
        Assert.Equal(whole.Select(o => o.Id), (await Host.Anonymous.AllAsync<OrganisationDto>(ApiRoutes.Organisations.List.With(), default, pageSize: 3)).Select(o => o.Id));
    }

    [Fact]
    public async Task ACaseViewCarriesTheFirstHundredDraftsAndTheirCountAndTheRestArePagedToItsReadersOnly()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var drafted = new List<string>();
        for (var i = 0; i < 105; i++)
        {
            var draft = await w.Developer.Cases.DraftThreatModelAsync(w.CaseId, new DraftThreatModelRequest
            {
                Capability = $"capability-{i:D3}", Description = "drafted with the reference model", Steps = ["step"], ReferenceModel = "frontier",
            }, default);
            drafted.Add(draft.Id);
        }

        var view = await w.Developer.Cases.GetAsync(w.CaseId, default);
        Assert.Equal(105, view.ThreatModelDraftCount);
        var inView = view.ThreatModels.Where(t => t.Status == "draft").Select(t => t.Id).ToList();
        Assert.Equal(100, inView.Count);

        var paged = await w.Regulator.AllAsync<ThreatModelDto>(ApiRoutes.Cases.Drafts.With(w.CaseId), default, pageSize: 40);
        Assert.Equal(105, paged.Count);
        Assert.Equal(drafted.Order(StringComparer.Ordinal), paged.Select(t => t.Id).Order(StringComparer.Ordinal));
        Assert.Equal(inView, paged.Take(100).Select(t => t.Id));
        Assert.All(paged, t => Assert.Equal("draft", t.Status));

        await Refused(HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.OtherDeveloper.Cases.DraftsAsync(w.CaseId, default));
    }

    [Fact]
    public async Task AcceptingOneDraftAmongManyAcceptsThatDraftOnlyAndADraftOfAnotherCaseIsNotFound()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        using var other = await ProtocolWorld.CreateAsync(Host);
        var drafts = new List<ThreatModelDto>();
        for (var i = 0; i < 12; i++)
        {
            drafts.Add(await w.Developer.Cases.DraftThreatModelAsync(w.CaseId, new DraftThreatModelRequest
            {
                Capability = $"capability-{i:D2}", Description = "drafted with the reference model", Steps = ["step"], ReferenceModel = "frontier",
            }, default));
        }
        var foreign = await other.Developer.Cases.DraftThreatModelAsync(other.CaseId, new DraftThreatModelRequest
        {
            Capability = "foreign", Description = "another case's draft", Steps = ["step"], ReferenceModel = "frontier",
        }, default);

        var accepted = await w.Evaluator.Cases.AcceptThreatModelAsync(w.CaseId, drafts[7].Id,
            new AcceptThreatModelRequest { AffectedParties = [w.MailOrg] }, default);

        Assert.Equal(drafts[7].Id, accepted.Id);
        Assert.Equal("accepted", accepted.Status);
        var view = await w.CaseAsync();
        Assert.Equal(11, view.ThreatModelDraftCount);
        Assert.Equal([drafts[7].Id], view.ThreatModels.Where(t => t.Status == "accepted").Select(t => t.Id));
        await RefusedWithoutChange(w, HttpStatusCode.NotFound, null,
            () => w.Evaluator.Cases.AcceptThreatModelAsync(w.CaseId, foreign.Id,
                new AcceptThreatModelRequest { AffectedParties = [w.MailOrg] }, default));
        Assert.Equal("draft", (await other.CaseAsync()).ThreatModels.Single(t => t.Id == foreign.Id).Status);
    }
}
