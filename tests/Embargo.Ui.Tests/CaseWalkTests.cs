using System.Text.RegularExpressions;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Playwright;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Ui.Tests;

/// <summary>Each role signs in to the web UI and follows the demo's case from opening to certificate and release.</summary>
[Collection(BrowserCollection.Name)]
public sealed class CaseWalkTests(BrowserFixture ui)
{
    [Fact]
    public async Task EachRoleSeesTheCaseFromOpeningToCertificateAndReleaseAndAcknowledgesThroughAForm()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        var developer = await ui.SignInAsync(w.Tokens[w.Developer]);
        var evaluator = await ui.SignInAsync(w.Tokens[w.Evaluator]);
        var regulator = await ui.SignInAsync(w.Tokens[w.Regulator]);
        var mail = await ui.SignInAsync(w.Tokens[w.MailParty]);
        var certifier = await ui.SignInAsync(w.Tokens[w.Certifier]);
        var casePath = $"/ui/cases/{w.CaseId}";

        // Opening: the developer's dashboard lists the case under its phase, and the case page shows the opening on the timeline.
        await ui.VisitAsync(developer, "/ui", "dashboard-developer");
        var scoping = developer.GetByRole(AriaRole.Region, new() { Name = "scoping" });
        await Assertions.Expect(scoping.GetByRole(AriaRole.Link, new() { Name = w.CaseId })).ToBeVisibleAsync();
        await ui.VisitAsync(developer, casePath, "case-opened");
        await Assertions.Expect(developer.Locator("ol.timeline")).ToContainTextAsync("case.opened");

        // Testing: the evaluator sees the results with their intervals, drawn as a chart, and the verdicts.
        await w.DriveToAsync(Milestone.FindingsRecorded);
        await ui.VisitAsync(evaluator, casePath, "case-evaluated");
        await Assertions.Expect(evaluator.Locator("figure.chart svg[role=img]")).ToBeVisibleAsync();
        Assert.True(await evaluator.Locator("figure.chart svg circle.uplift").CountAsync() >= 2);
        var evaluations = evaluator.GetByRole(AriaRole.Region, new() { Name = "Evaluation results" });
        await Assertions.Expect(evaluations.GetByRole(AriaRole.Row).Filter(new() { HasText = w.PhishingEvaluation!.Id })).ToContainTextAsync("novel");
        var findings = evaluator.GetByRole(AriaRole.Region, new() { Name = "Findings" });
        await Assertions.Expect(findings.GetByRole(AriaRole.Row).Filter(new() { HasText = "Phishing uplift" })).ToContainTextAsync("novel");
        await Assertions.Expect(findings.GetByRole(AriaRole.Row).Filter(new() { HasText = "No bio uplift" })).ToContainTextAsync("not novel");
        // Transcripts are the regulator's and the reviewing certifier's: the evaluator's page offers no link to them.
        Assert.Equal(0, await evaluations.GetByRole(AriaRole.Link, new() { Name = "transcripts" }).CountAsync());

        // Disclosure: Mailguard sees its disclosure, unacknowledged, and acknowledges it through the form (anti-forgery token included).
        await w.DriveToAsync(Milestone.Disclosed);
        var disclosurePath = $"/ui/disclosures/{w.PhishingDisclosure!.Id}";
        await ui.VisitAsync(mail, casePath, "case-disclosed-mail");
        var mailDisclosures = mail.GetByRole(AriaRole.Region, new() { Name = "Disclosures and acknowledgements" });
        await Assertions.Expect(mailDisclosures.GetByRole(AriaRole.Link, new() { Name = w.PhishingDisclosure.AdvisoryTitle })).ToBeVisibleAsync();
        // Mailguard is not a recipient of the bio disclosure: the case page does not list it for Mailguard.
        Assert.Equal(0, await mailDisclosures.GetByText(w.BioDisclosure!.Id).CountAsync());
        await ui.VisitAsync(mail, disclosurePath, "disclosure-mail");
        var before = await LedgerSizeAsync(ui.Host);
        await Assertions.Expect(mail.Locator("input[name=__RequestVerificationToken]")).ToHaveCountAsync(2); // sign-out and acknowledge
        await mail.GetByRole(AriaRole.Button, new() { Name = "Acknowledge receipt" }).ClickAsync();
        await BrowserFixture.ArriveAsync(mail, new Regex("done=acknowledged"));
        await Assertions.Expect(mail.GetByRole(AriaRole.Status)).ToContainTextAsync("acknowledged");
        await Assertions.Expect(mail.GetByText("Your organisation acknowledged this disclosure.")).ToBeVisibleAsync();
        Assert.Equal(before + 1, await LedgerSizeAsync(ui.Host));
        var acknowledged = (await LeavesAsync(ui.Host, before)).Single();
        Assert.Equal("disclosure.acknowledged", acknowledged.Type);
        Assert.Equal(w.MailOrg, acknowledged.Data["organisation"]!.GetValue<string>());
        await ui.AssertAccessibleAsync(mail, "the disclosure page after acknowledging");

