namespace Embargo.Protocol.Tests;

/// <summary>Rule 9 in the phase rules: only an independent evaluator's evaluation counts as having evaluated a capability.</summary>
public sealed class EvidenceAsymmetryTests
{
    private static CaseFacts Testing(IReadOnlyList<string> evaluated, IReadOnlyList<string> developerSideOnly) => new()
    {
        State = CaseState.Testing,
        RequestedTier = Tier.Hosted,
        ThreatModelCapabilities = ["cyber-phishing", "bio-acquisition"],
        EvaluatedCapabilities = evaluated,
        EvaluatedOnlyByDeveloperSide = developerSideOnly,
        Findings = [],
        ActiveCaps = [],
    };

    [Fact]
    public void ACapabilityEvaluatedOnlyByTheDevelopersSideDoesNotLetTheCaseReachReflection()
    {
        var moved = Rules.Advance(Testing(["cyber-phishing"], ["bio-acquisition"]), CaseState.Reflection);
        Assert.False(moved.IsOk);
        Assert.Equal("rule-9", moved.Error!.Rule);
        Assert.Contains("bio-acquisition", moved.Error.Message);
    }

    [Fact]
    public void ACapabilityNobodyEvaluatedIsACasePhaseRefusal()
    {
        var moved = Rules.Advance(Testing(["cyber-phishing"], []), CaseState.Reflection);
        Assert.Equal("case-phase", moved.Error?.Rule);
    }

    [Fact]
    public void IndependentEvaluationsOfEveryCapabilityLetTheCaseReachReflection()
    {
        var moved = Rules.Advance(Testing(["cyber-phishing", "bio-acquisition"], []), CaseState.Reflection);
        Assert.True(moved.IsOk);
        Assert.Equal(CaseState.Reflection, moved.Value);
    }
}
