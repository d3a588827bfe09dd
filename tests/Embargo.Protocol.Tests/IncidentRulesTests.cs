namespace Embargo.Protocol.Tests;

/// <summary>Incidents as pure decisions: the triage is accept or reject, once; reports name a capability and one public line.</summary>
public sealed class IncidentRulesTests
{
    [Theory]
    [InlineData("accept", IncidentStatus.Accepted)]
    [InlineData("reject", IncidentStatus.Rejected)]
    public void AReportedIncidentIsAcceptedOrRejected(string decision, string next)
    {
        Assert.Equal(next, IncidentRules.Triage(IncidentStatus.Reported, decision).Value);
    }

    [Fact]
    public void AnAcceptedIncidentReopensOnlyAReleasedCaseAndIntoTesting()
    {
        Assert.Equal(CaseState.Testing, IncidentRules.ReopenedBy(CaseState.Released));
        Assert.All(Enum.GetValues<CaseState>().Where(s => s != CaseState.Released), s => Assert.Null(IncidentRules.ReopenedBy(s)));
    }

    [Theory]
    [InlineData(IncidentStatus.Accepted, "reject")]
    [InlineData(IncidentStatus.Rejected, "accept")]
    [InlineData(IncidentStatus.Accepted, "accept")]
    public void ATriageIsFinal(string status, string decision)
    {
        var refused = IncidentRules.Triage(status, decision);

        Assert.False(refused.IsOk);
        Assert.Equal(("decision", ErrorKind.Validation), (refused.Error!.Member, refused.Error.Kind));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Accept")]
    [InlineData("escalate")]
    public void ADecisionOtherThanAcceptOrRejectIsRefusedNamingDecision(string? decision)
    {
        Assert.Equal("decision", IncidentRules.Triage(IncidentStatus.Reported, decision).Error!.Member);
    }

    [Theory]
    [InlineData("cyber phishing")]
    [InlineData("")]
    [InlineData("bio/acquisition")]
    public void ACapabilityIsASlug(string capability)
    {
        Assert.Equal("capability", IncidentRules.Capability(capability).Error!.Member);
        Assert.Equal("cyber-phishing", IncidentRules.Capability(" cyber-phishing ").Value);
    }

    [Fact]
    public void TheSummaryIsOneLineOfAtMost300Characters()
    {
        Assert.Equal("summary", IncidentRules.Summary("first line\nsecond line").Error!.Member);
        Assert.Equal("summary", IncidentRules.Summary(new string('x', IncidentRules.MaxSummary + 1)).Error!.Member);
        Assert.Equal(new string('x', IncidentRules.MaxSummary), IncidentRules.Summary(new string('x', IncidentRules.MaxSummary)).Value);
    }

    [Fact]
    public void OnlyAReleasedVersionTakesIncidents()
    {
        Assert.Equal("modelVersionId", IncidentRules.Reportable("ver_1", released: false)!.Member);
        Assert.Null(IncidentRules.Reportable("ver_1", released: true));
    }

    [Fact]
    public void TheSealingContextBindsTheVersionAndTheRecipient()
    {
        Assert.NotEqual(IncidentRules.SealingContext("ver_1", "org_a"), IncidentRules.SealingContext("ver_2", "org_a"));
        Assert.NotEqual(IncidentRules.SealingContext("ver_1", "org_a"), IncidentRules.SealingContext("ver_1", "org_b"));
    }
}
