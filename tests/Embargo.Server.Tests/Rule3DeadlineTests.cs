using System.Net;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 3: mitigation deadlines come only from the case's regulator; overdue mitigations escalate; fines follow escalation.</summary>
public sealed class Rule3DeadlineTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<MitigationDto> SetDeadline(EmbargoClient who, string mitigation, DateTimeOffset due) =>
        who.Mitigations.SetDeadlineAsync(mitigation, new SetDeadlineRequest { DueAt = due }, default);

    private static Task<MitigationDto> Fine(EmbargoClient who, string mitigation) =>
        who.Mitigations.FineAsync(mitigation, new FineRequest { Amount = 25_000m, Currency = "EUR", Reason = "overdue mitigation" }, default);

    [Fact]
    public async Task DeveloperCannotSetADeadline()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.Developer, w.PhishingMitigation.Id, Host.Time.GetUtcNow().AddDays(3)));
    }

    [Fact]
    public async Task AffectedPartyEvaluatorAndAnotherRegulatorCannotSetADeadline()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var due = Host.Time.GetUtcNow().AddDays(90);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.MailParty, w.PhishingMitigation.Id, due));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.Evaluator, w.PhishingMitigation.Id, due));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.Certifier, w.PhishingMitigation.Id, due));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.OtherRegulator, w.PhishingMitigation.Id, due));
        Assert.Null((await w.CaseAsync()).Mitigations.Single().DueAt);
    }

    [Fact]
    public async Task OnlyTheCasesRegulatorSetsAndShortensADeadline()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var due = Host.Time.GetUtcNow().AddDays(30);
        var size = await LedgerSizeAsync(Host);
        var set = await SetDeadline(w.Regulator, w.PhishingMitigation.Id, due);
        Assert.Equal(due, set.DueAt);
        Assert.Equal("deadline.set", Assert.Single(await LeavesAsync(Host, size)).Type);

        // Nobody else may shorten it afterwards, not even by a day.
        var shorter = due.AddDays(-10);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.Developer, w.PhishingMitigation.Id, shorter));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.MailParty, w.PhishingMitigation.Id, due.AddDays(100)));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => SetDeadline(w.OtherRegulator, w.PhishingMitigation.Id, shorter));

        size = await LedgerSizeAsync(Host);
        var changed = await SetDeadline(w.Regulator, w.PhishingMitigation.Id, shorter);
        Assert.Equal(shorter, changed.DueAt);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("deadline.changed", leaf.Type);
        Assert.Equal(w.PhishingMitigation.Id, leaf.Data["mitigation"]!.GetValue<string>());
    }

    [Fact]
    public async Task OverdueMitigationEscalatesOnlyAfterItsDeadlineAndFinesFollowEscalation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.DeadlineSet);
        var id = w.PhishingMitigation.Id;

        // Before the deadline: nothing escalates, and a fine is refused.
        Host.Time.Advance(TimeSpan.FromDays(29));
        var report = await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.DoesNotContain(report.Escalated, m => m.Id == id);
        Assert.Equal(0, (await w.CaseAsync()).Mitigations.Single(m => m.Id == id).Escalations);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-3", () => Fine(w.Regulator, id));

        // Past the deadline: it escalates (by this request or the background service, exactly once) and is logged.
        Host.Time.Advance(TimeSpan.FromDays(2));
        await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.Equal(1, (await w.CaseAsync()).Mitigations.Single(m => m.Id == id).Escalations);
        await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.Equal(1, (await w.CaseAsync()).Mitigations.Single(m => m.Id == id).Escalations);
        var escalated = (await LeavesAsync(Host)).Where(l => l.Type == "mitigation.escalated" && l.Data["mitigation"]!.GetValue<string>() == id).ToList();
        Assert.Single(escalated);
        Assert.Equal("rule-3", escalated[0].Data["rule"]!.GetValue<string>());

        // Only the case's regulator fines; then the fine is recorded in the ledger.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => Fine(w.OtherRegulator, id));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-3", () => Fine(w.Developer, id));
        var size = await LedgerSizeAsync(Host);
        await Fine(w.Regulator, id);
        var fine = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("fine.recorded", fine.Type);
        Assert.Equal(w.MailOrg, fine.Data["organisation"]!.GetValue<string>());
        Assert.Equal("EUR", fine.Data["currency"]!.GetValue<string>());
    }

    [Fact]
    public async Task OnlyARegulatorCanRunEscalation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.Developer.Mitigations.EscalateAsync(default));
    }

    [Fact]
    public async Task ADeadlineInThePastIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => SetDeadline(w.Regulator, w.PhishingMitigation.Id, Host.Time.GetUtcNow().AddDays(-1)));
    }

    [Fact]
    public async Task AnExtendedDeadlineThatPassesEscalatesAgain()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.DeadlineSet);
        var id = w.PhishingMitigation.Id;
        Host.Time.Advance(TimeSpan.FromDays(31));
        await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.Equal(1, (await w.CaseAsync()).Mitigations.Single(m => m.Id == id).Escalations);

        // The regulator grants more time; the party misses that deadline too. Escalation is "once per deadline passed".
        await SetDeadline(w.Regulator, id, Host.Time.GetUtcNow().AddDays(10));
        await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.Equal(1, (await w.CaseAsync()).Mitigations.Single(m => m.Id == id).Escalations);
        Host.Time.Advance(TimeSpan.FromDays(11));
        await w.Regulator.Mitigations.EscalateAsync(default);
        Assert.Equal(2, (await w.CaseAsync()).Mitigations.Single(m => m.Id == id).Escalations);
    }

    [Fact]
    public async Task ADeadlineGivenWithATimeZoneOffsetIsAccepted()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var utc = Host.Time.GetUtcNow().AddDays(30);
        var due = utc.ToOffset(TimeSpan.FromHours(2));
        var set = await SetDeadline(w.Regulator, w.PhishingMitigation.Id, due);
        Assert.Equal(utc, set.DueAt);
        Assert.Equal(utc, (await w.CaseAsync()).Mitigations.Single().DueAt);
    }
}
