namespace Embargo.Protocol.Tests;

/// <summary>Evaluation access as a pure decision: before release at hosted/api, only an evaluator of an open case of the version.</summary>
public sealed class GatewayEvaluationAccessRulesTests
{
    private static readonly string[] Evaluators = ["org_eval"];

    [Fact]
    public void AnEvaluatorOfAnOpenCaseHasEvaluationAccessToAnUnreleasedVersion()
    {
        Assert.Null(GatewayRules.EvaluationAccess("ver_1", [], "org_eval", Evaluators));
    }

    [Fact]
    public void AStrangerIsRefusedByRuleOneNamingEvaluationAccess()
    {
        var refused = GatewayRules.EvaluationAccess("ver_1", [], "org_other", Evaluators);

        Assert.Equal("rule-1", refused!.Rule);
        Assert.Contains("(evaluation access), and organisation org_other is none", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Tier.Hosted)]
    [InlineData(Tier.Api)]
    public void AVersionReleasedAtAGatedTierIsNeverUnderEvaluationAccess(Tier tier)
    {
        var refused = GatewayRules.EvaluationAccess("ver_1", [new ServedRelease(tier, "crt_1", "flagged")], "org_eval", Evaluators);

        Assert.Equal("rule-1", refused!.Rule);
        Assert.Contains("served under its certificate", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AReleaseBelowHostedDoesNotEndEvaluationAccessTheOpenCasesEvaluatorsDecide()
    {
        Assert.Null(GatewayRules.EvaluationAccess("ver_1", [new ServedRelease(Tier.Staged, "crt_1", "valid")], "org_eval", Evaluators));
    }
}
