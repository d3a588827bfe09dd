namespace Embargo.Protocol.Tests;

/// <summary>The access table and its decisions, without HTTP.</summary>
public sealed class AccessTableTests
{
    private static readonly Actor Developer = new("prn-dev", "org-dev", Role.Developer);
    private static readonly Actor RivalDeveloper = new("prn-rival", "org-rival", Role.Developer);
    private static readonly Actor Evaluator = new("prn-eval", "org-eval", Role.Evaluator);
    private static readonly Actor UnassignedEvaluator = new("prn-eval2", "org-eval2", Role.Evaluator);
    private static readonly Actor InHouseEvaluator = new("prn-dev-eval", "org-dev", Role.Evaluator);
    private static readonly Actor Regulator = new("prn-reg", "org-reg", Role.Regulator);
    private static readonly Actor OtherRegulator = new("prn-reg2", "org-reg2", Role.Regulator);
    private static readonly Actor MailParty = new("prn-mail", "org-mail", Role.AffectedParty);
    private static readonly Actor BioParty = new("prn-bio", "org-bio", Role.AffectedParty);
    private static readonly Actor Certifier = new("prn-cert", "org-cert", Role.Certifier);
    private static readonly Actor InHouseCertifier = new("prn-dev-cert", "org-dev", Role.Certifier);
    private static readonly Actor Admin = new("admin", "embargo", Role.Admin);

    /// <summary>A case of org-dev with two assigned evaluator organisations: org-eval (independent) and org-dev itself (in-house).</summary>
    private static readonly Subject Case = new()
    {
        DeveloperOrganisation = "org-dev",
        EvaluatorOrganisations = ["org-eval", "org-dev"],
        RegulatorOrganisations = ["org-reg"],
        AffectedParties = ["org-mail", "org-bio"],
    };

    private static readonly string[] KnownRules = ["separation-of-duties", "rule-3", "rule-4", "rule-9"];

    [Fact]
    public void EveryActionHasExactlyOneRow()
    {
        Assert.Equal(Enum.GetValues<ProtocolAction>().Order(), Access.Table.Select(r => r.Action).Order());
        Assert.Equal(Access.Table.Count, Access.Table.Select(r => r.Action).Distinct().Count());
    }

    [Fact]
    public void EveryRowAllowsSomeoneAndNamesAKnownRule()
    {
        Assert.All(Access.Table, row =>
        {
            Assert.NotEmpty(row.Permits);
            Assert.Contains(row.Rule, KnownRules);
            Assert.False(string.IsNullOrWhiteSpace(row.Description));
        });
    }

    [Fact]
    public void ARefusalIsA403NamingTheRowsRule()
    {
        var refusals = 0;
        foreach (var row in Access.Table.Where(r => !Access.Allows(r.Action, RivalDeveloper, Case)))
        {
            refusals++;
            var error = Access.Decide(row.Action, RivalDeveloper, Case);
            Assert.NotNull(error);
            Assert.Equal(ErrorKind.Forbidden, error.Kind);
            // A row within a wider one refuses an outsider by the wider row's rule.
            Assert.Equal(row.Within is { } wider ? Access.Row(wider).Rule : row.Rule, error.Rule);
        }
        Assert.True(refusals > 20, $"only {refusals} rows refuse another lab's developer");
    }

    [Fact]
    public void AnonymousCallersMayOnlyReadThePublicViews()
    {
        var allowed = Enum.GetValues<ProtocolAction>().Where(a => Access.Allows(a, null, Case)).ToList();
        Assert.Equal([ProtocolAction.ReadPublic], allowed);
    }

    [Fact]
    public void TheDeveloperProposesDraftsButNeverGivesEvidenceOfSafety()
    {
        Assert.Null(Access.Decide(ProtocolAction.ProposeThreatModelDraft, Developer, Case));
        Assert.Null(Access.Decide(ProtocolAction.SubmitEvaluation, Developer, Case));
        Assert.Null(Access.Decide(ProtocolAction.RecordNovelFinding, Developer, Case));
        foreach (var safety in new[] { ProtocolAction.AddAcceptedThreatModel, ProtocolAction.AcceptThreatModel, ProtocolAction.RecordNotNovelFinding, ProtocolAction.VerifyMitigation })
        {
            Assert.Equal("rule-9", Access.Decide(safety, Developer, Case)?.Rule);
        }
        Assert.False(Access.CountsAsSafetyEvidence(Developer, Case));
    }

    [Fact]
    public void AnOutsiderIsToldSeparationOfDutiesNeverWhatRuleNineWouldSay()
    {
        foreach (var safety in new[] { ProtocolAction.AddAcceptedThreatModel, ProtocolAction.AcceptThreatModel, ProtocolAction.RecordNotNovelFinding, ProtocolAction.VerifyMitigation })
        {
            Assert.NotNull(Access.Row(safety).Within);
            Assert.Equal("separation-of-duties", Access.Decide(safety, UnassignedEvaluator, Case)?.Rule);
            Assert.Equal("separation-of-duties", Access.Decide(safety, OtherRegulator, Case)?.Rule);
            Assert.Equal("rule-9", Access.Decide(safety, Developer, Case)?.Rule);
        }
    }

