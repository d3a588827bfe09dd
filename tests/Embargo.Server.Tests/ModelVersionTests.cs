using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Embargo.Cli.Commands;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// A model's versions are listed with what a developer checks before withdrawing one (used by a case, withdrawn), and a
/// version no case has used can be withdrawn by its developer: logged, its label and weights free again, no new case.
/// </summary>
public sealed class ModelVersionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    /// <summary>Weights of its own in a fresh directory, as a registration request labelled <paramref name="label"/>.</summary>
    private async Task<RegisterVersionRequest> NewWeightsAsync(ProtocolWorld w, string label, string? directory = null)
    {
        directory ??= Path.Combine(Host.DataDirectory, $"weights-{w.Tag}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        await File.WriteAllBytesAsync(Path.Combine(directory, "model.bin"), RandomNumberGenerator.GetBytes(2048));
        var manifest = await ProtocolCommands.BuildManifestAsync(directory, default);
        return new RegisterVersionRequest
        {
            Version = label, ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
        };
    }

    private async Task<(HttpStatusCode Status, long? Total, string Body)> GetRaw(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Host.Url, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Host.Http.SendAsync(request);
        var total = response.Headers.TryGetValues("X-Total-Count", out var values) ? long.Parse(values.Single(), CultureInfo.InvariantCulture) : (long?)null;
        return (response.StatusCode, total, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ADeveloperWithdrawsAnUnusedVersionItIsLoggedAndItsLabelAndWeightsCanBeRegisteredAgain()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var second = await NewWeightsAsync(w, "2.0");
        var mistaken = await w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, second, default);

        var listed = await w.Developer.Models.VersionsAsync(w.Version.ModelId, default);
        Assert.Equal([w.Version.Id, mistaken.Id], listed.Select(v => v.Id));
        Assert.Equal([w.CaseId], listed[0].UsedByCases!);
        Assert.Empty(listed[1].UsedByCases!);
        Assert.All(listed, v => Assert.Null(v.WithdrawnAt));
        Assert.NotNull(listed[1].RegisteredAt);

        var size = await LedgerSizeAsync(Host);
        var withdrawn = await w.Developer.Models.WithdrawVersionAsync(mistaken.Id, new WithdrawVersionRequest { Reason = "wrong weights path" }, default);
        Assert.NotNull(withdrawn.WithdrawnAt);
        Assert.Equal(size + 1, await LedgerSizeAsync(Host));
        var leaf = (await LeavesAsync(Host, size)).Single();
        Assert.Equal("model.version.withdrawn", leaf.Type);
        Assert.Equal(mistaken.Id, leaf.Data["modelVersion"]!.GetValue<string>());
        Assert.Equal("wrong weights path", leaf.Data["reason"]!.GetValue<string>());
        Assert.Equal("wrong weights path", (await w.Developer.Models.VersionsAsync(w.Version.ModelId, default))[1].WithdrawalReason);

        // The label and the weights are free again: the same registration succeeds as a new version.
        var again = await w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, second, default);
        Assert.NotEqual(mistaken.Id, again.Id);
        Assert.Equal("2.0", again.Version);
        Assert.Equal(again.Id, (await w.Developer.Models.WeightsStatusAsync(second.ManifestDigest, default)).ModelVersionId);
        Assert.Equal(3, (await w.Developer.Models.VersionsAsync(w.Version.ModelId, default)).Count);
        // A live label still cannot be taken twice.
        await Refused(HttpStatusCode.BadRequest, null, () => w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, second with { Version = "2.0" }, default));
    }

    [Fact]
    public async Task WithdrawingAVersionACaseUsedIsRefusedByCasePhaseAndChangesNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var before = await w.Developer.Models.VersionsAsync(w.Version.ModelId, default);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase",
            () => w.Developer.Models.WithdrawVersionAsync(w.Version.Id, new WithdrawVersionRequest { Reason = "changed our mind" }, default));
        Assert.Contains(w.CaseId, e.Message);
        Assert.Equal(Json(before), Json(await w.Developer.Models.VersionsAsync(w.Version.ModelId, default)));
    }

    [Fact]
    public async Task OnlyTheModelsDeveloperWithdrawsAVersionAndAWithdrawnVersionIsNotWithdrawnTwice()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var spare = await w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, await NewWeightsAsync(w, "2.0"), default);
        foreach (var who in new[] { w.OtherDeveloper, w.Evaluator, w.Regulator, w.Certifier })
        {
            await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
                () => who.Models.WithdrawVersionAsync(spare.Id, new WithdrawVersionRequest(), default));
        }
        Assert.Null((await w.Developer.Models.VersionsAsync(w.Version.ModelId, default)).Single(v => v.Id == spare.Id).WithdrawnAt);

        await w.Developer.Models.WithdrawVersionAsync(spare.Id, new WithdrawVersionRequest(), default);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase",
            () => w.Developer.Models.WithdrawVersionAsync(spare.Id, new WithdrawVersionRequest(), default));
    }

    [Fact]
    public async Task AWithdrawnVersionCannotBeUsedByANewCase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var spare = await w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, await NewWeightsAsync(w, "2.0"), default);
        await w.Developer.Models.WithdrawVersionAsync(spare.Id, new WithdrawVersionRequest { Reason = "mistake" }, default);
        var size = await LedgerSizeAsync(Host);
        var e = await Refused(HttpStatusCode.Conflict, "case-phase", () => w.Developer.Cases.OpenAsync(new OpenCaseRequest
        {
            ModelVersionId = spare.Id, RequestedTier = "hosted", RegulatorOrganisationId = w.RegulatorOrg, ReferenceModelId = w.Reference.Id,
            EvaluatorOrganisationIds = [w.EvaluatorOrg],
        }, default));
        Assert.Contains("withdrawn", e.Message);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Empty((await w.Developer.Models.VersionsAsync(w.Version.ModelId, default)).Single(v => v.Id == spare.Id).UsedByCases!);
    }

    [Fact]
    public async Task ModelListShowsTheModelsTheCallerTakesPartInAndNoOthers()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var unused = await w.Developer.Models.RegisterAsync(new RegisterModelRequest { Name = $"llama-{w.Tag}" }, default);

        var own = await w.Developer.Models.ListAsync(default);
        Assert.Contains(own, m => m.Id == w.Version.ModelId && m.Versions == 1);
        Assert.Contains(own, m => m.Id == unused.Id && m.Versions == 0);
        // The case's evaluator sees the model its case is about, not the developer's other model.
        var evaluator = await w.Evaluator.Models.ListAsync(default);
        Assert.Contains(evaluator, m => m.Id == w.Version.ModelId);
        Assert.DoesNotContain(evaluator, m => m.Id == unused.Id);
        // Another developer sees neither, and may not list their versions.
        var other = await w.OtherDeveloper.Models.ListAsync(default);
        Assert.DoesNotContain(other, m => m.Id == w.Version.ModelId || m.Id == unused.Id);
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherDeveloper.Models.VersionsAsync(w.Version.ModelId, default));
        await Refused(HttpStatusCode.NotFound, null, () => w.Developer.Models.VersionsAsync("mdl_000000000000", default));
    }

    [Fact]
    public async Task ModelAndVersionListsArePagedAndABadLimitIsA400NamingIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.Developer.Models.RegisterVersionAsync(w.Version.ModelId, await NewWeightsAsync(w, "2.0"), default);
        var token = w.Tokens[w.Developer];

        var (status, total, body) = await GetRaw($"/api/models/{w.Version.ModelId}/versions?limit=1&offset=1", token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, total);
        Assert.Contains("\"2.0\"", body);
        Assert.DoesNotContain(w.Version.Id, body);

        var models = await GetRaw("/api/models?limit=1", token);
        Assert.Equal(HttpStatusCode.OK, models.Status);
        Assert.Equal((await w.Developer.Models.ListAsync(default)).Count, models.Total);

        var bad = await GetRaw($"/api/models/{w.Version.ModelId}/versions?limit=0", token);
        Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
        Assert.Contains("\"member\":\"limit\"", bad.Body);
        var badOffset = await GetRaw("/api/models?offset=-1", token);
        Assert.Equal(HttpStatusCode.BadRequest, badOffset.Status);
        Assert.Contains("\"member\":\"offset\"", badOffset.Body);
    }
}
