using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Issue 8 on the server: three verdicts against each threat model's margin (only not-novel clears; inconclusive blocks,
/// saying how many more samples would decide it) and rule 10, elicitation coverage per tier.
/// </summary>
public sealed class VerdictAndCoverageTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    /// <summary>A small run that shows nothing either way: 5 of 20 against 4 of 20, no significant uplift, and an upper bound above the default margin.</summary>
    private static SubmitEvaluationRequest Unclear(string capability, string? mitigationId = null) =>
        ProtocolWorld.Evaluation(capability, 0.25, 0.2, mitigationId, samples: 20);

    private static Task<FindingDto> FindingAsync(ProtocolWorld w, string threatModelId, string evaluationId) =>
        w.Evaluator.Cases.RecordFindingAsync(w.CaseId, new RecordFindingRequest { ThreatModelId = threatModelId, EvaluationId = evaluationId, Title = "No bio uplift" }, default);

    [Fact]
    public async Task AnEvaluationShowsItsVerdictAndTheMarginItWasJudgedAgainst()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var novel = await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing));
        var clear = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio));
        var unclear = await w.SubmitAsync(Unclear(ProtocolWorld.Bio));
        Assert.Equal(("novel", 0.05), (novel.Verdict, novel.Margin));
        Assert.Equal(("not-novel", 0.05), (clear.Verdict, clear.Margin));
        Assert.Equal(("inconclusive", 0.05), (unclear.Verdict, unclear.Margin));
        Assert.True(novel.Significant);
        Assert.False(unclear.Significant);
        Assert.InRange(unclear.UpliftUpper!.Value, 0.05, 0.5);
        Assert.True(unclear.MoreSamples > 0);
        Assert.Contains($"about {unclear.MoreSamples} more samples", unclear.VerdictReason);
        Assert.Equal("inconclusive", (await w.CaseAsync()).Evaluations.Single(e => e.Id == unclear.Id).Verdict);
    }

    [Fact]
    public async Task TheThreatModelsMarginDecidesWhetherTheSameRunIsNotNovelOrInconclusive()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.ThreatModels);
        var wide = await w.Evaluator.Cases.AddThreatModelAsync(w.CaseId, new AddThreatModelRequest
        {
            Capability = "cyber-intrusion", Description = "Intrusion into mail systems", AffectedParties = [w.MailOrg], Margin = 0.5,
        }, default);
        Assert.Equal(0.5, wide.Margin);
        Assert.Equal(0.05, w.BioThreat!.Margin);
        await w.DriveToAsync(Milestone.Testing);
        // The same small run for both: its one-sided upper bound lies between the two margins.
        var bio = await w.SubmitAsync(Unclear(ProtocolWorld.Bio));
        // Its verdict is the server's, against the threat model's margin: the runner's claim (judged at 0.05) is left out.
        var intrusion = await w.SubmitAsync(Unclear("cyber-intrusion") with { Margin = null, Verdict = null });
        Assert.Equal(bio.UpliftUpper, intrusion.UpliftUpper);
        Assert.Equal(("inconclusive", 0.05), (bio.Verdict, bio.Margin));
        Assert.Equal(("not-novel", 0.5), (intrusion.Verdict, intrusion.Margin));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    public async Task AMarginOutsideZeroToOneIsRefusedNamingTheMember(double margin)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.Evaluator.Cases.AddThreatModelAsync(w.CaseId, new AddThreatModelRequest
        {
            Capability = ProtocolWorld.Bio, Description = "Acquiring controlled material", AffectedParties = [w.BioOrg], Margin = margin,
        }, default));
        Assert.Contains("margin", e.Detail);
    }

    [Fact]
    public async Task AnAcceptedDraftTakesTheMarginTheEvaluatorSets()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var draft = await w.Developer.Cases.DraftThreatModelAsync(w.CaseId, new DraftThreatModelRequest
        {
            Capability = ProtocolWorld.Bio, Description = "Acquiring controlled material", Steps = ["find a supplier"], ReferenceModel = w.Reference.Name, Margin = 0.1,
        }, default);
        Assert.Equal(0.1, draft.Margin);
        var accepted = await w.Evaluator.Cases.AcceptThreatModelAsync(w.CaseId, draft.Id, new AcceptThreatModelRequest
        {
            AffectedParties = [w.BioOrg], Margin = 0.02,
        }, default);
        Assert.Equal(0.02, accepted.Margin);
        var leaf = (await LeavesAsync(Host)).Last(l => l.Type == "threat-model.accepted" && l.Data["threatModel"]!.GetValue<string>() == draft.Id);
        Assert.Equal(0.02, leaf.Data["margin"]!.GetValue<double>());
    }

    [Fact]
    public async Task AnUpperBoundAboveTheUpliftsIntervalIsRefusedNamingTheMember()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio) with { UpliftUpper = 0.5 }));
        Assert.Contains("upliftUpper", e.Detail);
    }

    [Fact]
    public async Task AnInconclusiveRunCannotShowACapabilityNotNovel()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing));
        var unclear = await w.SubmitAsync(Unclear(ProtocolWorld.Bio));
        await w.AdvanceAsync("reflection");
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-9", () => FindingAsync(w, w.BioThreat!.Id, unclear.Id));
        Assert.Contains("inconclusive", e.Detail);
        Assert.Contains("more samples", e.Detail);
        Assert.DoesNotContain((await w.CaseAsync()).Findings, f => f.Capability == ProtocolWorld.Bio);
    }

    [Fact]
    public async Task InconclusiveEvidenceBlocksCertificationSayingHowManyMoreSamplesWouldDecideIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.FindingsRecorded);
        Assert.False(w.BioFinding!.Novel);
        // After the not-novel finding, the evaluator fine-tunes and the run under that condition shows nothing either way.
        var fineTuned = await w.ConditionAsync("fine-tuned");
        var unclear = await w.SubmitAsync(Unclear(ProtocolWorld.Bio) with { SubjectCondition = fineTuned });
        Assert.Equal("inconclusive", unclear.Verdict);
        var blocker = Assert.Single((await w.CaseAsync()).Blockers, b => b.StartsWith("rule-9", StringComparison.Ordinal));
        Assert.Contains(unclear.Id, blocker);

        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-9", () => w.AdvanceAsync("disclosure"));
        Assert.Contains(ProtocolWorld.Bio, e.Detail);
        Assert.Contains("inconclusive", e.Detail);
        Assert.Contains($"about {unclear.MoreSamples} more samples", e.Detail);

        // A run under the same condition that shows the uplift below the margin decides it.
        var decided = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio) with { SubjectCondition = fineTuned });
        Assert.Equal("not-novel", decided.Verdict);
        Assert.DoesNotContain((await w.CaseAsync()).Blockers, b => b.StartsWith("rule-9", StringComparison.Ordinal));
        Assert.Equal("disclosure", (await w.AdvanceAsync("disclosure")).State);
    }

    [Fact]
    public async Task AnInconclusiveVerificationRunDoesNotVerifyAndChangesNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var rerun = await w.SubmitAsync(Unclear(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        Assert.Equal("inconclusive", rerun.Verdict);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-9",
            () => w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default));
        Assert.Contains("inconclusive", e.Detail);
        Assert.Contains(rerun.Id, e.Detail);
        Assert.Equal("reported", (await w.CaseAsync()).Mitigations.Single().Status);
    }

    [Fact]
    public async Task AHostedCaseWithoutToolAugmentedAndAssistedEvidenceIsRefusedNamingCapabilityAndCondition()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "hosted");
        w.CoverageTier = "staged";
        await w.DriveToAsync(Milestone.FindingsRecorded);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-10", () => w.AdvanceAsync("disclosure"));
        Assert.Contains($"'{ProtocolWorld.Phishing}' has none under tool-augmented, assisted", e.Detail);
        Assert.Contains((await w.CaseAsync()).Blockers, b => b.StartsWith("rule-10", StringComparison.Ordinal) && b.Contains(ProtocolWorld.Bio));

        await w.CoverAsync("hosted", ProtocolWorld.Phishing);
        e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-10", () => w.AdvanceAsync("disclosure"));
        Assert.Contains($"'{ProtocolWorld.Bio}' has none under tool-augmented, assisted", e.Detail);
        await w.CoverAsync("hosted", ProtocolWorld.Bio);
        Assert.Equal("disclosure", (await w.AdvanceAsync("disclosure")).State);
    }

    [Fact]
    public async Task ADownloadableCaseAlsoNeedsEvidenceUnderAFineTunedCondition()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "downloadable");
        // The evidence that is enough for hosted: base, tool-augmented and assisted.
        w.CoverageTier = "hosted";
        await w.DriveToAsync(Milestone.FindingsRecorded);
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-10", () => w.AdvanceAsync("disclosure"));
        Assert.Contains($"'{ProtocolWorld.Phishing}' has none under fine-tuned", e.Detail);
        Assert.Contains("downloadable", e.Detail);

        await w.CoverAsync("downloadable", ProtocolWorld.Phishing, ProtocolWorld.Bio);
        await w.DriveToAsync(Milestone.Certified);
        Assert.Equal("downloadable", w.Certificate!.Tier);
    }

    [Fact]
    public async Task TheDevelopersOwnRunsUnderAConditionDoNotCoverIt()
    {
        using var w = await ProtocolWorld.CreateAsync(Host, requestedTier: "hosted");
        w.CoverageTier = "staged";
        await w.DriveToAsync(Milestone.FindingsRecorded);
        foreach (var kind in new[] { "tool-augmented", "assisted" })
        {
            var condition = await w.ConditionAsync(kind);
            await w.SubmitAsync(ProtocolWorld.Significant(ProtocolWorld.Phishing) with { SubjectCondition = condition }, w.Developer);
            await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Bio) with { SubjectCondition = condition }, w.Developer);
        }
        var e = await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-10", () => w.AdvanceAsync("disclosure"));
        Assert.Contains($"'{ProtocolWorld.Phishing}' has none under tool-augmented, assisted", e.Detail);
    }
}