    [Fact]
    public void AnInHouseEvaluatorWorksLikeTheDeveloperButGivesNoEvidenceOfSafety()
    {
        Assert.Contains(Relation.InHouseEvaluator, Access.RelationsOf(InHouseEvaluator, Case));
        Assert.DoesNotContain(Relation.AssignedEvaluator, Access.RelationsOf(InHouseEvaluator, Case));
        Assert.Null(Access.Decide(ProtocolAction.SubmitEvaluation, InHouseEvaluator, Case));
        Assert.Equal("rule-9", Access.Decide(ProtocolAction.AcceptThreatModel, InHouseEvaluator, Case)?.Rule);
        Assert.Equal("rule-9", Access.Decide(ProtocolAction.RecordNotNovelFinding, InHouseEvaluator, Case)?.Rule);
        Assert.False(Access.CountsAsSafetyEvidence(InHouseEvaluator, Case));
    }

    [Fact]
    public void AnIndependentAssignedEvaluatorGivesEvidenceOfSafety()
    {
        foreach (var safety in new[] { ProtocolAction.AddAcceptedThreatModel, ProtocolAction.AcceptThreatModel, ProtocolAction.RecordNotNovelFinding, ProtocolAction.VerifyMitigation })
        {
            Assert.Null(Access.Decide(safety, Evaluator, Case));
        }
        Assert.True(Access.CountsAsSafetyEvidence(Evaluator, Case));
    }

    [Fact]
    public void AnUnassignedEvaluatorHasNoSayInTheCase()
    {
        Assert.Equal([Relation.Unrelated], Access.RelationsOf(UnassignedEvaluator, Case));
        foreach (var action in new[] { ProtocolAction.SubmitEvaluation, ProtocolAction.ProposeThreatModelDraft, ProtocolAction.ReadCase, ProtocolAction.AdvanceCase })
        {
            var error = Access.Decide(action, UnassignedEvaluator, Case);
            Assert.Equal("separation-of-duties", error?.Rule);
        }
        Assert.False(Access.CountsAsSafetyEvidence(UnassignedEvaluator, Case));
    }

