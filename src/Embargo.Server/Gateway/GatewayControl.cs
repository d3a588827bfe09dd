using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Evaluation.Running;
using Embargo.Gateway;
using Embargo.Protocol;
using Embargo.Server.Incidents;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Gateway;

/// <summary>
/// What the server's own gateway vouches for about a version (the safety case's <c>control</c> facts): the digest of the
/// screen configuration it enforces for the version, and the evaluation runs the server itself checked went through it.
/// </summary>
public static class GatewayControl
{
    /// <summary>One screen as the configuration digest covers it (the version's screens sorted by name, ordinal).</summary>
    private sealed record DigestedScreen(string Name, ScreenRules Rules);

    /// <summary>
    /// sha256 over the canonical JSON of the screens the server's gateway enforces for the version: <c>[{name, rules: {applyTo,
    /// keywords, regex, maxMatch, classifier}}]</c> sorted by name (screen names are unique per version), as <c>sha256:HEX</c>;
    /// null when the version has no screens. <paramref name="adding"/>: screens of this unit of work not saved yet.
    /// Certification stores it on the certificate (ControlScreensDigest); a later change of the screens flags the certificate.
    /// </summary>
    public static async Task<string?> ScreensDigestAsync(EmbargoDb db, string versionId, CancellationToken ct, IReadOnlyList<GatewayScreenEntity>? adding = null)
    {
        var screens = await db.GatewayScreens.AsNoTracking().Where(s => s.ModelVersionId == versionId).ToListAsync(ct);
        screens.AddRange((adding ?? []).Where(a => a.ModelVersionId == versionId && screens.All(s => s.Id != a.Id)));
        if (screens.Count == 0)
        {
            return null;
        }
        var digested = screens.OrderBy(s => s.Name, StringComparer.Ordinal)
            .Select(s => new DigestedScreen(s.Name, JsonSerializer.Deserialize<ScreenRules>(s.RulesJson, CanonicalJson.Options)!))
            .ToList();
        return Sha256Digest.Of(CanonicalJson.Serialize(digested)).ToString();
    }

    /// <summary>The version's control facts: the screens digest now, and every evaluation of its cases the server recorded as run through its gateway.</summary>
    public static async Task<GatewayControlFacts> LoadAsync(EmbargoDb db, string versionId, CancellationToken ct)
    {
        var cases = await db.Cases.AsNoTracking().Where(c => c.ModelVersionId == versionId).Select(c => c.Id).ToListAsync(ct);
        var runs = await db.Evaluations.AsNoTracking().Where(e => cases.Contains(e.CaseId) && e.ThroughGatewayScreensDigest != null)
            .Select(e => new { e.Id, e.ThroughGatewayScreensDigest }).ToListAsync(ct);
        return new GatewayControlFacts
        {
            ScreensDigest = await ScreensDigestAsync(db, versionId, ct),
            RunsThroughGateway = runs.ToDictionary(r => r.Id, r => r.ThroughGatewayScreensDigest!, StringComparer.Ordinal),
        };
    }

