namespace Embargo.Protocol.Tests;

/// <summary>The case's decisions without HTTP: who, when, and rule 9 on findings.</summary>
public sealed class CaseDecisionsTests
{
    private static readonly Actor Developer = new("prn-dev", "org-dev", Role.Developer);
    private static readonly Actor Evaluator = new("prn-eval", "org-eval", Role.Evaluator);
    private static readonly Actor Regulator = new("prn-reg", "org-reg", Role.Regulator);
    private static readonly Actor Outsider = new("prn-x", "org-x", Role.Evaluator);

    private static readonly Subject Case = new()
    {
        DeveloperOrganisation = "org-dev", EvaluatorOrganisations = ["org-eval"], RegulatorOrganisations = ["org-reg"], AffectedParties = ["org-mail"],
    };

    private static CaseFacts In(CaseState state) => new()
    {
        State = state,
        RequestedTier = Tier.Hosted,
        ThreatModelCapabilities = ["cyber-phishing"],
        EvaluatedCapabilities = ["cyber-phishing"],
        Findings = [],
        ActiveCaps = [],
    };

    [Fact]
    public void TheDeveloperProposesAThreatModelButOnlyTheIndependentEvaluatorAcceptsOne()
    {
        Assert.Null(CaseDecisions.ThreatModel(In(CaseState.Scoping), Developer, Case, ThreatModelMove.Propose));
        Assert.Equal("rule-9", CaseDecisions.ThreatModel(In(CaseState.Scoping), Developer, Case, ThreatModelMove.Accept)?.Rule);
        Assert.Equal("rule-9", CaseDecisions.ThreatModel(In(CaseState.Scoping), Developer, Case, ThreatModelMove.AddAccepted)?.Rule);
        Assert.Null(CaseDecisions.ThreatModel(In(CaseState.Mapping), Evaluator, Case, ThreatModelMove.Accept));
    }

    [Fact]
    public void ThreatModelsAreAddedOnlyInScopingOrMapping()
    {
        var refused = CaseDecisions.ThreatModel(In(CaseState.Testing), Evaluator, Case, ThreatModelMove.AddAccepted);
        Assert.Equal("case-phase", refused?.Rule);
        Assert.Equal(ErrorKind.RuleViolation, refused?.Kind);
    }

    [Fact]
    public void ACapabilityIsNamedOnceAndPlainly()
    {
        Assert.Null(CaseDecisions.NewCapability(In(CaseState.Scoping), ["cyber-phishing"], "bio-acquisition"));
        Assert.Equal(ErrorKind.Validation, CaseDecisions.NewCapability(In(CaseState.Scoping), ["cyber-phishing"], "cyber-phishing")?.Kind);
        Assert.Equal(ErrorKind.Validation, CaseDecisions.NewCapability(In(CaseState.Scoping), [], "has space")?.Kind);
        Assert.Equal(ErrorKind.Validation, CaseDecisions.NewCapability(In(CaseState.Scoping), [], new string('a', 101))?.Kind);
        Assert.Equal(ErrorKind.Validation, CaseDecisions.NewCapability(In(CaseState.Scoping), [], null)?.Kind);
    }

    [Fact]
    public void CommitmentsComeFromTheDeveloperOrTheRegulatorBeforeCertification()
    {
        Assert.Null(CaseDecisions.Commit(In(CaseState.Testing), Developer, Case));
        Assert.Null(CaseDecisions.Commit(In(CaseState.Testing), Regulator, Case));
        Assert.Equal("separation-of-duties", CaseDecisions.Commit(In(CaseState.Testing), Evaluator, Case)?.Rule);
        Assert.Equal("case-phase", CaseDecisions.Commit(In(CaseState.Certification), Developer, Case)?.Rule);
    }

    [Fact]
    public void AnOutsiderCannotAdvanceTheCaseEvenWhenTheMoveIsValid()
    {
        Assert.Equal("separation-of-duties", CaseDecisions.Advance(In(CaseState.Scoping), Outsider, Case, CaseState.Mapping).Error?.Rule);
        Assert.Equal(CaseState.Mapping, CaseDecisions.Advance(In(CaseState.Scoping), Developer, Case, CaseState.Mapping).Value);
    }

    [Fact]
    public void EvaluationsGoInTestingOrReflectionAndVerificationRunsInDisclosure()
    {
        var evaluation = new EvaluationCommand("cyber-phishing", null);
        var verification = new EvaluationCommand("cyber-phishing", "mit-1");
        Assert.Null(CaseDecisions.SubmitEvaluation(In(CaseState.Testing), Developer, Case, evaluation));
        Assert.Null(CaseDecisions.SubmitEvaluation(In(CaseState.Reflection), Evaluator, Case, evaluation));
        Assert.Equal("case-phase", CaseDecisions.SubmitEvaluation(In(CaseState.Disclosure), Evaluator, Case, evaluation)?.Rule);
        Assert.Null(CaseDecisions.SubmitEvaluation(In(CaseState.Disclosure), Evaluator, Case, verification));
        Assert.Equal("case-phase", CaseDecisions.SubmitEvaluation(In(CaseState.Testing), Evaluator, Case, verification)?.Rule);
        Assert.Equal("separation-of-duties", CaseDecisions.SubmitEvaluation(In(CaseState.Testing), Outsider, Case, evaluation)?.Rule);
    }

    [Fact]
    public void AFindingTheEvidenceShowsNovelIsNovelWhoeverRecordsIt()
    {
        var command = new FindingCommand("cyber-phishing", CapabilityNovel: true, "evl-dev", EvidenceFromIndependentEvaluator: false);
        Assert.True(CaseDecisions.RecordFinding(In(CaseState.Reflection), Developer, Case, command).Value);
        Assert.True(CaseDecisions.RecordFinding(In(CaseState.Reflection), Evaluator, Case, command).Value);
    }

    [Fact]
    public void AFindingNotNovelComesOnlyFromTheIndependentEvaluatorCitingItsOwnKindOfRun()
    {
        var independent = new FindingCommand("bio", CapabilityNovel: false, "evl-eval", EvidenceFromIndependentEvaluator: true);
        var developers = independent with { EvidenceId = "evl-dev", EvidenceFromIndependentEvaluator = false };
        Assert.False(CaseDecisions.RecordFinding(In(CaseState.Reflection), Evaluator, Case, independent).Value);
        Assert.Equal("rule-9", CaseDecisions.RecordFinding(In(CaseState.Reflection), Developer, Case, independent).Error?.Rule);
        var cited = CaseDecisions.RecordFinding(In(CaseState.Reflection), Evaluator, Case, developers).Error;
        Assert.Equal("rule-9", cited?.Rule);
        Assert.Contains("evl-dev", cited?.Message);
        Assert.Equal("separation-of-duties", CaseDecisions.RecordFinding(In(CaseState.Reflection), Outsider, Case, independent).Error?.Rule);
    }

    [Fact]
    public void FindingsAreRecordedOnlyInTestingOrReflection()
    {
        var command = new FindingCommand("cyber-phishing", true, "evl", true);
        Assert.Equal("case-phase", CaseDecisions.RecordFinding(In(CaseState.Disclosure), Evaluator, Case, command).Error?.Rule);
        Assert.Equal("case-phase", CaseDecisions.MayRecordFinding(In(CaseState.Mapping), Developer, Case)?.Rule);
    }
}
