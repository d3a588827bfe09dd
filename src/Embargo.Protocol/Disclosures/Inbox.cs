namespace Embargo.Protocol.Disclosures;

/// <summary>One recipient organisation of one disclosure, with the parties of the disclosure's case.</summary>
public sealed record InboxSubject(string Recipient, string DeveloperOrganisation, IReadOnlyCollection<string> EvaluatorOrganisations, string RegulatorOrganisation);

/// <summary>
/// Who sees which disclosures in <c>GET /api/disclosures</c> (one item per disclosure and recipient organisation):
/// an affected party only the items addressed to its own organisation; the case's regulator every item of its cases
/// (it receives every disclosure, and sees who has not acknowledged); the disclosing side (the case's developer, its
/// assigned evaluators) the items of the disclosures on their cases; the admin all. Nobody else: not another
/// regulator, not another party, not a certifier (it reads the case when it certifies).
/// </summary>
public static class Inbox
{
    /// <summary>How long a recipient has to acknowledge before it is reminded (and the regulator sees it as overdue).</summary>
    public static readonly TimeSpan DefaultAcknowledgementWindow = TimeSpan.FromDays(7);

    public static bool Sees(Actor? actor, InboxSubject item) => actor?.Role switch
    {
        null => false,
        Role.Admin => true,
        Role.AffectedParty => actor.Organisation == item.Recipient,
        Role.Regulator => actor.Organisation == item.RegulatorOrganisation,
        Role.Developer => actor.Organisation == item.DeveloperOrganisation,
        Role.Evaluator => item.EvaluatorOrganisations.Contains(actor.Organisation),
        _ => false,
    };

    /// <summary>An unacknowledged recipient is reminded once its window has passed since the disclosure.</summary>
    public static bool ReminderDue(DateTimeOffset disclosedAt, DateTimeOffset? acknowledgedAt, DateTimeOffset? remindedAt, TimeSpan window, DateTimeOffset now) =>
        acknowledgedAt is null && remindedAt is null && now >= disclosedAt + window;
}