    /// <summary>
    /// The text the gateway hashes as a request's prompt (every message's content, one per line) for a sample's first model call:
    /// the log's messages before the first assistant message.
    /// </summary>
    public static string FirstPromptText(SampleRecord sample)
    {
        var sb = new StringBuilder();
        foreach (var m in sample.Messages.TakeWhile(m => m.Role != "assistant"))
        {
            sb.Append(m.Content).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Audit decisions of requests that reached the screens under a valid key and grant (the run went through the gateway).</summary>
    private static readonly HashSet<string> Screened = [Decisions.Allowed, Decisions.ContentFilter, Decisions.ContentBlocked];

    /// <summary>
    /// Before the ledger writer is entered (reading the audit must not hold up every other write): the sha256 of the cited log
    /// when its run is shown to have gone through the server's gateway for the case's version (see <see cref="ThroughGatewayAsync"/>),
    /// else null. The screens digest in force is read at recording time, inside the writer.
    /// </summary>
    public static async Task<string?> AuditedLogAsync(HttpContext http, string caseId, string? logSha256, string submitterOrganisation, CancellationToken ct)
    {
        if (logSha256 is null || http.RequestServices.GetService<ServerGateway>() is not { } gateway)
        {
            return null;
        }
        var sha = (logSha256.StartsWith("sha256:", StringComparison.Ordinal) ? logSha256["sha256:".Length..] : logSha256).ToLowerInvariant();
        var db = http.RequestServices.GetRequiredService<EmbargoDb>();
        var versionId = await db.Cases.AsNoTracking().Where(c => c.Id == caseId).Select(c => c.ModelVersionId).FirstOrDefaultAsync(ct);
        var content = await db.EvaluationLogs.AsNoTracking().Where(l => l.Sha256 == sha && l.CaseId == caseId).Select(l => l.Content).FirstOrDefaultAsync(ct);
        if (versionId is null || content is null || !LogEvidence.TryRead(content, out var log, out _))
        {
            return null;
        }
        return await ThroughGatewayAsync(gateway, db, versionId, submitterOrganisation, log, ct) is not null ? sha : null;
    }

    /// <summary>
    /// Whether the run in <paramref name="log"/> went through the server's gateway for <paramref name="versionId"/>, checked, not
    /// claimed: the log's subject model is the version (the gateway's model name), and the prompt sha256 of every subject sample's
    /// first model call is on a line of the gateway's own audit for that version, made under a grant of a principal of the
    /// submitting organisation, that reached the screens (allowed, content_filter or content_blocked). Answers the screens digest
    /// in force (the empty string when the version has no screens), or null when the run is not (shown to be) through the gateway.
    /// </summary>
    public static async Task<string?> ThroughGatewayAsync(ServerGateway gateway, EmbargoDb db, string versionId, string submitterOrganisation, EvalLog log, CancellationToken ct)
    {
        var subject = log.Samples.Where(s => s.Condition == "subject").ToList();
        if (log.Subject.Model != versionId || subject.Count == 0)
        {
            return null;
        }
        var wanted = subject.Select(s => Sha256Hex(FirstPromptText(s))).ToHashSet(StringComparer.Ordinal);
        var grantees = (await db.Principals.AsNoTracking().Where(p => p.OrganisationId == submitterOrganisation).Select(p => p.Id).ToListAsync(ct))
            .ToHashSet(StringComparer.Ordinal);
        await gateway.Audit.FlushAsync();
        var found = new HashSet<string>(StringComparer.Ordinal);
        if (File.Exists(gateway.AuditFile))
        {
            await using var stream = new FileStream(gateway.AuditFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            while (await reader.ReadLineAsync(ct) is { } line && found.Count < wanted.Count)
            {
                if (line.Length == 0 || !line.Contains(versionId, StringComparison.Ordinal))
                {
                    continue;
                }
                var audited = Parse(line);
                if (audited is { } a && a.Model == versionId && a.Grantee is { } g && grantees.Contains(g) && Screened.Contains(a.Decision)
                    && a.PromptSha256 is { } p && wanted.Contains(p))
                {
                    found.Add(p);
                }
            }
        }
        return found.Count == wanted.Count ? await ScreensDigestAsync(db, versionId, ct) ?? "" : null;
    }

    private sealed record AuditedLine(string? Model, string? Grantee, string Decision, string? PromptSha256);

    private static AuditedLine? Parse(string line)
    {
        try
        {
            return JsonNode.Parse(line) is JsonObject o && o["decision"] is JsonValue d && d.TryGetValue<string>(out var decision)
                ? new AuditedLine(Text(o["model"]), Text(o["grantee"]), decision, Text(o["promptSha256"]))
                : null;
        }
        catch (JsonException)
        {
            // A torn last line (the process died mid-write) proves nothing.
            return null;
        }
    }

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>
    /// The gateway must keep enforcing what a certificate was issued for: after the version's screens changed, every issued
    /// certificate whose ControlScreensDigest is set and differs from <paramref name="newDigest"/> is flagged (one
    /// certificate.flagged-for-reevaluation leaf each), so the server's gateway stops serving it.
    /// </summary>
    public static Task<List<CertificateEntity>> FlagChangedScreensAsync(UnitOfWork uow, string versionId, string? newDigest, string change, CancellationToken ct) =>
        IncidentFlags.FlagAsync(uow, versionId, c => c.ControlScreensDigest is { } issuedFor && issuedFor != newDigest,
            $"the gateway's screens for model version {versionId} changed ({change}); the certificate was issued for another screen configuration",
            new JsonObject { ["screensDigest"] = newDigest, ["change"] = change }, ct);
}
