using System.Data.Common;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Evaluation.Running;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Rule "evidence": the server records an evaluation only with its run's log, recomputes every figure from the log's
/// per-sample records, binds the log to one evaluation, and counts a run without a baseline as evaluating nothing.
/// </summary>
public sealed class EvidenceIsARunTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task ForgedFiguresAreRefusedNamingTheMemberAndOnlyTheRecomputedRunIsRecorded()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var honest = ProtocolWorld.NotSignificant(ProtocolWorld.Bio);
        var novel = ProtocolWorld.Significant(ProtocolWorld.Phishing);
        (string Member, SubmitEvaluationRequest Forged)[] forgeries =
        [
            ("subject.accuracy", honest with { Subject = honest.Subject with { Accuracy = 0.95 }, Baseline = honest.Baseline! with { Accuracy = 0.05 } }),
            ("uplift.estimate", honest with { Uplift = honest.Uplift! with { Estimate = -0.9 } }),
            ("uplift.p", honest with { Uplift = honest.Uplift! with { P = 0.99 } }),
            ("uplift.ci95Low", honest with { Uplift = honest.Uplift! with { Ci95Low = 0.3, Ci95High = -0.3 } }),
            ("subject.correct", honest with { Subject = honest.Subject with { Correct = 1, Total = 1000 } }),
            ("records", honest with { Records = 7 }),
            ("verdict", novel with { Verdict = "not-novel" }),
            ("upliftUpper", novel with { UpliftUpper = 0.01 }),
        ];
        foreach (var (member, forged) in forgeries)
        {
            var refused = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(forged));
            Assert.StartsWith(member + ": ", refused.Detail, StringComparison.Ordinal);
        }

        // The ProblemDetails names the member for scripts too.
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, $"/api/cases/{w.CaseId}/evaluations"))
        {
            Content = System.Net.Http.Json.JsonContent.Create(forgeries[1].Forged, options: EmbargoClient.Json),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", w.Tokens[w.Evaluator]);
        using var response = await Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("uplift.estimate", JsonNode.Parse(await response.Content.ReadAsStringAsync())!["member"]!.GetValue<string>());
        Assert.Empty((await w.CaseAsync()).Evaluations);

        var recorded = await w.SubmitAsync(honest);
        Assert.Equal(0, recorded.Uplift!.Estimate);
        Assert.Equal(40, recorded.Subject.Correct);
        Assert.Equal(200, recorded.Subject.Total);
        Assert.Equal("mcnemar-exact", recorded.Uplift.Test);
        Assert.Equal(honest.LogSha256, recorded.LogSha256);
        Assert.False(recorded.Significant);
    }

    [Fact]
    public async Task ALogThatIsNotAWholeRunIsRefusedAtUploadNamingTheLog()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var whole = ProtocolWorld.RunLog(ProtocolWorld.Bio, 0.2, 0.2);
        var dropped = whole with { Samples = whole.Samples.Where(r => !(r.Condition == "baseline" && r.SampleId == "s0007")).ToList() };
        var overScored = whole with { Samples = whole.Samples.Select((r, i) => i == 3 ? r with { Score = 2 } : r).ToList() };
        byte[][] bodies = [ProtocolWorld.LogBytes(dropped), ProtocolWorld.LogBytes(overScored), "not a log"u8.ToArray()];
        string[] problems = ["log: samples: the run planned 400 records", "log: samples[3].score", "log: the log is not an eval log"];
        for (var i = 0; i < bodies.Length; i++)
        {
            var body = bodies[i];
            var refused = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
                () => w.Evaluator.Cases.UploadEvaluationLogAsync(w.CaseId, body, default));
            Assert.StartsWith(problems[i], refused.Detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ARunWhoseErrorsExceedItsToleranceIsRefusedThoughItsLogSaysComplete()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        // 104 of the baseline's 200 calls failed; the log says "complete", its tolerance is 0.
        var dying = ProtocolWorld.FromLog(ProtocolWorld.RunLog(ProtocolWorld.Phishing, 0.8, 0.2, baselineErrors: 104), null) with { Status = "complete" };
        var refused = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(dying));
        Assert.StartsWith("status: the log's run ended 'error' (104 of 400 sample calls failed", refused.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASubjectOnlyRunIsRecordedButEvaluatesNothingAndNoFindingMayCiteIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var subjectOnly = await w.SubmitAsync(ProtocolWorld.SubjectOnly(ProtocolWorld.Phishing));
        Assert.Null(subjectOnly.Baseline);
        Assert.Null(subjectOnly.Uplift);
        await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));

        var notEvaluated = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("reflection"));
        Assert.Contains("missing: " + ProtocolWorld.Phishing, notEvaluated.Detail, StringComparison.Ordinal);

        await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing));
        await w.AdvanceAsync("reflection");
        var uncitable = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "evidence", () => w.Evaluator.Cases.RecordFindingAsync(w.CaseId,
            new RecordFindingRequest { ThreatModelId = w.PhishingThreat!.Id, EvaluationId = subjectOnly.Id, Title = "phishing, subject only" }, default));
        Assert.Contains(subjectOnly.Id, uncitable.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ALogIsEvidenceForOneEvaluationOfOneCaseAndOneCapabilityOnly()
    {
        using var a = await ProtocolWorld.CreateAsync(Host);
        using var b = await ProtocolWorld.CreateAsync(Host);
        await a.DriveToAsync(Milestone.Testing);
        await b.DriveToAsync(Milestone.Testing);
        var run = ProtocolWorld.NotSignificant(ProtocolWorld.Bio);
        var recorded = await a.SubmitAsync(run);

        var again = await RefusedWithoutChange(a, HttpStatusCode.Conflict, "evidence", () => a.SubmitAsync(run));
        Assert.Contains($"already the evidence of evaluation {recorded.Id}", again.Detail, StringComparison.Ordinal);
        await RefusedWithoutChange(a, HttpStatusCode.Conflict, "evidence", () => a.SubmitAsync(run with { Capability = ProtocolWorld.Phishing, Task = ProtocolWorld.Phishing }));

        var relabelled = ProtocolWorld.NotSignificant(ProtocolWorld.Bio) with { Capability = ProtocolWorld.Phishing, Task = ProtocolWorld.Phishing };
        var relabel = await RefusedWithoutChange(a, HttpStatusCode.Conflict, "evidence", () => a.SubmitAsync(relabelled));
        Assert.StartsWith($"capability: the log ran task '{ProtocolWorld.Bio}' measuring '{ProtocolWorld.Bio}'", relabel.Detail, StringComparison.Ordinal);

        // Another developer's version: the upload is refused, and citing the log without uploading it is refused too.
        var elsewhere = await RefusedWithoutChange(b, HttpStatusCode.Conflict, "evidence", () => b.SubmitAsync(run));
        Assert.Contains($"already the evidence of case {a.CaseId}", elsewhere.Detail, StringComparison.Ordinal);
        var cited = await RefusedWithoutChange(b, HttpStatusCode.Conflict, "evidence",
            () => b.Evaluator.Cases.SubmitEvaluationAsync(b.CaseId, run, default));
        Assert.Contains($"was uploaded for case {a.CaseId}", cited.Detail, StringComparison.Ordinal);
        Assert.Single((await a.CaseAsync()).Evaluations);
        Assert.Empty((await b.CaseAsync()).Evaluations);
    }

    [Fact]
    public async Task ALogWhoseSubjectIsNotTheClaimedConditionsModelIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        foreach (var (name, kind, model) in new[] { ("ft-cyber", "fine-tuned", "camelid-7b-ft-cyber"), ("base", "base", "camelid-7b-base") })
        {
            await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
            {
                Name = name, Kind = kind, ModelName = model, Endpoint = "http://127.0.0.1:8000/v1",
            }, default);
        }
        await w.DriveToAsync(Milestone.Testing);

        var unrelated = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "evidence",
            () => w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing, subjectModel: "gpt-unrelated") with { SubjectCondition = "ft-cyber" }));
        Assert.StartsWith("subject.model: the log's subject is model 'gpt-unrelated', but registered condition 'ft-cyber' serves 'camelid-7b-ft-cyber'", unrelated.Detail, StringComparison.Ordinal);
        var notTheBase = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "evidence", () => w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio)));
        Assert.Contains("base condition", notTheBase.Detail, StringComparison.Ordinal);

        var fineTuned = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing, subjectModel: "camelid-7b-ft-cyber") with { SubjectCondition = "ft-cyber" });
        var @base = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio, subjectModel: "camelid-7b-base"));
        Assert.Equal("camelid-7b-ft-cyber", fineTuned.Subject.Model);
        Assert.Equal("camelid-7b-base", @base.Subject.Model);
    }

    [Fact]
    public async Task TheRegulatorAndTheReviewingCertifierReadTheLogAndNobodyElse()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var evaluation = (await w.CaseAsync()).Evaluations.Single(e => e.Id == w.PhishingEvaluation!.Id);
        var id = evaluation.Id;
        var expected = ProtocolWorld.Logs[evaluation.LogSha256!];

        Assert.Equal(expected, await w.Regulator.Evaluations.LogAsync(id, default));
        Assert.Equal(expected, await w.Certifier.Evaluations.LogAsync(id, default));
        foreach (var outsider in new[] { w.OtherRegulator, w.Evaluator, w.Developer, w.OtherDeveloper, w.MailParty, w.InHouseCertifier })
        {
            await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => outsider.Evaluations.LogAsync(id, default));
        }
        await Refused(HttpStatusCode.Unauthorized, null, () => Host.Anonymous.Evaluations.LogAsync(id, default));
        Assert.DoesNotContain("SAMPLE question", await LeavesTextAsync(Host), StringComparison.Ordinal);
    }
}

