using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// The disclosure inbox (GET /api/disclosures, `embargo disclosure list`): each recipient sees its own disclosures, the
/// regulator every recipient of its cases, unacknowledged first, then by deadline; unacknowledged ones are reminded.
/// </summary>
[Collection(CliCollection.Name)]
public sealed class DisclosureInboxTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static List<(string Disclosure, string Recipient)> Keys(IEnumerable<InboxItemDto> items) => items.Select(i => (i.DisclosureId, i.Recipient)).ToList();

    [Fact]
    public async Task AnAffectedPartySeesOnlyTheDisclosuresAddressedToItsOwnOrganisation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);

        var mail = await w.MailParty.Disclosures.ListAsync(ct: default);
        var bio = await w.BioParty.Disclosures.ListAsync(ct: default);

        Assert.Equal(new List<(string, string)> { (w.PhishingDisclosure!.Id, w.MailOrg) }, Keys(mail));
        Assert.Equal(new List<(string, string)> { (w.BioDisclosure!.Id, w.BioOrg) }, Keys(bio));
        Assert.Equal(w.PhishingFinding!.Id, mail[0].FindingId);
        Assert.Equal(w.CaseId, mail[0].CaseId);
        Assert.False(mail[0].Acknowledged);
    }

    [Fact]
    public async Task AnotherRegulatorAnOutsideDeveloperAndACertifierSeeNoneOfTheCasesDisclosures()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);

        Assert.DoesNotContain(await w.OtherRegulator.Disclosures.ListAsync(ct: default), i => i.CaseId == w.CaseId);
        Assert.DoesNotContain(await w.OtherDeveloper.Disclosures.ListAsync(ct: default), i => i.CaseId == w.CaseId);
        Assert.DoesNotContain(await w.Certifier.Disclosures.ListAsync(ct: default), i => i.CaseId == w.CaseId);
        await Refused(HttpStatusCode.Unauthorized, null, () => Host.Anonymous.Disclosures.ListAsync(ct: default));
    }

    [Fact]
    public async Task TheRegulatorAndTheDisclosingSideSeeEveryRecipientUnacknowledgedFirstThenByDeadline()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        await w.MailParty.Disclosures.AcknowledgeAsync(w.PhishingDisclosure!.Id, default);
        var phishing = w.PhishingDisclosure.Id;
        var bio = w.BioDisclosure!.Id;

        var regulator = (await w.Regulator.Disclosures.ListAsync(ct: default)).Where(i => i.CaseId == w.CaseId).ToList();

        // The phishing disclosure came first, so its acknowledgement is due first; Mail acknowledged, so it comes last.
        var expected = new List<(string, string)> { (phishing, w.RegulatorOrg) };
        expected.AddRange(new[] { w.RegulatorOrg, w.BioOrg }.Order(StringComparer.Ordinal).Select(r => (bio, r)));
        expected.Add((phishing, w.MailOrg));
        Assert.Equal(expected, Keys(regulator));
        Assert.Equal(new[] { false, false, false, true }, regulator.Select(i => i.Acknowledged));
        Assert.True(regulator[0].Deadline < regulator[1].Deadline);
        Assert.Equal(regulator[0].DisclosedAt + TimeSpan.FromDays(7), regulator[0].AcknowledgeBy);
        Assert.Equal(Keys(regulator), Keys(await w.Developer.Disclosures.ListAsync(ct: default)));
        Assert.Equal(Keys(regulator), Keys(await w.Evaluator.Disclosures.ListAsync(ct: default)));

        var unacknowledged = await w.Regulator.Disclosures.ListAsync(unacknowledged: true, ct: default);
        Assert.Equal(Keys(regulator.Take(3)), Keys(unacknowledged.Where(i => i.CaseId == w.CaseId)));
    }

    [Fact]
    public async Task AMitigationDeadlineIsTheAcknowledgedRecipientsDeadline()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.DeadlineSet);
        await w.MailParty.Disclosures.AcknowledgeAsync(w.PhishingDisclosure!.Id, default);

        var mail = Assert.Single(await w.MailParty.Disclosures.ListAsync(ct: default));

        Assert.True(mail.Acknowledged);
        var due = (await w.CaseAsync()).Mitigations.Single(m => m.Id == w.PhishingMitigation.Id).DueAt;
        Assert.NotNull(due);
        Assert.Equal(due, mail.MitigationDue);
        Assert.Equal(mail.MitigationDue, mail.Deadline);
    }

    [Fact]
    public async Task TheInboxIsPagedWithItsTotalAndBadParametersAreRefusedByName()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var all = await w.Regulator.Disclosures.ListAsync(ct: default);
        var token = w.Tokens[w.Regulator];

        var walked = new List<InboxItemDto>();
        for (var offset = 0; offset < all.Count; offset += 3)
        {
            var (status, body, headers) = await GetRaw($"/api/disclosures?limit=3&offset={offset}", token);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(all.Count.ToString(CultureInfo.InvariantCulture), headers.GetValues("X-Total-Count").Single());
            walked.AddRange(JsonSerializer.Deserialize<List<InboxItemDto>>(body, EmbargoClient.Json)!);
        }
        Assert.Equal(Keys(all), Keys(walked));

        var badLimit = await GetRaw("/api/disclosures?limit=0", token);
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.Status);
        Assert.Equal("limit", JsonDocument.Parse(badLimit.Body).RootElement.GetProperty("member").GetString());
        var badFilter = await GetRaw("/api/disclosures?unacknowledged=maybe", token);
        Assert.Equal(HttpStatusCode.BadRequest, badFilter.Status);
        Assert.Equal("unacknowledged", JsonDocument.Parse(badFilter.Body).RootElement.GetProperty("member").GetString());
    }

    private async Task<(HttpStatusCode Status, string Body, HttpResponseHeaders Headers)> GetRaw(string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Host.Url, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Host.Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers);
    }

    [Fact]
    public async Task AnUnacknowledgedDisclosureIsRemindedOnceOnTheLedgerAfterSevenDaysAndTheRegulatorSeesIt()
    {
        // Its own server: the clock moves on by days.
        await using var host = await EmbargoHost.StartAsync();
        using var w = await ProtocolWorld.CreateAsync(host);
        await w.DriveToAsync(Milestone.Disclosed);
        await w.MailParty.Disclosures.AcknowledgeAsync(w.PhishingDisclosure!.Id, default);

        // Within the window: nobody is reminded.
        host.Time.Advance(TimeSpan.FromDays(6));
        var early = await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.Empty(early.Reminded);
        Assert.DoesNotContain(await LeavesAsync(host), l => l.Type == "disclosure.reminded");

        // Past it: each recipient that has not acknowledged is reminded (by this sweep or the background one), once.
        host.Time.Advance(TimeSpan.FromDays(2));
        await w.Regulator.Mitigations.EscalateAsync(default);
        await w.Regulator.Mitigations.EscalateAsync(default);
        var reminders = (await LeavesAsync(host)).Where(l => l.Type == "disclosure.reminded")
            .Select(l => (l.Data["disclosure"]!.GetValue<string>(), l.Data["organisation"]!.GetValue<string>())).Order().ToList();
        var expected = new[] { (w.PhishingDisclosure.Id, w.RegulatorOrg), (w.BioDisclosure!.Id, w.RegulatorOrg), (w.BioDisclosure.Id, w.BioOrg) }.Order().ToList();
        Assert.Equal(expected, reminders);

        var desk = await w.Regulator.Disclosures.ListAsync(unacknowledged: true, ct: default);
        Assert.Equal(expected, Keys(desk).Order().ToList());
        Assert.All(desk, i => Assert.NotNull(i.RemindedAt));
        Assert.Null((await w.MailParty.Disclosures.ListAsync(ct: default)).Single().RemindedAt);
    }

    [Fact]
    public async Task CliListPrintsTheCallersDisclosuresAsATable()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[w.MailParty]);
        try
        {
            var run = await CliRunner.RunAsync("disclosure", "list", "--server", Host.Url.ToString(), "--token-env", variable);

            Assert.True(run.Code == CliApp.Ok, run.Error);
            Assert.Contains(w.PhishingDisclosure!.Id, run.Out);
            Assert.DoesNotContain(w.BioDisclosure!.Id, run.Out);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
