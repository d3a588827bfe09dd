using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

public sealed class CaseListTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task CasesAreListedAndFilteredByState()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var all = await w.Regulator.GetAllAsync<CaseSummaryDto>("/api/cases", default);
        var mine = Assert.Single(all, c => c.Id == w.CaseId);
        Assert.Equal("scoping", mine.State);
        Assert.Equal(w.Version.ManifestDigest, mine.ManifestDigest);
        Assert.Contains(await w.Regulator.GetAllAsync<CaseSummaryDto>("/api/cases?state=scoping", default), c => c.Id == w.CaseId);
        Assert.DoesNotContain(await w.Regulator.GetAllAsync<CaseSummaryDto>("/api/cases?state=released", default), c => c.Id == w.CaseId);
        var e = await Refused(HttpStatusCode.BadRequest, null, () => w.Regulator.GetAllAsync<CaseSummaryDto>("/api/cases?state=bogus", default));
        Assert.Contains("bogus", e.Detail);
    }
}