/// <summary>`embargo certify --logs DIR`: the certifier recomputes every evaluation from its log before approving anything.</summary>
[Collection(CliCollection.Name)]
public sealed class CertifyWithLogsTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-certify-logs-");
    private EmbargoHost Host => fixture.Host;

    public void Dispose() => _dir.Delete(recursive: true);

    private string P(string name) => Path.Combine(_dir.FullName, name);

    private async Task<CliRun> Certify(ProtocolWorld w, string logs)
    {
        await File.WriteAllTextAsync(P("assure.key.pem"), w.CertifierKey.PrivatePem);
        return await AsCertifier(w, "certify", w.CaseId, "--tier", "hosted", "--key", P("assure.key.pem"), "--logs", logs);
    }

    private async Task<CliRun> AsCertifier(ProtocolWorld w, params string[] args)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[w.Certifier]);
        try
        {
            return await CliRunner.RunAsync([.. args, "--server", Host.Url.ToString(), "--token-env", variable]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    private async Task SetBaselineAccuracy(string evaluationId, double value)
    {
        await using var store = Host.OpenStoreConnection();
        await using var command = store.CreateCommand();
        command.CommandText = """UPDATE evaluations SET "BaselineAccuracy" = @v WHERE "Id" = @id""";
        foreach (var (name, v) in new (string, object)[] { ("@v", value), ("@id", evaluationId) })
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = v;
            command.Parameters.Add(p);
        }
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task CertifyWithLogsRefusesAMissingLogAndAChangedFigureAndSignsWhenEveryFigureRecomputes()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var logs = Directory.CreateDirectory(P("logs")).FullName;
        var evaluations = (await w.CaseAsync()).Evaluations;
        Assert.Equal(7, evaluations.Count); // phishing, bio, the verification re-run and rule 10's four coverage runs (tool-augmented and assisted, each capability)
        foreach (var e in evaluations)
        {
            // The certifier fetches each log itself (`embargo case eval-log`): the very bytes the evaluation cites.
            var fetched = await AsCertifier(w, "case", "eval-log", e.Id, "--out", Path.Combine(logs, e.Id + ".json"));
            Assert.True(fetched.Code == CliApp.Ok, fetched.Error);
            Assert.Equal(ProtocolWorld.Logs[e.LogSha256!], await File.ReadAllBytesAsync(Path.Combine(logs, e.Id + ".json")));
        }
        var size = await LedgerSizeAsync(Host);
        var bio = w.BioEvaluation!.Id;

        File.Move(Path.Combine(logs, bio + ".json"), P("aside.json"));
        var missing = await Certify(w, logs);
        Assert.Equal(CliApp.Failed, missing.Code);
        Assert.Contains($"has no log for evaluation {bio}", missing.Error, StringComparison.Ordinal);
        File.Move(P("aside.json"), Path.Combine(logs, bio + ".json"));

        await SetBaselineAccuracy(bio, 0.05);
        var changed = await Certify(w, logs);
        Assert.Equal(CliApp.Failed, changed.Code);
        Assert.Contains($"evaluation {bio}: baseline.accuracy is recorded as 0.05 but its log {bio}.json gives 0.2", changed.Error, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));

        await SetBaselineAccuracy(bio, 0.2);
        var signed = await Certify(w, logs);
        Assert.True(signed.Code == CliApp.Ok, signed.Error);
        Assert.Contains("recomputed 7 evaluations from their logs", signed.Out, StringComparison.Ordinal);
    }
}
