using Embargo.Server.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Embargo.Ui.Tests;

/// <summary>The case page draws the safety case (GSN-style inline SVG) and lists its open claims with what would close them.</summary>
[Collection(BrowserCollection.Name)]
public sealed class SafetyCaseUiTests(BrowserFixture ui)
{
    [Fact]
    public async Task TheCasePageDrawsTheSafetyCaseAndListsTheOpenClaimUntilTheMitigationIsVerified()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        var evaluator = await ui.SignInAsync(w.Tokens[w.Evaluator]);
        var casePath = $"/ui/cases/{w.CaseId}";

        await w.DriveToAsync(Milestone.MitigationReported);
        await ui.VisitAsync(evaluator, casePath, "case-safety-case-open");
        var section = evaluator.GetByRole(AriaRole.Region, new() { Name = "Safety case at hosted: open" });
        await Assertions.Expect(section).ToBeVisibleAsync();
        await Assertions.Expect(section.Locator("svg[role=img]")).ToBeVisibleAsync();
        // The open claim is drawn dashed red (the top goal with it), the supported bio claim plainly.
        await Assertions.Expect(section.Locator("svg rect.open")).ToHaveCountAsync(2);
        await Assertions.Expect(section.Locator("svg polygon.strategy")).ToHaveCountAsync(2);
        var open = section.Locator("ul.open-claims");
        await Assertions.Expect(open).ToContainTextAsync("G1 cyber-phishing (mitigation)");
        await Assertions.Expect(open).ToContainTextAsync($"mitigation {w.PhishingMitigation.Id} is not verified");

        await w.DriveToAsync(Milestone.MitigationVerified);
        await ui.VisitAsync(evaluator, casePath, "case-safety-case");
        var supported = evaluator.GetByRole(AriaRole.Region, new() { Name = "Safety case at hosted: supported" });
        await Assertions.Expect(supported).ToBeVisibleAsync();
        await Assertions.Expect(supported.Locator("ul.open-claims")).ToHaveCountAsync(0);
        await Assertions.Expect(supported.Locator("svg rect.open")).ToHaveCountAsync(0);
        await Assertions.Expect(supported.Locator("svg circle.solution")).ToHaveCountAsync(4);
        await ui.ScreenshotAsync(evaluator, "safety-case");
        // The section alone, for the README (docs/screenshots/safety-case.png is a copy of it).
        await supported.ScreenshotAsync(new() { Path = Path.Combine(ui.RepositoryRoot, "artifacts", "screenshots", $"{ui.Host.Storage}-safety-case-section.png") });
    }

    [Fact]
    public async Task ThePublicCertificatesPageLinksTheSafetyCaseTheCertificateRestsOn()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        await w.DriveToAsync(Milestone.Certified);
        var visitor = await ui.NewPageAsync();
        await ui.VisitAsync(visitor, "/ui/public/certificates", "certificates-safety-case");
        var row = visitor.GetByRole(AriaRole.Row).Filter(new() { HasText = w.Certificate!.Id });
        var link = row.GetByRole(AriaRole.Link, new() { Name = "safety case" });
        Assert.Equal($"/api/certificates/{w.Certificate.Id}/safety-case?format=svg", await link.GetAttributeAsync("href"));
        var drawing = await visitor.GotoAsync(ui.Url($"/api/certificates/{w.Certificate.Id}/safety-case?format=svg"));
        Assert.Equal(200, drawing!.Status);
        Assert.StartsWith("image/svg+xml", drawing.Headers["content-type"], StringComparison.Ordinal);
        var title = System.Xml.Linq.XDocument.Parse(await drawing.TextAsync()).Root!.Element((System.Xml.Linq.XNamespace)"http://www.w3.org/2000/svg" + "title")!.Value;
        Assert.EndsWith("supported (2 of 2 claims supported)", title, StringComparison.Ordinal);
    }
}
