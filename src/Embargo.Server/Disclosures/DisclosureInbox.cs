using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Protocol;
using Embargo.Protocol.Disclosures;
using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Disclosures;

/// <summary>
/// The disclosure inbox (<c>GET /api/disclosures</c>): one item per disclosure and recipient organisation, shown to whom
/// <see cref="Inbox.Sees"/> allows, unacknowledged first, then by deadline; and the reminders of recipients that leave a
/// disclosure unacknowledged past the acknowledgement window (run with the escalation sweep, recorded on the ledger).
/// </summary>
public static class DisclosureInbox
{
    private sealed record Row(
        string DisclosureId, string OrganisationId, DateTimeOffset? AcknowledgedAt, DateTimeOffset? RemindedAt, string FindingId, string Title, DateTimeOffset DisclosedAt,
        string CaseId, string Capability, string DeveloperOrganisationId, string RegulatorOrganisationId, string EvaluatorOrganisationsJson);

    public static async Task<Results<Ok<List<InboxItemDto>>, ProblemHttpResult>> List(
        HttpContext http, EmbargoDb db, IOptions<EmbargoOptions> options, string? unacknowledged, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        bool onlyUnacknowledged = false;
        if (unacknowledged is not null && !bool.TryParse(unacknowledged, out onlyUnacknowledged))
        {
            var problem = ApiResults.Problem(ProtocolError.Validation("unacknowledged: true or false"));
            problem.ProblemDetails.Extensions["member"] = "unacknowledged";
            return problem;
        }
        var caller = Caller.From(http.User);
        var query = from r in db.DisclosureRecipients.AsNoTracking()
                    join d in db.Disclosures.AsNoTracking() on r.DisclosureId equals d.Id
                    join f in db.Findings.AsNoTracking() on d.FindingId equals f.Id
                    join c in db.Cases.AsNoTracking() on f.CaseId equals c.Id
                    select new { r, d, f, c };
        // Narrowed in the store by the caller's role; Inbox.Sees below is the rule.
        var org = caller.OrganisationId;
        query = caller.Role switch
        {
            Role.Admin => query,
            Role.AffectedParty => query.Where(x => x.r.OrganisationId == org),
            Role.Regulator => query.Where(x => x.c.RegulatorOrganisationId == org),
            Role.Developer => query.Where(x => x.c.DeveloperOrganisationId == org),
            Role.Evaluator => query.Where(x => x.c.EvaluatorOrganisationsJson.Contains(org)),
            _ => query.Where(x => false),
        };
        if (onlyUnacknowledged)
        {
            query = query.Where(x => x.r.AcknowledgedAt == null);
        }
        var rows = (await query.Select(x => new Row(
                x.r.DisclosureId, x.r.OrganisationId, x.r.AcknowledgedAt, x.r.RemindedAt, x.d.FindingId, x.d.AdvisoryTitle, x.d.CreatedAt,
                x.f.CaseId, x.f.Capability, x.c.DeveloperOrganisationId, x.c.RegulatorOrganisationId, x.c.EvaluatorOrganisationsJson)).ToListAsync(ct))
            .Where(x => Inbox.Sees(caller.Actor, new InboxSubject(x.OrganisationId, x.DeveloperOrganisationId,
                JsonSerializer.Deserialize<List<string>>(x.EvaluatorOrganisationsJson) ?? [], x.RegulatorOrganisationId)))
            .ToList();
        // One item per disclosure and organisation (an organisation has one envelope per key holder; it acknowledges once).
        var window = options.Value.AcknowledgementWindow;
        var findingIds = rows.Select(r => r.FindingId).Distinct().ToList();
        var due = (await db.Mitigations.AsNoTracking().Where(m => findingIds.Contains(m.FindingId) && m.Status != MitigationStatus.Verified && m.DueAt != null)
                .Select(m => new { m.FindingId, m.PartyOrganisationId, m.DueAt }).ToListAsync(ct))
            .GroupBy(m => (m.FindingId, m.PartyOrganisationId)).ToDictionary(g => g.Key, g => g.Min(m => m.DueAt));
        var orgIds = rows.Select(r => r.OrganisationId).Distinct().ToList();
        var names = await db.Organisations.AsNoTracking().Where(o => orgIds.Contains(o.Id)).ToDictionaryAsync(o => o.Id, o => o.Name, ct);
        var items = rows.GroupBy(r => (r.DisclosureId, r.OrganisationId)).Select(g =>
        {
            var first = g.First();
            var acknowledgedAt = g.Select(r => r.AcknowledgedAt).Where(a => a is not null).DefaultIfEmpty(null).Min();
            var mitigationDue = due.GetValueOrDefault((first.FindingId, first.OrganisationId));
            var acknowledgeBy = first.DisclosedAt + window;
            return new InboxItemDto
            {
                DisclosureId = first.DisclosureId, Recipient = first.OrganisationId, RecipientName = names.GetValueOrDefault(first.OrganisationId, first.OrganisationId),
                Acknowledged = acknowledgedAt is not null, AcknowledgedAt = acknowledgedAt, AcknowledgeBy = acknowledgeBy, MitigationDue = mitigationDue,
                Deadline = acknowledgedAt is null ? (mitigationDue is { } m && m < acknowledgeBy ? m : acknowledgeBy) : mitigationDue,
                RemindedAt = g.Select(r => r.RemindedAt).Where(a => a is not null).DefaultIfEmpty(null).Max(),
                CaseId = first.CaseId, FindingId = first.FindingId, Capability = first.Capability, Title = first.Title, DisclosedAt = first.DisclosedAt,
            };
        })
        // Unacknowledged first, then the nearest deadline (none last), then the oldest disclosure; ids break ties.
        .OrderBy(i => i.Acknowledged).ThenBy(i => i.Deadline is null).ThenBy(i => i.Deadline).ThenBy(i => i.DisclosedAt)
        .ThenBy(i => i.DisclosureId, StringComparer.Ordinal).ThenBy(i => i.Recipient, StringComparer.Ordinal)
        .ToList();
        return TypedResults.Ok(Paging.Slice(http, items, page));
    }

