using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Text.Json;
using Embargo.Contracts;
using Embargo.Evaluation;
using Embargo.Evaluation.Running;
using Embargo.SampleModel;
using Embargo.Server.Gateway;
using Embargo.Server.Infrastructure;
using Embargo.Server.Storage;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Evaluation access over real HTTP: before a version is released at hosted/api, the server's gateway serves it — with its
/// screens, audited as evaluation access — to the evaluators of an open case of the version and to nobody else, so the control
/// argument's evidence (a run through the gateway with the screens on) can exist in the version's FIRST case. From the case's
/// certificate on, the certificate's rules apply.
/// </summary>
public sealed class GatewayEvaluationAccessTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private const string SampleSubject = "sample-camelid-7b";
    private const string SampleBaseline = "sample-open-baseline";
    private readonly DirectoryInfo _logs = Directory.CreateTempSubdirectory("embargo-evalaccess-");

    private EmbargoHost Host => fixture.Host;

    public void Dispose() => _logs.Delete(recursive: true);

    /// <summary>An output screen that withholds the phishing quiz's answers ("ANSWER: B") of the sample model.</summary>
    private static GatewayScreenRequest WithholdAnswers => new() { Name = "withhold-answers", ApplyTo = ["output"], Keywords = [], Regex = [@"ANSWER:\s*[A-D]"] };

    private static readonly ChatMessage[] Hello = [new UserChatMessage("(SAMPLE) hello")];

    /// <summary>A world whose FIRST case is open (in testing unless <paramref name="milestone"/> says otherwise), its version unreleased, served upstream by the SAMPLE model.</summary>
    private static async Task<ProtocolWorld> TestingWorldAsync(EmbargoHost host, SampleModelServer sample, Milestone milestone = Milestone.Testing)
    {
        var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(milestone);
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "base", Kind = "base", ModelName = SampleSubject, Endpoint = sample.BaseUrl.ToString(),
        }, default);
        return w;
    }

    private static Task<GatewayGrantDto> GrantAsync(ProtocolWorld w, EmbargoClient grantee) =>
        w.Developer.Gateway.GrantAsync(w.Version.Id, new GatewayGrantRequest { PrincipalId = w.PrincipalIds[grantee], RequestsPerMinute = 600 }, default);

    private ChatClient Chat(string key, string model) =>
        new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(Host.Url, "/v1"), RetryPolicy = new ClientRetryPolicy(0) })
            .GetChatClient(model);

    private static (int Status, string? Code, string Message) ErrorOf(ClientResultException e)
    {
        using var doc = JsonDocument.Parse(e.GetRawResponse()!.Content.ToString());
        var error = doc.RootElement.GetProperty("error");
        return (e.GetRawResponse()!.Status, error.GetProperty("code").GetString(), error.GetProperty("message").GetString()!);
    }

    /// <summary>The demo's phishing task against <paramref name="subject"/>, with the bare sample baseline; answers the run's log.</summary>
    private async Task<EvalLog> RunPhishingAsync(ModelEndpoint subject, SampleModelServer sample)
    {
        var summary = await EvalRunner.RunAsync(new EvalRunRequest
        {
            TaskPath = Path.Combine(DemoFixture.RepositoryRoot(), "samples", "tasks", "cyber-phishing.yaml"),
            Subject = subject,
            Baseline = new ModelEndpoint { Url = sample.BaseUrl, Name = SampleBaseline },
            LogDir = _logs.FullName,
            Options = new EvalRunnerOptions { InitialBackoff = TimeSpan.FromMilliseconds(1), MaxBackoff = TimeSpan.FromMilliseconds(5), RequestTimeout = TimeSpan.FromSeconds(30) },
        }, null, CancellationToken.None);
        return JsonSerializer.Deserialize<EvalLog>(await File.ReadAllBytesAsync(summary.LogPath!), EvalLog.Json)!;
    }

    private async Task<List<JsonElement>> AuditLinesAsync(string grantee)
    {
        var gateway = Host.Services.GetRequiredService<ServerGateway>();
        await gateway.Audit.FlushAsync();
        using var stream = new FileStream(gateway.AuditFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return (await reader.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .Where(l => l.GetProperty("grantee").GetString() == grantee).ToList();
    }

    [Fact]
    public async Task InTheFirstCaseAnEvaluatorRunsThroughTheGatewayWithScreensOnAndTheRunIsNotNovelAndThroughTheGatewayWhileTheBareModelIsNovel()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await TestingWorldAsync(Host, sample);
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, WithholdAnswers, default);
        var size = await LedgerSizeAsync(Host);

        var grant = await GrantAsync(w, w.Evaluator);

        var granted = (await LeavesAsync(Host, size)).Single(l => l.Type == "gateway.granted");
        Assert.Equal("evaluation", granted.Data["access"]!.GetValue<string>());
        Assert.Null(granted.Data["certificate"]);
        Assert.Equal("api", grant.Tier);
        // Through the server's gateway, with the version's screens on: every answer is withheld.
        var through = await RunPhishingAsync(new ModelEndpoint { Url = new Uri(Host.Url, "/v1"), Name = w.Version.Id, ApiKey = grant.Key }, sample);
        Assert.Equal(40, through.Samples.Count(s => s.Condition == "subject"));
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "via-gateway", Kind = "base", ModelName = w.Version.Id, Endpoint = new Uri(Host.Url, "/v1").ToString(),
        }, default);
        var viaGateway = ProtocolWorld.FromLog(through, null, "via-gateway");
        await w.UploadLogAsync(viaGateway, w.Evaluator);
        var controlled = await w.Evaluator.Cases.SubmitEvaluationAsync(w.CaseId, viaGateway, default);
        // The same task against the bare sample model.
        var bare = ProtocolWorld.FromLog(await RunPhishingAsync(new ModelEndpoint { Url = sample.BaseUrl, Name = SampleSubject }, sample), null);
        await w.UploadLogAsync(bare, w.Evaluator);
        var uncontrolled = await w.Evaluator.Cases.SubmitEvaluationAsync(w.CaseId, bare, default);

        Assert.Equal("not-novel", controlled.Verdict);
        Assert.Equal("novel", uncontrolled.Verdict);
        var facts = await WithDbAsync(db => GatewayControl.LoadAsync(db, w.Version.Id, default));
        Assert.StartsWith("sha256:", facts.ScreensDigest, StringComparison.Ordinal);
        Assert.Equal(facts.ScreensDigest, facts.RunsThroughGateway[controlled.Id]);
        Assert.False(facts.RunsThroughGateway.ContainsKey(uncontrolled.Id));
        var lines = await AuditLinesAsync(w.PrincipalIds[w.Evaluator]);
        Assert.Equal(40, lines.Count);
        Assert.All(lines, l => Assert.Equal(("evaluation", "content_filter", w.Version.Id),
            (l.GetProperty("access").GetString(), l.GetProperty("decision").GetString(), l.GetProperty("model").GetString())));

        // The safety case at hosted argues phishing by control: inability fails (the bare model is novel), and the claim rests on
        // the not-novel run through the gateway plus the screen configuration it enforces.
        var claim = await PhishingClaimAsync(w);
        Assert.Equal(("control", "supported"), (claim["argument"]!.GetValue<string>(), claim["status"]!.GetValue<string>()));
        var leaves = claim["evidence"]!.AsArray().Select(l => (l!["kind"]!.GetValue<string>(), l["ref"]!.GetValue<string>())).ToList();
        Assert.Contains(("evaluation", controlled.Id), leaves);
        Assert.Contains(("screens", facts.ScreensDigest!), leaves);
        Assert.DoesNotContain(leaves, l => l.Item2 == uncontrolled.Id);
        // Other screens than the run went through: the run no longer carries control, and the claim is open saying what closes it.
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, new GatewayScreenRequest { Name = "no-kits", ApplyTo = ["input"], Keywords = ["credential harvesting kit"] }, default);
        var reopened = await PhishingClaimAsync(w);
        Assert.Equal("open", reopened["status"]!.GetValue<string>());
        Assert.Contains(reopened["missing"]!.AsArray(), m => m!.GetValue<string>().Contains("through the server's gateway", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ACertificateIssuedOnAControlClaimPinsTheScreensAndChangingThemAfterReleaseFlagsItAndStopsServing()
    {
        await using var sample = await SampleModelServer.StartAsync();
        // The world's synthetic evidence first (phishing novel on the base condition, bio not novel, every condition covered).
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Evaluated);
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "base", Kind = "base", ModelName = SampleSubject, Endpoint = sample.BaseUrl.ToString(),
        }, default);
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, WithholdAnswers, default);
        var grant = await GrantAsync(w, w.Evaluator);
        var through = await RunPhishingAsync(new ModelEndpoint { Url = new Uri(Host.Url, "/v1"), Name = w.Version.Id, ApiKey = grant.Key }, sample);
        await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
        {
            Name = "via-gateway", Kind = "base", ModelName = w.Version.Id, Endpoint = new Uri(Host.Url, "/v1").ToString(),
        }, default);
        var viaGateway = ProtocolWorld.FromLog(through, null, "via-gateway");
        await w.UploadLogAsync(viaGateway, w.Evaluator);
        var controlled = await w.Evaluator.Cases.SubmitEvaluationAsync(w.CaseId, viaGateway, default);
        Assert.Equal("not-novel", controlled.Verdict);
        // The rest of the protocol as the world drives it; the mitigation's re-run names the base condition's model now.
        await w.DriveToAsync(Milestone.MitigationReported);
        var rerun = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id, subjectModel: SampleSubject));
        await w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default);
        await w.AdvanceAsync("certification");
        var screens = await WithDbAsync(db => GatewayControl.ScreensDigestAsync(db, w.Version.Id, default));

        var certificate = await Embargo.Cli.Commands.ProtocolCommands.CertifyAsync(w.Certifier, w.CaseId, "hosted", w.CertifierKey, default);

        // Control comes before mitigation in the argument order: the certificate rests on the run through the gateway.
        var issued = System.Text.Json.Nodes.JsonNode.Parse(await w.Admin.Certificates.SafetyCaseAsync(certificate.Id))!;
        var phishing = issued["claims"]!.AsArray().Single(c => c!["capability"]!.GetValue<string>() == ProtocolWorld.Phishing)!;
        Assert.Equal(("control", "supported"), (phishing["argument"]!.GetValue<string>(), phishing["status"]!.GetValue<string>()));
        Assert.Equal(screens, await WithDbAsync(async db => (await db.Certificates.FindAsync(certificate.Id))!.ControlScreensDigest));
        await w.ReleaseAsync("hosted");
        ChatCompletion served = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);
        Assert.Equal(ChatFinishReason.Stop, served.FinishReason);

        // The gateway must keep enforcing what the certificate was issued for: another screen flags it, and /v1 stops.
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, new GatewayScreenRequest { Name = "no-kits", ApplyTo = ["input"], Keywords = ["credential harvesting kit"] }, default);

        Assert.Equal("flagged", (await w.Admin.Certificates.GetAsync(certificate.Id, default)).Status);
        var stopped = await Assert.ThrowsAsync<ClientResultException>(() => Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello));
        var (status, code, message) = ErrorOf(stopped);
        Assert.Equal((403, "tier_not_certified"), (status, code));
        Assert.Contains($"{certificate.Id} is flagged", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutARunThroughTheGatewayTheNovelBareRunLeavesThePhishingClaimOpen()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await TestingWorldAsync(Host, sample);
        await w.Developer.Gateway.AttachScreenAsync(w.Version.Id, WithholdAnswers, default);
        var bare = ProtocolWorld.FromLog(await RunPhishingAsync(new ModelEndpoint { Url = sample.BaseUrl, Name = SampleSubject }, sample), null);
        await w.UploadLogAsync(bare, w.Evaluator);
        Assert.Equal("novel", (await w.Evaluator.Cases.SubmitEvaluationAsync(w.CaseId, bare, default)).Verdict);

        var claim = await PhishingClaimAsync(w);

        Assert.Equal("open", claim["status"]!.GetValue<string>());
        Assert.NotEqual("control", claim["argument"]!.GetValue<string>());
        Assert.Contains(claim["missing"]!.AsArray(), m => m!.GetValue<string>().StartsWith("or argue control: a not-novel run of cyber-phishing through the server's gateway", StringComparison.Ordinal));
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> PhishingClaimAsync(ProtocolWorld w)
    {
        var safetyCase = System.Text.Json.Nodes.JsonNode.Parse(await w.Regulator.Cases.SafetyCaseAsync(w.CaseId, "hosted"))!;
        return safetyCase["claims"]!.AsArray().Single(c => c!["capability"]!.GetValue<string>() == ProtocolWorld.Phishing)!;
    }

    [Fact]
    public async Task AGrantToAStrangerOnAnUnreleasedVersionIsRefusedByRuleOneAndAStrangersKeyIsNotServed()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await TestingWorldAsync(Host, sample);

        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => GrantAsync(w, w.MailParty));

        Assert.Contains("only to evaluators of an open case of the version (evaluation access)", e.Detail, StringComparison.Ordinal);
        // Fail closed at serving too: a stranger's key on the version (written to the store directly, as no endpoint issues one)
        // is granted nothing while the version is under evaluation access.
        var strangerKey = GatewayKeys.New();
        await WithDbAsync(async db =>
        {
            db.GatewayGrants.Add(new GatewayGrantEntity
            {
                Id = Ids.New("ggr"), ModelVersionId = w.Version.Id, PrincipalId = w.PrincipalIds[w.MailParty], KeySha256 = GatewayKeys.Hash(strangerKey),
                RequestsPerMinute = 600, CreatedAt = DateTimeOffset.UnixEpoch,
            });
            return await db.SaveChangesAsync();
        });
        var evaluator = await GrantAsync(w, w.Evaluator); // a leaf: the gateway rebuilds its configuration
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => Chat(strangerKey, w.Version.Id).CompleteChatAsync(Hello));
        Assert.Equal((403, "model_not_granted", $"The model '{w.Version.Id}' is not granted to this key."), ErrorOf(refused));
        Assert.Equal(0, sample.RequestCount);
        ChatCompletion served = await Chat(evaluator.Key!, w.Version.Id).CompleteChatAsync(Hello);
        Assert.Equal(ChatFinishReason.Stop, served.FinishReason);
        Assert.Equal(1, sample.RequestCount);
    }

    [Fact]
    public async Task OnceTheCaseIsCertifiedEvaluationAccessEndsAndAfterReleaseAtHostedTheKeyIsServedUnderTheCertificate()
    {
        await using var sample = await SampleModelServer.StartAsync();
        // The world's own (synthetic) runs are in before the sample model becomes the version's base condition.
        using var w = await TestingWorldAsync(Host, sample, Milestone.MitigationVerified);
        var grant = await GrantAsync(w, w.Evaluator);
        ChatCompletion before = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);
        Assert.Equal(ChatFinishReason.Stop, before.FinishReason);

        await w.DriveToAsync(Milestone.Certified);

        var ended = await Assert.ThrowsAsync<ClientResultException>(() => Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello));
        var (status, code, message) = ErrorOf(ended);
        Assert.Equal((403, "tier_not_certified"), (status, code));
        Assert.Contains("evaluation access has ended (rule-1)", message, StringComparison.Ordinal);
        Assert.Equal(1, sample.RequestCount);

        await w.ReleaseAsync("hosted");

        // The certificate's rules now: the same key is served at the released tier, and its audit lines are no longer evaluation access.
        ChatCompletion after = await Chat(grant.Key!, w.Version.Id).CompleteChatAsync(Hello);
        Assert.Equal(ChatFinishReason.Stop, after.FinishReason);
        var last = (await AuditLinesAsync(w.PrincipalIds[w.Evaluator]))[^1];
        Assert.Equal("allowed", last.GetProperty("decision").GetString());
        Assert.False(last.TryGetProperty("access", out _));
    }

    private async Task<T> WithDbAsync<T>(Func<EmbargoDb, Task<T>> read)
    {
        using var scope = Host.Services.CreateScope();
        return await read(scope.ServiceProvider.GetRequiredService<EmbargoDb>());
    }
}