    [Fact]
    public void OnlyTheCasesRegulatorSetsDeadlinesFinesAndDenies()
    {
        Assert.Null(Access.Decide(ProtocolAction.SetDeadline, Regulator, Case));
        Assert.Equal("rule-3", Access.Decide(ProtocolAction.SetDeadline, OtherRegulator, Case)?.Rule);
        Assert.Equal("rule-3", Access.Decide(ProtocolAction.SetDeadline, Developer, Case)?.Rule);
        Assert.Equal("rule-3", Access.Decide(ProtocolAction.Fine, OtherRegulator, Case)?.Rule);
        Assert.Null(Access.Decide(ProtocolAction.Deny, Regulator, Case));
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.Deny, OtherRegulator, Case)?.Rule);
    }

    [Fact]
    public void OnlyAnIndependentCertifierApprovesAndSigns()
    {
        Assert.Null(Access.Decide(ProtocolAction.ApproveCertification, Certifier, Case));
        Assert.Null(Access.Decide(ProtocolAction.SignCertificate, Certifier, Case));
        foreach (var who in new[] { InHouseCertifier, Developer, Regulator, Evaluator, Admin })
        {
            Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ApproveCertification, who, Case)?.Rule);
        }
        Assert.Contains(Relation.InHouseCertifier, Access.RelationsOf(InHouseCertifier, Case));
    }

    [Fact]
    public void AnIndependentCertifierReadsACaseOnlyOnceItIsInCertification()
    {
        Assert.NotNull(Access.Decide(ProtocolAction.ReadCase, Certifier, Case));
        var inCertification = Case with { OpenToCertifiers = true };
        Assert.Null(Access.Decide(ProtocolAction.ReadCase, Certifier, inCertification));
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ReadCase, InHouseCertifier, inCertification)?.Rule);
    }

    [Fact]
    public void AnAffectedPartyReportsOnlyItsOwnMitigation()
    {
        var mailMitigation = Case with { AffectedParties = ["org-mail"] };
        Assert.Null(Access.Decide(ProtocolAction.ReportMitigation, MailParty, mailMitigation));
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ReportMitigation, BioParty, mailMitigation)?.Rule);
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ReportMitigation, Developer, mailMitigation)?.Rule);
    }

    [Fact]
    public void TheCasesPartiesReadItAndOthersDoNot()
    {
        foreach (var reader in new[] { Developer, Evaluator, InHouseEvaluator, Regulator, MailParty, BioParty, Admin })
        {
            Assert.Null(Access.Decide(ProtocolAction.ReadCase, reader, Case));
        }
        foreach (var outsider in new[] { RivalDeveloper, UnassignedEvaluator, OtherRegulator, new Actor("prn-x", "org-x", Role.AffectedParty) })
        {
            Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ReadCase, outsider, Case)?.Rule);
        }
    }

    [Fact]
    public void AViolationIsReportedByAnyoneButADeveloper()
    {
        Assert.Equal("rule-4", Access.Decide(ProtocolAction.ReportViolation, Developer, Subject.None)?.Rule);
        foreach (var who in new[] { Evaluator, Regulator, MailParty, Certifier, Admin })
        {
            Assert.Null(Access.Decide(ProtocolAction.ReportViolation, who, Subject.None));
        }
    }

    [Fact]
    public void OnlyAGranteeReceivesAWeightsKey()
    {
        var version = new Subject { DeveloperOrganisation = "org-dev", Grantees = ["prn-mail"] };
        Assert.Null(Access.Decide(ProtocolAction.ReleaseKey, MailParty, version));
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ReleaseKey, BioParty, version)?.Rule);
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.ReleaseKey, Developer, version)?.Rule);
    }

    [Fact]
    public void TheAdminAdministersButTakesNoPartInACase()
    {
        Assert.Null(Access.Decide(ProtocolAction.Administer, Admin, Subject.None));
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.Administer, Regulator, Subject.None)?.Rule);
        foreach (var action in new[] { ProtocolAction.SubmitEvaluation, ProtocolAction.AcceptThreatModel, ProtocolAction.ApproveCertification, ProtocolAction.SetDeadline, ProtocolAction.Release })
        {
            Assert.NotNull(Access.Decide(action, Admin, Case));
        }
    }

    [Fact]
    public void TheMarkdownHasOneLinePerActionUnderAHeader()
    {
        var lines = Access.Markdown().TrimEnd('\n').Split('\n');
        Assert.Equal(Access.Table.Count + 2, lines.Length);
        Assert.StartsWith("| action | developer | evaluator | regulator | affected-party | certifier | admin | anonymous |", lines[0], StringComparison.Ordinal);
        foreach (var row in Access.Table)
        {
            Assert.Single(lines, l => l.StartsWith($"| {row.Description} |", StringComparison.Ordinal) && l.Contains($"| `{row.Rule}`", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void ASightingIsDecidedByARegulatorOfItsVersionsCasesOrByAnyRegulatorWhenTheVersionHasNoCase()
    {
        var sighting = new Subject { DeveloperOrganisation = "org-dev", RegulatorOrganisations = ["org-reg"], Reporters = ["prn-mail"] };
        var caseless = sighting with { RegulatorOrganisations = [], WithoutCase = true };
        foreach (var action in new[] { ProtocolAction.DecideSighting, ProtocolAction.DecideDispute, ProtocolAction.LiftMark })
        {
            Assert.Null(Access.Decide(action, Regulator, sighting));
            Assert.Equal("rule-4", Access.Decide(action, OtherRegulator, sighting)?.Rule);
            Assert.Null(Access.Decide(action, OtherRegulator, caseless));
            Assert.Equal("rule-4", Access.Decide(action, Developer, caseless)?.Rule);
            Assert.Equal("rule-4", Access.Decide(action, MailParty, caseless)?.Rule);
        }
        Assert.Null(Access.Decide(ProtocolAction.DisputeViolation, Developer, sighting));
        Assert.Equal("rule-4", Access.Decide(ProtocolAction.DisputeViolation, RivalDeveloper, sighting)?.Rule);
        Assert.Equal("rule-4", Access.Decide(ProtocolAction.DisputeViolation, Regulator, sighting)?.Rule);
    }

    [Fact]
    public void APendingSightingIsReadByItsDeveloperItsRegulatorsItsReporterAndTheAdminOnly()
    {
        var sighting = new Subject { DeveloperOrganisation = "org-dev", RegulatorOrganisations = ["org-reg"], Reporters = ["prn-mail"] };
        Assert.All(new[] { Developer, Regulator, MailParty, Admin }, reader => Assert.True(Access.Allows(ProtocolAction.ReadSighting, reader, sighting)));
        Assert.All(new[] { RivalDeveloper, OtherRegulator, BioParty, Certifier, Evaluator }, outsider => Assert.False(Access.Allows(ProtocolAction.ReadSighting, outsider, sighting)));
        Assert.False(Access.Allows(ProtocolAction.ReadSighting, null, sighting));
    }

    [Fact]
    public void TheReadmeShowsExactlyTheRenderedTable()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md")).Replace("\r\n", "\n", StringComparison.Ordinal);
        var table = Access.Markdown();
        Assert.True(readme.Contains("## Who may do what", StringComparison.Ordinal), "README has no section 'Who may do what'");
        Assert.True(readme.Contains("\n" + table + "\n", StringComparison.Ordinal), "README's table differs from Access.Markdown(); paste this:\n" + table);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Embargo.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("no Embargo.slnx above " + AppContext.BaseDirectory);
    }
}