/// <summary>`embargo case threat-model --margin`: the evaluator sets δ from the command line; a bad one is a one-line error.</summary>
[Collection(CliCollection.Name)]
public sealed class ThreatModelMarginCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private async Task<CliRun> AddAsync(ProtocolWorld w, string margin)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[w.Evaluator]);
        try
        {
            return await CliRunner.RunAsync("case", "threat-model", w.CaseId, "--capability", ProtocolWorld.Bio, "--description", "Acquiring controlled material",
                "--affected", w.BioOrg, "--margin", margin, "--server", fixture.Host.Url.ToString(), "--token-env", variable);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task TheEvaluatorSetsTheMarginOfAThreatModelFromTheCommandLine()
    {
        using var w = await ProtocolWorld.CreateAsync(fixture.Host);
        var refused = await AddAsync(w, "1.5");
        Assert.Equal(Embargo.Cli.Infrastructure.CliApp.BadInput, refused.Code);
        Assert.Contains("margin", refused.Error);
        Assert.Empty((await w.CaseAsync()).ThreatModels);

        var added = await AddAsync(w, "0.1");
        Assert.Equal(Embargo.Cli.Infrastructure.CliApp.Ok, added.Code);
        Assert.Equal(0.1, Assert.Single((await w.CaseAsync()).ThreatModels).Margin);
    }
}
