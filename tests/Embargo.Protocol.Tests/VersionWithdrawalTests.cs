using Embargo.Protocol;

namespace Embargo.Protocol.Tests;

/// <summary>Withdrawing a model version: its developer only, and only while no case has used it.</summary>
public sealed class VersionWithdrawalTests
{
    private static readonly Actor Developer = new("prn_dev", "org_mesa", Role.Developer);
    private static readonly Actor Rival = new("prn_rival", "org_rival", Role.Developer);

    private static VersionWithdrawalFacts Facts(IReadOnlyList<string>? cases = null, bool withdrawn = false, string? reason = null) => new()
    {
        VersionId = "ver_1", Subject = new Subject { DeveloperOrganisation = "org_mesa" }, Cases = cases ?? [], AlreadyWithdrawn = withdrawn, Reason = reason,
    };

    [Fact]
    public void TheDeveloperMayWithdrawAVersionNoCaseUsed() => Assert.Null(VersionWithdrawal.Decide(Facts(reason: "wrong path"), Developer));

    [Fact]
    public void AnotherOrganisationsDeveloperIsRefusedBySeparationOfDuties() =>
        Assert.Equal("separation-of-duties", VersionWithdrawal.Decide(Facts(), Rival)?.Rule);

    [Fact]
    public void AVersionACaseUsedIsRefusedByCasePhaseNamingTheCase()
    {
        var refused = VersionWithdrawal.Decide(Facts(cases: ["case_1"]), Developer);
        Assert.Equal("case-phase", refused?.Rule);
        Assert.Equal(ErrorKind.RuleViolation, refused?.Kind);
        Assert.Contains("case_1", refused?.Message);
    }

    [Fact]
    public void AWithdrawnVersionIsNotWithdrawnTwiceAndOpensNoCase()
    {
        Assert.Equal("case-phase", VersionWithdrawal.Decide(Facts(withdrawn: true), Developer)?.Rule);
        Assert.Equal("case-phase", VersionWithdrawal.OpenRefusal("ver_1", withdrawn: true)?.Rule);
        Assert.Null(VersionWithdrawal.OpenRefusal("ver_1", withdrawn: false));
    }

    [Fact]
    public void ABlankReasonIsAValidationErrorNamingTheMember() =>
        Assert.Equal("reason", VersionWithdrawal.Decide(Facts(reason: "  "), Developer)?.Member);
}