    /// <summary>
    /// Reminds every recipient organisation that has not acknowledged a disclosure within <paramref name="window"/>: once
    /// each, recorded on the ledger (<c>disclosure.reminded</c>) and shown in the inbox (<c>remindedAt</c>).
    /// </summary>
    public static async Task<List<ReminderDto>> RemindAsync(UnitOfWork uow, TimeSpan window, CancellationToken ct)
    {
        var open = await (from r in uow.Db.DisclosureRecipients
                          join d in uow.Db.Disclosures on r.DisclosureId equals d.Id
                          where r.AcknowledgedAt == null && r.RemindedAt == null
                          select new { Recipient = r, d.CreatedAt, d.FindingId }).ToListAsync(ct);
        var reminded = new List<ReminderDto>();
        foreach (var group in open.Where(x => Inbox.ReminderDue(x.CreatedAt, null, null, window, uow.Now))
                     .GroupBy(x => (x.Recipient.DisclosureId, x.Recipient.OrganisationId))
                     .OrderBy(g => g.Key.DisclosureId, StringComparer.Ordinal).ThenBy(g => g.Key.OrganisationId, StringComparer.Ordinal))
        {
            foreach (var x in group)
            {
                x.Recipient.RemindedAt = uow.Now;
            }
            var first = group.First();
            uow.Append("disclosure.reminded", new JsonObject
            {
                ["disclosure"] = group.Key.DisclosureId, ["finding"] = first.FindingId, ["organisation"] = group.Key.OrganisationId,
                ["disclosedAt"] = first.CreatedAt.UtcDateTime.ToString("O"), ["rule"] = "rule-2",
            });
            reminded.Add(new ReminderDto { DisclosureId = group.Key.DisclosureId, OrganisationId = group.Key.OrganisationId });
        }
        return reminded;
    }
}
