using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Embargo.Contracts;
using Embargo.Evaluation.Running;
using Embargo.Protocol;
using Embargo.SampleModel;
using Embargo.Server.Gateway;
using Embargo.Server.Storage;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// The gateway's control facts over real HTTP: a run is recorded as through the server's gateway only when the gateway's own
/// audit shows every subject prompt (checked, not claimed), with the screens digest in force; and changing the screens of a
/// version flags a certificate issued for another screen configuration, so /v1 stops serving it.
/// </summary>
public sealed class GatewayControlTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int Samples = 12;

    private EmbargoHost Host => fixture.Host;

    private static GatewayScreenRequest Screen(string name) => new() { Name = name, ApplyTo = ["input"], Keywords = ["credential harvesting kit"] };

    /// <summary>A certified world released at hosted, served at /v1 by the SAMPLE model, with a gateway key for its evaluator.</summary>
    private async Task<(ProtocolWorld World, string Key)> ServedWorldAsync(SampleModelServer sample)
    {
        var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "base", Kind = "base", ModelName = "sample-camelid-7b", Endpoint = sample.BaseUrl.ToString(),
        }, default);
        await w.ReleaseAsync("hosted");
        var grant = await w.Developer.Gateway.GrantAsync(w.Version.Id, new GatewayGrantRequest { PrincipalId = w.PrincipalIds[w.Evaluator], RequestsPerMinute = 600 }, default);
        return (w, grant.Key!);
    }

    /// <summary>A second case of the world's version (at api) in testing, where evaluations are submitted.</summary>
    private static async Task<string> CaseInTestingAsync(ProtocolWorld w)
    {
        var c = await w.Developer.Cases.OpenAsync(new OpenCaseRequest
        {
            ModelVersionId = w.Version.Id, RequestedTier = "api", RegulatorOrganisationId = w.RegulatorOrg, ReferenceModelId = w.Reference.Id,
            EvaluatorOrganisationIds = [w.EvaluatorOrg],
        }, default);
        await w.Evaluator.Cases.AddThreatModelAsync(c.Id, new AddThreatModelRequest
        {
            Capability = ProtocolWorld.Phishing, Description = "Convincing phishing at scale", AffectedParties = [w.MailOrg], Steps = ["write lure"],
        }, default);
        await w.Developer.Cases.AdvanceAsync(c.Id, new AdvanceCaseRequest { To = "mapping" }, default);
        await w.Developer.Cases.AdvanceAsync(c.Id, new AdvanceCaseRequest { To = "testing" }, default);
        return c.Id;
    }

    /// <summary>Sends one sample's prompt (as the log records it) to a chat endpoint, as the eval runner does.</summary>
    private async Task<HttpStatusCode> SendAsync(Uri chatUrl, string? key, string model, SampleRecord sample)
    {
        var messages = sample.Messages.TakeWhile(m => m.Role != "assistant").Select(m => new { role = m.Role, content = m.Content }).ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, chatUrl)
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model, messages }), Encoding.UTF8, "application/json"),
        };
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        using var response = await Host.Http.SendAsync(request);
        return response.StatusCode;
    }

    private Uri GatewayChat => new(Host.Url, "/v1/chat/completions");

    /// <summary>The server's gateway as a registered condition of the version (what the run's subject claims): model = the version id.</summary>
    private async Task<string> GatewayConditionAsync(ProtocolWorld w)
    {
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "via-gateway", Kind = "base", ModelName = w.Version.Id, Endpoint = new Uri(Host.Url, "/v1").ToString(),
        }, default);
        return "via-gateway";
    }

    /// <summary>Uploads and submits the run to the case as the world's evaluator; answers the evaluation id.</summary>
    private static async Task<string> SubmitAsync(ProtocolWorld w, string caseId, EvalLog log, string? condition = null)
    {
        var request = ProtocolWorld.FromLog(log, null, condition);
        await w.UploadLogAsync(request, w.Evaluator, caseId);
        return (await w.Evaluator.Cases.SubmitEvaluationAsync(caseId, request, default)).Id;
    }

    private async Task<T> WithDbAsync<T>(Func<EmbargoDb, Task<T>> read)
    {
        using var scope = Host.Services.CreateScope();
        return await read(scope.ServiceProvider.GetRequiredService<EmbargoDb>());
    }

    [Fact]
    public async Task ARunThroughTheServersGatewayWithScreensOnIsRecordedAsThroughTheGatewayWithTheScreensDigest()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var (w, key) = await ServedWorldAsync(sample);
        using var _ = w;
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, Screen("no-kits"), default);
        var caseId = await CaseInTestingAsync(w);
        var log = ProtocolWorld.RunLog(ProtocolWorld.Phishing, 0.5, 0.5, subjectModel: w.Version.Id, samples: Samples);
        foreach (var s in log.Samples.Where(s => s.Condition == "subject"))
        {
            Assert.Equal(HttpStatusCode.OK, await SendAsync(GatewayChat, key, w.Version.Id, s));
        }
        var size = await LedgerSizeAsync(Host);

        var evaluation = await SubmitAsync(w, caseId, log, await GatewayConditionAsync(w));

        var facts = await WithDbAsync(db => GatewayControl.LoadAsync(db, w.Version.Id, default));
        Assert.StartsWith("sha256:", facts.ScreensDigest, StringComparison.Ordinal);
        Assert.Equal(facts.ScreensDigest, facts.RunsThroughGateway[evaluation]);
        var recorded = (await LeavesAsync(Host, size)).Single(l => l.Type == "evaluation.recorded");
        Assert.Equal(facts.ScreensDigest, recorded.Data["throughGateway"]!["screensDigest"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheSameRunAgainstTheBareSampleModelIsNotThroughTheGateway()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var (w, _) = await ServedWorldAsync(sample);
        using var __ = w;
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, Screen("no-kits"), default);
        var caseId = await CaseInTestingAsync(w);
        var log = ProtocolWorld.RunLog(ProtocolWorld.Phishing, 0.5, 0.5, subjectModel: "sample-camelid-7b", samples: Samples) with
        {
            Subject = new LogCondition { Kind = "model", Model = "sample-camelid-7b", Url = sample.BaseUrl.ToString() },
        };
        foreach (var s in log.Samples.Where(s => s.Condition == "subject"))
        {
            Assert.Equal(HttpStatusCode.OK, await SendAsync(new Uri(sample.BaseUrl.ToString().TrimEnd('/') + "/chat/completions"), null, "sample-camelid-7b", s));
        }

        var evaluation = await SubmitAsync(w, caseId, log);

        var facts = await WithDbAsync(db => GatewayControl.LoadAsync(db, w.Version.Id, default));
        Assert.NotNull(facts.ScreensDigest);
        Assert.False(facts.RunsThroughGateway.ContainsKey(evaluation));
    }

    [Fact]
    public async Task ARunWhoseLogClaimsTheGatewayButOneOfWhosePromptsIsNotInItsAuditIsNotThroughTheGateway()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var (w, key) = await ServedWorldAsync(sample);
        using var _ = w;
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, Screen("no-kits"), default);
        var caseId = await CaseInTestingAsync(w);
        var log = ProtocolWorld.RunLog(ProtocolWorld.Phishing, 0.5, 0.5, subjectModel: w.Version.Id, samples: Samples);
        // Every subject prompt but the last goes through the gateway; the last went elsewhere.
        foreach (var s in log.Samples.Where(s => s.Condition == "subject").SkipLast(1))
        {
            Assert.Equal(HttpStatusCode.OK, await SendAsync(GatewayChat, key, w.Version.Id, s));
        }
        var size = await LedgerSizeAsync(Host);

        var evaluation = await SubmitAsync(w, caseId, log, await GatewayConditionAsync(w));

        var facts = await WithDbAsync(db => GatewayControl.LoadAsync(db, w.Version.Id, default));
        Assert.False(facts.RunsThroughGateway.ContainsKey(evaluation));
        Assert.Null((await LeavesAsync(Host, size)).Single(l => l.Type == "evaluation.recorded").Data["throughGateway"]);
    }

    [Fact]
    public async Task ChangingTheScreensFlagsACertificateIssuedForTheOldConfigurationAndTheGatewayStopsServing()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var (w, key) = await ServedWorldAsync(sample);
        using var _ = w;
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, Screen("no-kits"), default);
        var probe = ProtocolWorld.RunLog(ProtocolWorld.Phishing, 0.5, null, samples: 1).Samples[0];
        // What certification records: the digest of the screens the gateway enforces at issue.
        var issuedFor = await WithDbAsync(async db =>
        {
            var digest = await GatewayControl.ScreensDigestAsync(db, w.Version.Id, default);
            var certificate = await db.Certificates.FirstAsync(c => c.Id == w.Certificate!.Id);
            certificate.ControlScreensDigest = digest;
            await db.SaveChangesAsync();
            return digest;
        });
        Assert.Equal(HttpStatusCode.OK, await SendAsync(GatewayChat, key, w.Version.Id, probe));
        var size = await LedgerSizeAsync(Host);

        await w.Regulator.Gateway.AttachScreenAsync(w.Version.Id, Screen("no-lures"), default);

        var certificate = await w.Admin.Certificates.GetAsync(w.Certificate!.Id, default);
        Assert.Equal("flagged", certificate.Status);
        Assert.Contains("screen no-lures attached", certificate.FlagReason, StringComparison.Ordinal);
        var leaves = await LeavesAsync(Host, size);
        Assert.Equal(["gateway.screen-attached", "certificate.flagged-for-reevaluation"], leaves.Select(l => l.Type));
        var now = await WithDbAsync(db => GatewayControl.ScreensDigestAsync(db, w.Version.Id, default));
        Assert.NotEqual(issuedFor, now);
        Assert.Equal(now, leaves[1].Data["screensDigest"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.Forbidden, await SendAsync(GatewayChat, key, w.Version.Id, probe));
    }

    [Fact]
    public async Task ChangingTheScreensOfAVersionWhoseCertificateNamesNoScreensDigestFlagsNothing()
    {
        await using var sample = await SampleModelServer.StartAsync();
        var (w, key) = await ServedWorldAsync(sample);
        using var _ = w;
        var probe = ProtocolWorld.RunLog(ProtocolWorld.Phishing, 0.5, null, samples: 1).Samples[0];
        var size = await LedgerSizeAsync(Host);

        await w.Regulator.Gateway.AttachScreenAsync(w.Version.Id, Screen("no-lures"), default);

        Assert.Equal("issued", (await w.Admin.Certificates.GetAsync(w.Certificate!.Id, default)).Status);
        Assert.Equal(["gateway.screen-attached"], (await LeavesAsync(Host, size)).Select(l => l.Type));
        Assert.Equal(HttpStatusCode.OK, await SendAsync(GatewayChat, key, w.Version.Id, probe));
    }

    [Fact]
    public async Task TheScreensDigestIsNullWithoutScreensAndDoesNotDependOnTheOrderScreensWereAttached()
    {
        using var a = await ProtocolWorld.CreateAsync(Host);
        using var b = await ProtocolWorld.CreateAsync(Host);
        Assert.Null(await WithDbAsync(db => GatewayControl.ScreensDigestAsync(db, a.Version.Id, default)));

        await a.Developer.Gateway.AttachScreenAsync(a.Version.Id, Screen("first"), default);
        await a.Developer.Gateway.AttachScreenAsync(a.Version.Id, Screen("second") with { ApplyTo = ["output"] }, default);
        await b.Developer.Gateway.AttachScreenAsync(b.Version.Id, Screen("second") with { ApplyTo = ["output"] }, default);
        await b.Developer.Gateway.AttachScreenAsync(b.Version.Id, Screen("first"), default);

        var digestA = await WithDbAsync(db => GatewayControl.ScreensDigestAsync(db, a.Version.Id, default));
        Assert.Equal(digestA, await WithDbAsync(db => GatewayControl.ScreensDigestAsync(db, b.Version.Id, default)));
        await a.Developer.Gateway.AttachScreenAsync(a.Version.Id, Screen("third"), default);
        Assert.NotEqual(digestA, await WithDbAsync(db => GatewayControl.ScreensDigestAsync(db, a.Version.Id, default)));
    }
}
