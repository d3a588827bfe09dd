using System.Text.Json.Nodes;
using Embargo.Protocol.Disclosures;

namespace Embargo.Protocol.Tests;

/// <summary>The inbox's visibility rule and the CSAF advisory builder, without a server.</summary>
public sealed class DisclosureInboxAndCsafTests
{
    private static readonly InboxSubject MailItem = new("org_mail", "org_dev", ["org_eval"], "org_reg");

    [Theory]
    [InlineData(Role.AffectedParty, "org_mail", true)]
    [InlineData(Role.AffectedParty, "org_bio", false)]
    [InlineData(Role.Regulator, "org_reg", true)]
    [InlineData(Role.Regulator, "org_other_reg", false)]
    [InlineData(Role.Developer, "org_dev", true)]
    [InlineData(Role.Developer, "org_rival", false)]
    [InlineData(Role.Evaluator, "org_eval", true)]
    [InlineData(Role.Evaluator, "org_other_eval", false)]
    [InlineData(Role.Certifier, "org_mail", false)]
    [InlineData(Role.Admin, "embargo", true)]
    public void InboxShowsAnItemOnlyToItsRecipientTheCaseRegulatorAndTheDisclosingSide(Role role, string organisation, bool sees) =>
        Assert.Equal(sees, Inbox.Sees(new Actor("prn_x", organisation, role), MailItem));

    [Fact]
    public void NobodyWithoutATokenSeesAnInboxItem() => Assert.False(Inbox.Sees(null, MailItem));

    [Fact]
    public void AReminderIsDueOnlyAfterTheWindowAndOnlyOnceForAnUnacknowledgedRecipient()
    {
        var disclosed = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var window = TimeSpan.FromDays(7);
        Assert.False(Inbox.ReminderDue(disclosed, null, null, window, disclosed.AddDays(7).AddTicks(-1)));
        Assert.True(Inbox.ReminderDue(disclosed, null, null, window, disclosed.AddDays(7)));
        Assert.False(Inbox.ReminderDue(disclosed, disclosed.AddDays(1), null, window, disclosed.AddDays(8)));
        Assert.False(Inbox.ReminderDue(disclosed, null, disclosed.AddDays(7), window, disclosed.AddDays(9)));
    }

    private static CsafFacts Facts(params CsafRevision[] revisions) => new()
    {
        DisclosureId = "dsc_1", AdvisoryTitle = "Phishing uplift", AdvisorySummary = "Uplift on phishing; details went privately to the recipients.",
        DisclosedAt = new DateTimeOffset(2026, 1, 1, 9, 0, 0, TimeSpan.Zero), PublisherName = "Office for AI Safety", PublisherNamespace = "https://embargo.example",
        CaseId = "case_1", DeveloperName = "Mesa Labs", ModelName = "camelid-7b", VersionId = "ver_1", VersionLabel = "1.0",
        ManifestDigest = "sha256:" + new string('a', 64), Files = [("model.safetensors", new string('b', 64))],
        Finding = new CsafFinding
        {
            Id = "fnd_1", Title = "Phishing uplift", Capability = "cyber-phishing", Novel = true, RecordedAt = new DateTimeOffset(2026, 1, 1, 8, 0, 0, TimeSpan.Zero),
            Verdict = "novel", Margin = 0.05, Samples = 200, SubjectAccuracy = 0.8, BaselineAccuracy = 0.2, Uplift = 0.6, UpliftLow = 0.5, UpliftHigh = 0.7, UpliftUpper = 0.68, P = 1e-30,
        },
        Mitigations = [new CsafMitigation("mit_1", "Mailguard", "reported", new DateTimeOffset(2026, 1, 3, 0, 0, 0, TimeSpan.Zero), null)],
        Revisions = revisions,
    };

    [Fact]
    public void TheSameFactsGiveTheSameBytes() => Assert.Equal(CsafAdvisory.Render(Facts()), CsafAdvisory.Render(Facts()));

    [Fact]
    public void TheDocumentVersionIsTheLatestRevisionAndTheDisclosureIsRevisionOne()
    {
        var second = new CsafRevision(2, new DateTimeOffset(2026, 1, 3, 0, 0, 0, TimeSpan.Zero), "A mitigation was reported.");
        var tracking = CsafAdvisory.Build(Facts(second))["document"]!["tracking"]!;

        Assert.Equal("2", tracking["version"]!.GetValue<string>());
        Assert.Equal(["1", "2"], tracking["revision_history"]!.AsArray().Select(r => r!["number"]!.GetValue<string>()));
        Assert.Equal("2026-01-01T09:00:00.000Z", tracking["initial_release_date"]!.GetValue<string>());
        Assert.Equal("2026-01-03T00:00:00.000Z", tracking["current_release_date"]!.GetValue<string>());
    }

    [Fact]
    public void TheManifestDigestIsTheProductsSha256FileHashWithoutItsPrefix()
    {
        var hashes = CsafAdvisory.Build(Facts())["product_tree"]!["branches"]![0]!["branches"]![0]!["branches"]![0]!["product"]!["product_identification_helper"]!["hashes"]!.AsArray();

        Assert.Equal(new string('a', 64), hashes[0]!["file_hashes"]![0]!["value"]!.GetValue<string>());
        Assert.Equal("sha256", hashes[0]!["file_hashes"]![0]!["algorithm"]!.GetValue<string>());
        Assert.Equal("model.safetensors", hashes[1]!["filename"]!.GetValue<string>());
    }
}
