using System.Net;
using System.Text.RegularExpressions;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Playwright;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Ui.Tests;

/// <summary>The UI authorises like the API, its session cookie is for /ui only, and its forms need the anti-forgery token.</summary>
[Collection(BrowserCollection.Name)]
public sealed class AccessTests(BrowserFixture ui)
{
    [Fact]
    public async Task AnAffectedPartyCannotOpenAnotherPartysDisclosurePage()
    {
        var w = await (await ProtocolWorld.CreateAsync(ui.Host)).DriveToAsync(Milestone.Disclosed);
        var bio = await ui.SignInAsync(w.Tokens[w.BioParty]);
        var phishing = w.PhishingDisclosure!;
        await ui.VisitAsync(bio, $"/ui/disclosures/{phishing.Id}", "disclosure-refused", status: 403);
        await Assertions.Expect(bio.GetByRole(AriaRole.Alert)).ToContainTextAsync("not addressed to your organisation");
        var html = await bio.ContentAsync();
        Assert.DoesNotContain(phishing.AdvisorySummary, html);
        Assert.Equal(0, await bio.GetByRole(AriaRole.Button, new() { Name = "Acknowledge receipt" }).CountAsync());
        // Its own disclosure opens.
        await ui.VisitAsync(bio, $"/ui/disclosures/{w.BioDisclosure!.Id}", "disclosure-own");
        await Assertions.Expect(bio.GetByRole(AriaRole.Button, new() { Name = "Acknowledge receipt" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task ADeveloperOfAnotherLabIsRefusedTheCasePageAndDoesNotSeeItOnTheDashboard()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        var rival = await ui.SignInAsync(w.Tokens[w.OtherDeveloper]);
        await ui.VisitAsync(rival, "/ui", "dashboard-rival");
        Assert.Equal(0, await rival.GetByRole(AriaRole.Link, new() { Name = w.CaseId }).CountAsync());
        await ui.VisitAsync(rival, $"/ui/cases/{w.CaseId}", "case-refused", status: 403);
        await Assertions.Expect(rival.GetByRole(AriaRole.Alert)).ToContainTextAsync("separation-of-duties");
        Assert.Equal(0, await rival.Locator("ol.timeline").CountAsync());
    }

    [Fact]
    public async Task ASignedOutVisitorIsSentToSignInAndAnUnknownTokenIsRefused()
    {
        var page = await ui.NewPageAsync();
        await page.GotoAsync(ui.Url("/ui/desk"));
        await BrowserFixture.ArriveAsync(page, new Regex("/ui/sign-in\\?returnUrl=%2Fui%2Fdesk"));
        await page.GetByLabel("API token").FillAsync("not-a-token");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await BrowserFixture.ArriveAsync(page, new Regex("error=unknown"));
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("That token is not known");
        await ui.AssertAccessibleAsync(page, "the refused sign-in");
        var cookies = await page.Context.CookiesAsync();
        Assert.DoesNotContain(cookies, c => c.Name == "embargo_ui");
    }

    [Fact]
    public async Task TheSessionCookieIsHttpOnlyStrictScopedToTheUiAndTheApiDoesNotAcceptIt()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        var developer = await ui.SignInAsync(w.Tokens[w.Developer]);
        var session = (await developer.Context.CookiesAsync()).Single(c => c.Name == "embargo_ui");
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        Assert.Equal("/ui", session.Path);

        // The API under /api knows only Bearer tokens: the session cookie, even sent by hand, authenticates nothing.
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(ui.Host.Url, "/api/me"));
        request.Headers.Add("Cookie", $"embargo_ui={session.Value}");
        using var response = await ui.Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        // The same principal's Bearer token still works.
        using var bearer = new HttpRequestMessage(HttpMethod.Get, new Uri(ui.Host.Url, "/api/me"));
        bearer.Headers.Authorization = new("Bearer", w.Tokens[w.Developer]);
        using var ok = await ui.Host.Http.SendAsync(bearer);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Contains(w.PrincipalIds[w.Developer], await ok.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Signing out ends the session: the dashboard sends the browser to sign in again.
        await developer.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await BrowserFixture.ArriveAsync(developer, new Regex("signedOut=1"));
        await developer.GotoAsync(ui.Url("/ui"));
        await BrowserFixture.ArriveAsync(developer, new Regex("/ui/sign-in"));
    }

    [Fact]
    public async Task ASessionEndsWhenItsTokenIsRotatedAndTheNewTokenSignsInAgain()
    {
        var w = await ProtocolWorld.CreateAsync(ui.Host);
        var developer = await ui.SignInAsync(w.Tokens[w.Developer]);
        await ui.VisitAsync(developer, $"/ui/cases/{w.CaseId}", "case-before-rotation");
        var rotated = await w.Admin.Admin.RotateTokenAsync(w.PrincipalIds[w.Developer], default);
        await developer.GotoAsync(ui.Url($"/ui/cases/{w.CaseId}"));
        await BrowserFixture.ArriveAsync(developer, new Regex("/ui/sign-in\\?returnUrl="));
        Assert.DoesNotContain(await developer.Context.CookiesAsync(), c => c.Name == "embargo_ui");
        var again = await ui.SignInAsync(rotated.Token);
        await ui.VisitAsync(again, $"/ui/cases/{w.CaseId}", "case-after-rotation");
    }

    [Fact]
    public async Task AnAcknowledgementPostedWithoutTheAntiforgeryTokenIsRefusedWithoutChange()
    {
        var w = await (await ProtocolWorld.CreateAsync(ui.Host)).DriveToAsync(Milestone.Disclosed);
        var mail = await ui.SignInAsync(w.Tokens[w.MailParty]);
        var size = await LedgerSizeAsync(ui.Host);
        // A cross-site form would carry the cookie but not the token (and SameSite=Strict keeps the cookie home anyway).
        var form = mail.APIRequest.CreateFormData();
        form.Set("acknowledge", "yes");
        var response = await mail.APIRequest.PostAsync(ui.Url($"/ui/actions/disclosures/{w.PhishingDisclosure!.Id}/acknowledge"),
            new() { Form = form, MaxRedirects = 0 });
        Assert.Equal(400, response.Status);
        var body = await response.TextAsync();
        Assert.True(body.Contains("anti-forgery", StringComparison.Ordinal), body);
        Assert.Equal(size, await LedgerSizeAsync(ui.Host));
        // The page still offers the acknowledgement: nothing was acknowledged.
        await ui.VisitAsync(mail, $"/ui/disclosures/{w.PhishingDisclosure.Id}", "disclosure-unacknowledged");
        await Assertions.Expect(mail.GetByRole(AriaRole.Button, new() { Name = "Acknowledge receipt" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task ARefusalThroughAFormNamesTheRuleAndChangesNothing()
    {
        var w = await (await ProtocolWorld.CreateAsync(ui.Host)).DriveToAsync(Milestone.Disclosed);
        var regulator = await ui.SignInAsync(w.Tokens[w.Regulator]);
        await ui.VisitAsync(regulator, $"/ui/cases/{w.CaseId}", "case-deadline-form");
        var size = await LedgerSizeAsync(ui.Host);
        var before = await w.CaseTextAsync();
        // Rule 3 via the form: the regulator's deadline form, used by the developer's session, is refused by the API's own handler.
        var developer = await ui.SignInAsync(w.Tokens[w.Developer]);
        await ui.VisitAsync(developer, $"/ui/cases/{w.CaseId}", "case-developer-disclosed");
        Assert.Equal(0, await developer.GetByRole(AriaRole.Button, new() { Name = "Set deadline" }).CountAsync());
        var token = await developer.Locator("input[name=__RequestVerificationToken]").First.InputValueAsync();
        var form = developer.APIRequest.CreateFormData();
        form.Set("__RequestVerificationToken", token);
        form.Set("dueAt", "2027-01-31T00:00");
        form.Set("returnUrl", $"/ui/cases/{w.CaseId}");
        var response = await developer.APIRequest.PostAsync(ui.Url($"/ui/actions/mitigations/{w.PhishingMitigation.Id}/deadline"), new() { Form = form, MaxRedirects = 0 });
        Assert.Equal(303, response.Status);
        var location = response.Headers["location"];
        Assert.Contains("refused=rule-3", location, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(ui.Host));
        Assert.Equal(before, await w.CaseTextAsync());
        await ui.VisitAsync(developer, location, "case-refused-rule-3");
        await Assertions.Expect(developer.GetByRole(AriaRole.Alert)).ToContainTextAsync("rule-3");
    }
}
