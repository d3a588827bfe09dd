namespace Embargo.Protocol.Tests;

/// <summary>Rule "evidence": a log binds to one evaluation of one case, capability, task and subject model.</summary>
public sealed class EvidenceRuleTests
{
    private static readonly EvidenceBinding Bound = new()
    {
        Sha256 = "ab", CaseId = "case_1", LogCaseId = "case_1", Capability = "cyber-phishing", Task = "cyber-phishing",
        LogCapability = "cyber-phishing", LogTask = "cyber-phishing", LogSubjectModel = "camelid-7b-ft", ExpectedSubjectModel = "camelid-7b-ft",
        ExpectedSubjectSource = "registered condition 'ft'",
    };

    [Fact]
    public void ALogOfThisCaseRunForTheClaimedCapabilityAndConditionIsBound() => Assert.Null(Evidence.BindingRefusal(Bound));

    [Fact]
    public void NoDeclaredSubjectModelLeavesTheSubjectAsTheLogNamesIt() =>
        Assert.Null(Evidence.BindingRefusal(Bound with { ExpectedSubjectModel = null, LogSubjectModel = "anything" }));

    public static TheoryData<string, string> Unbound => new()
    {
        { "another case", "was uploaded for case case_2" },
        { "already cited", "already the evidence of evaluation evl_1" },
        { "relabelled capability", "capability: the log ran task 'cyber-phishing' measuring 'cyber-phishing', not 'bio-acquisition'" },
        { "another task", "task: the log ran task 'cyber-phishing', not 'phishing-v2'" },
        { "unrelated subject", "subject.model: the log's subject is model 'gpt-unrelated', but registered condition 'ft' serves 'camelid-7b-ft'" },
    };

    [Theory]
    [MemberData(nameof(Unbound))]
    public void ALogThatDoesNotBindIsRefusedByRuleEvidence(string how, string message)
    {
        var binding = how switch
        {
            "another case" => Bound with { LogCaseId = "case_2" },
            "already cited" => Bound with { AlreadyEvidenceOf = "evl_1" },
            "relabelled capability" => Bound with { Capability = "bio-acquisition" },
            "another task" => Bound with { Task = "phishing-v2" },
            _ => Bound with { LogSubjectModel = "gpt-unrelated" },
        };
        var refused = Evidence.BindingRefusal(binding);
        Assert.Equal("evidence", refused?.Rule);
        Assert.Equal(ErrorKind.RuleViolation, refused!.Kind);
        Assert.Contains(message, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSameBytesForAnotherCaseAreRefusedAndForTheSameCaseAreNot()
    {
        Assert.Null(Evidence.UploadRefusal("ab", "case_1", null));
        Assert.Null(Evidence.UploadRefusal("ab", "case_1", "case_1"));
        Assert.Equal("evidence", Evidence.UploadRefusal("ab", "case_2", "case_1")?.Rule);
    }

    [Fact]
    public void ARunWithoutABaselineCannotBeCited()
    {
        Assert.Equal("evidence", Evidence.CitationRefusal("evl_1", hasUplift: false)?.Rule);
        Assert.Null(Evidence.CitationRefusal("evl_1", hasUplift: true));
    }
}
