using System.CommandLine;
using Spectre.Console;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Protocol;
using Embargo.Protocol.Disclosures;
using Embargo.Weights;
using static Embargo.Cli.Infrastructure.Common;

namespace Embargo.Cli.Commands;

/// <summary>`embargo incident report|list|show|open|triage`: incidents against released versions, detail sealed here to the regulators.</summary>
public static class IncidentCommands
{
    public static Command Create()
    {
        var version = new Argument<string>("model-version-id");
        var capability = Required("--capability", "the capability the incident is about (e.g. cyber-phishing)");
        var summary = Required("--summary", "one public line: what happened, without reproduction detail");
        var detail = Required("--detail-file", "a file of private detail, sealed here to every X25519 key of the regulators of the version's cases (the server sees only ciphertext)");
        var versionFilter = new Option<string>("--version") { Description = "only this model version's incidents" };
        var id = new Argument<string>("incident-id");
        var accept = new Option<bool>("--accept") { Description = "accept: every issued certificate of the version is flagged and the gateway stops serving it" };
        var reject = new Option<bool>("--reject") { Description = "reject: nothing else changes" };
        var reason = Required("--reason", "why (logged)");
        var identity = Required("--identity", "your X25519 private key file (`embargo weights keygen`)");
        return Group("incident", "incidents against released versions: report (detail sealed to the regulator), list, triage",
            Verb("report", "report an incident against a released version (an affected party or an evaluator of its cases)", [version, capability, summary, detail],
                async (r, c, ct) =>
                {
                    var versionId = r.GetValue(version)!;
                    var bytes = ReadDetail(r.GetValue(detail)!);
                    return await c.Incidents.ReportAsync(new ReportIncidentRequest
                    {
                        ModelVersionId = versionId, Capability = r.GetValue(capability)!, Summary = r.GetValue(summary)!,
                        Sealed = await SealAsync(c, versionId, bytes, ct),
                    }, ct);
                }),
            Verb("list", "incidents (public: capability, summary, status)", [versionFilter],
                async (r, c, ct) =>
                {
                    var incidents = await c.Incidents.ListAsync(r.GetValue(versionFilter), ct);
                    if (r.GetValue(Json))
                    {
                        return incidents;
                    }
                    // Ids stay whole on one line (they go into `incident triage`); the summary wraps.
                    var table = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded)
                        .AddColumn(new Spectre.Console.TableColumn("incident").NoWrap())
                        .AddColumn(new Spectre.Console.TableColumn("version").NoWrap())
                        .AddColumn(new Spectre.Console.TableColumn("capability").NoWrap())
                        .AddColumn("status").AddColumn("summary");
                    foreach (var i in incidents)
                    {
                        table.AddRow(new[] { i.Id, i.ModelVersionId, i.Capability, i.Status, i.Summary }
                            .Select(text => Spectre.Console.Markup.Escape(Output.Safe(text))).ToArray());
                    }
                    Spectre.Console.AnsiConsole.Write(table);
                    return Output.AlreadyPrinted.Instance;
                }),
            Verb("show", "one incident", [id],
                async (r, c, ct) => await c.Incidents.GetAsync(r.GetValue(id)!, ct)),
            Verb("open", "open the incident's detail sealed to your key (a regulator of the version's cases)", [id, identity],
                async (r, c, ct) =>
                {
                    var incident = await c.Incidents.GetAsync(r.GetValue(id)!, ct);
                    if (incident.Sealed is not { } envelope)
                    {
                        throw new CommandFailedException($"incident {incident.Id} has no detail sealed to you");
                    }
                    var key = KeyFiles.ReadPrivate(r.GetValue(identity)!);
                    if (!key.IsOk)
                    {
                        throw new UserInputException(key.Error!.ToString());
                    }
                    var opened = SealedEnvelope.Open(envelope.Ciphertext, key.Value, IncidentRules.SealingContext(incident.ModelVersionId, envelope.OrganisationId));
                    if (!opened.IsOk)
                    {
                        throw new CommandFailedException(opened.Error!.Message);
                    }
                    Console.Out.Write(System.Text.Encoding.UTF8.GetString(opened.Value));
                    return Output.AlreadyPrinted.Instance;
                }),
            Verb("triage", "accept or reject a reported incident, with a reason (a regulator of the version's cases)", [id, accept, reject, reason],
                async (r, c, ct) =>
                {
                    if (r.GetValue(accept) == r.GetValue(reject))
                    {
                        throw new UserInputException("give exactly one of --accept and --reject");
                    }
                    return await c.Incidents.TriageAsync(r.GetValue(id)!, new TriageIncidentRequest
                    {
                        Decision = r.GetValue(accept) ? "accept" : "reject", Reason = r.GetValue(reason)!,
                    }, ct);
                }));
    }

    private static byte[] ReadDetail(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            return bytes.Length > 0 ? bytes : throw new UserInputException($"--detail-file: '{path}' is empty");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"--detail-file: cannot read '{path}': {e.Message}");
        }
    }

    /// <summary>Seals the detail to every key holder of every regulator of the version's cases (one envelope each).</summary>
    public static async Task<IReadOnlyList<SealedDetailDto>> SealAsync(EmbargoClient client, string versionId, byte[] detail, CancellationToken ct)
    {
        var recipients = await client.Incidents.RecipientsAsync(versionId, ct);
        var missing = recipients.Where(r => r.PublicKey is null).Select(r => r.OrganisationId).ToList();
        if (missing.Count > 0)
        {
            throw new UserInputException($"no X25519 key registered for regulator organisation(s) {string.Join(", ", missing)}: the detail cannot be sealed to them");
        }
        return recipients.Select(r => new SealedDetailDto
        {
            OrganisationId = r.OrganisationId, PrincipalId = r.PrincipalId,
            Ciphertext = SealedEnvelope.Seal(detail, Convert.FromBase64String(r.PublicKey!), IncidentRules.SealingContext(versionId, r.OrganisationId)),
        }).ToList();
    }
}