        // The regulator's desk: Synthscreen has not acknowledged the bio disclosure; the regulator sets the deadline through the case page.
        await ui.VisitAsync(regulator, "/ui/desk", "desk-regulator");
        var unacknowledged = regulator.GetByRole(AriaRole.Region, new() { Name = "Unacknowledged disclosures" });
        await Assertions.Expect(unacknowledged).ToContainTextAsync(w.BioDisclosure.Id);
        var mailguard = (await w.Admin.Organisations.ListAsync(default)).Single(o => o.Id == w.MailOrg).Name;
        var synthscreen = (await w.Admin.Organisations.ListAsync(default)).Single(o => o.Id == w.BioOrg).Name;
        await Assertions.Expect(unacknowledged).ToContainTextAsync($"{w.BioDisclosure.Id}: not acknowledged by {synthscreen}");
        await Assertions.Expect(unacknowledged).Not.ToContainTextAsync($"{w.PhishingDisclosure.Id}: not acknowledged by {mailguard}");
        await ui.VisitAsync(regulator, casePath, "case-regulator");
        var due = ui.Host.Time.GetUtcNow().AddDays(60);
        await regulator.GetByLabel("Deadline (UTC)").FillAsync(due.ToString("yyyy-MM-dd'T'HH:mm", System.Globalization.CultureInfo.InvariantCulture));
        await regulator.GetByRole(AriaRole.Button, new() { Name = "Set deadline" }).ClickAsync();
        await BrowserFixture.ArriveAsync(regulator, new Regex("done=deadline-set"));
        var mitigations = regulator.GetByRole(AriaRole.Region, new() { Name = "Mitigations" });
        await Assertions.Expect(mitigations.GetByRole(AriaRole.Row).Filter(new() { HasText = w.PhishingMitigation.Id })).ToContainTextAsync(due.ToString("yyyy-MM-dd HH:mm 'UTC'", System.Globalization.CultureInfo.InvariantCulture));

        // Mitigation, verification, certification and release (over the API), then each role's view of them.
        await w.DriveToAsync(Milestone.Certified);
        var release = await w.ReleaseAsync("hosted");
        await ui.VisitAsync(certifier, casePath, "case-certified-certifier");
        var certificates = certifier.GetByRole(AriaRole.Region, new() { Name = "Certificate and releases" });
        await Assertions.Expect(certificates).ToContainTextAsync(w.Certificate!.Id);
        await Assertions.Expect(certificates).ToContainTextAsync("issued");
        // The reviewing certifier may read transcripts: the log viewer opens from the case page.
        await Assertions.Expect(certifier.GetByRole(AriaRole.Link, new() { Name = "transcripts" }).First).ToBeVisibleAsync();
        await ui.VisitAsync(developer, casePath, "case-released-developer");
        await Assertions.Expect(developer.GetByRole(AriaRole.Region, new() { Name = "Certificate and releases" })).ToContainTextAsync("Released at hosted");
        await Assertions.Expect(developer.Locator("dl.facts")).ToContainTextAsync("released");
        await Assertions.Expect(developer.Locator("ol.timeline")).ToContainTextAsync("release");
        await ui.VisitAsync(developer, "/ui", "dashboard-released");
        await Assertions.Expect(developer.GetByRole(AriaRole.Region, new() { Name = "released" }).GetByRole(AriaRole.Link, new() { Name = w.CaseId })).ToBeVisibleAsync();
        Assert.NotNull(release);

        // The public pages, signed out: the advisory with its CSAF link, the certificate, the bad actors.
        var visitor = await ui.NewPageAsync();
        await ui.VisitAsync(visitor, "/ui/public/advisories", "public-advisories");
        var advisory = visitor.Locator($"li#{w.PhishingDisclosure.Id}");
        await Assertions.Expect(advisory).ToContainTextAsync(w.PhishingDisclosure.AdvisoryTitle);
        await Assertions.Expect(advisory.GetByRole(AriaRole.Link, new() { Name = "CSAF 2.0 (JSON)" }))
            .ToHaveAttributeAsync("href", $"/api/public/advisories/{w.PhishingDisclosure.Id}/csaf");
        await ui.VisitAsync(visitor, "/ui/public/certificates", "public-certificates");
        await Assertions.Expect(visitor.Locator($"tr#{w.Certificate.Id}")).ToContainTextAsync("hosted");
        await ui.VisitAsync(visitor, "/ui/public/bad-actors", "public-bad-actors");
    }

    [Fact]
    public async Task TheRegulatorReadsTranscriptsFilteredByOutcomeAndTheDeveloperIsRefusedThem()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        await w.DriveToAsync(Milestone.Evaluated);
        var logPath = $"/ui/evaluations/{w.PhishingEvaluation!.Id}/log";
        var regulator = await ui.SignInAsync(w.Tokens[w.Regulator]);
        await ui.VisitAsync(regulator, logPath, "evaluation-log");
        var all = await regulator.Locator("article.sample").CountAsync();
        Assert.True(all > 0);
        await Assertions.Expect(regulator.GetByText($"{all} of {all} samples shown")).ToBeVisibleAsync();

        await regulator.GetByLabel("Outcome").SelectOptionAsync("correct");
        await regulator.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await BrowserFixture.ArriveAsync(regulator, new Regex("outcome=correct"));
        var correct = await regulator.Locator("article.sample").CountAsync();
        Assert.True(correct > 0 && correct < all, $"{correct} correct of {all}");
        Assert.Equal(correct, await regulator.Locator("article.sample .outcome-correct").CountAsync());
        await ui.AssertAccessibleAsync(regulator, "the filtered log");
        await regulator.Locator("article.sample details summary").First.ClickAsync();
        await Assertions.Expect(regulator.Locator("article.sample ol.transcript").First).ToBeVisibleAsync();

        await ui.VisitAsync(regulator, logPath + "?outcome=maybe", "evaluation-log-bad-filter", status: 400);
        await Assertions.Expect(regulator.GetByRole(AriaRole.Alert)).ToContainTextAsync("outcome: one of correct, incorrect, error");

        var developer = await ui.SignInAsync(w.Tokens[w.Developer]);
        await ui.VisitAsync(developer, logPath, "evaluation-log-refused", status: 403);
        Assert.Equal(0, await developer.Locator("article.sample").CountAsync());
        await Assertions.Expect(developer.GetByRole(AriaRole.Alert)).ToContainTextAsync("separation-of-duties");
    }

    [Fact]
    public async Task AnOverdueMitigationIsMarkedOverdueInWordsOnTheCaseAndTheDesk()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        await w.DriveToAsync(Milestone.DeadlineSet);
        var regulator = await ui.SignInAsync(w.Tokens[w.Regulator]);
        await ui.VisitAsync(regulator, $"/ui/cases/{w.CaseId}", "case-deadline");
        Assert.Equal(0, await regulator.GetByText("OVERDUE").CountAsync());

        ui.Host.Time.Advance(TimeSpan.FromDays(31));
        regulator = await ui.SignInAsync(w.Tokens[w.Regulator]); // a session lasts 8 hours on the server's clock
        await ui.VisitAsync(regulator, $"/ui/cases/{w.CaseId}", "case-overdue");
        var row = regulator.GetByRole(AriaRole.Region, new() { Name = "Mitigations" }).GetByRole(AriaRole.Row).Filter(new() { HasText = w.PhishingMitigation.Id });
        await Assertions.Expect(row).ToContainTextAsync("OVERDUE");
        await Assertions.Expect(row).ToHaveClassAsync("overdue");
        await ui.VisitAsync(regulator, "/ui/desk", "desk-overdue");
        await Assertions.Expect(regulator.GetByRole(AriaRole.Region, new() { Name = "Overdue mitigations" })).ToContainTextAsync(w.PhishingMitigation.Id);
    }
}
