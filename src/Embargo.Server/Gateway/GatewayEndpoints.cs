using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Certificates;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Models;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Gateway;

/// <summary>
/// The server side of the structured-access gateway: certificate status for standalone gateways (anonymous), audit
/// batches onto the ledger, gateway keys for versions released at hosted/api, and screens attached to a version.
/// </summary>
public static class GatewayEndpoints
{
    public static RouteGroupBuilder MapGatewayAdministration(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/public/certificates/{statementSha256}/status", Status).WithTags("Gateway").AllowAnonymous();
        var group = app.MapGroup("/api").WithTags("Gateway").RequireAuthorization();
        group.MapPost("/gateway/audit-batches", AuditBatch);
        group.MapPost("/model-versions/{id}/gateway-grants", Grant);
        group.MapPost("/model-versions/{id}/gateway-screens", AttachScreen);
        group.MapGet("/model-versions/{id}/gateway-screens", Screens);
        return group;
    }

    /// <summary>The sha256 of each certificate's statement bytes (immutable once drafted), by certificate id.</summary>
    private static readonly ConcurrentDictionary<string, string> StatementHashes = new(StringComparer.Ordinal);

    private static string StatementSha256(CertificateEntity c) =>
        StatementHashes.GetOrAdd(c.Id, _ => Convert.ToHexStringLower(SHA256.HashData(Convert.FromBase64String(c.StatementBase64))));

    /// <summary>A certificate's standing as a gateway reads it: revoked, superseded (a later certificate issued for its case), flagged, or valid.</summary>
    public static string StandingOf(CertificateEntity c, IEnumerable<CertificateEntity> sameCase) =>
        c.Status == CertificateStatus.Revoked ? "revoked"
        : sameCase.Any(o => o.Id != c.Id && o.IssuedIndex > c.IssuedIndex) ? "superseded"
        : c.Status == CertificateStatus.Flagged ? "flagged"
        : c.Status == CertificateStatus.Issued ? "valid"
        : c.Status;

    private static async Task<Results<Ok<CertificateStatusDto>, ProblemHttpResult>> Status(string statementSha256, EmbargoDb db, CancellationToken ct)
    {
        if (statementSha256.Length != 64 || !statementSha256.All(char.IsAsciiHexDigit))
        {
            return ApiResults.Problem(ProtocolError.Validation("statementSha256: 64 hex digits, the sha256 of the certificate's DSSE payload"));
        }
        var wanted = statementSha256.ToLowerInvariant();
        var issued = await db.Certificates.AsNoTracking().Where(c => c.IssuedIndex != null).ToListAsync(ct);
        var match = issued.FirstOrDefault(c => StatementSha256(c) == wanted);
        if (match is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"a certificate whose statement has sha256 {wanted}"));
        }
        return TypedResults.Ok(new CertificateStatusDto { Certificate = match.Id, Status = StandingOf(match, issued.Where(c => c.CaseId == match.CaseId)) });
    }

    private static async Task<Results<Created<AuditBatchDto>, ProblemHttpResult>> AuditBatch(AuditBatchRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.Created(await writer.ExecuteAsync<AuditBatchDto>(caller, async (uow, token) =>
        {
            var hosting = await HostingOrganisationsAsync(uow.Db, caller.OrganisationId, token);
            if (Access.Decide(ProtocolAction.AppendGatewayAuditBatch, caller.Actor, new Subject { HostingOrganisations = hosting }) is { } refused)
            {
                return refused;
            }
            if (GatewayAudit.Check(request) is { } invalid)
            {
                return invalid;
            }
            return new AuditBatchDto { LedgerIndex = GatewayAudit.Append(uow, request) };
        }, ct), b => $"/api/ledger/leaves/{b.LedgerIndex}");
    }

    /// <summary>The caller's organisation when it develops a version released at hosted or api (the audit-batch row's relation).</summary>
    private static async Task<IReadOnlyCollection<string>> HostingOrganisationsAsync(EmbargoDb db, string organisation, CancellationToken ct)
    {
        string[] gated = [Tier.Hosted.Name(), Tier.Api.Name()];
        var hosts = await (from r in db.Releases.AsNoTracking()
                           join v in db.ModelVersions.AsNoTracking() on r.ModelVersionId equals v.Id
                           join m in db.Models.AsNoTracking() on v.ModelId equals m.Id
                           where m.OrganisationId == organisation && gated.Contains(r.Tier)
                           select m.OrganisationId).AnyAsync(ct);
        return hosts ? [organisation] : [];
    }

    /// <summary>The tier a key under evaluation access is served at: the widest gated tier, the one the control argument is made for.</summary>
    public const Tier EvaluationAccessTier = Tier.Api;

    private static async Task<Results<Ok<GatewayGrantDto>, ProblemHttpResult>> Grant(string id, GatewayGrantRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<GatewayGrantDto>(caller, async (uow, token) =>
        {
            var owned = await ModelOwnership.OwnedVersionAsync(uow, id, ProtocolAction.GrantGatewayAccess, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            if (GatewayRules.CheckLimits(request.RequestsPerMinute, request.TokensPerDay) is { } invalid)
            {
                return invalid;
            }
            var grantee = await uow.Db.Principals.AsNoTracking().FirstOrDefaultAsync(p => p.Id == request.PrincipalId, token);
            if (grantee is null)
            {
                return ProtocolError.NotFound($"principal {request.PrincipalId}");
            }
            var releases = await GatewayCatalog.ReleasesAsync(uow.Db, id, token);
            var served = GatewayRules.Served(id, releases);
            // Before release at hosted/api: evaluation access for the evaluators of an open case of the version, nobody else.
            var evaluation = !served.IsOk && releases.All(r => r.Tier is not (Tier.Hosted or Tier.Api));
            if (evaluation && GatewayRules.EvaluationAccess(id, releases, grantee.OrganisationId, await GatewayCatalog.OpenCaseEvaluatorsAsync(uow.Db, id, token)) is { } closed)
            {
                return closed;
            }
            if (!served.IsOk && !evaluation)
            {
                return served.Error!;
            }
            var tier = evaluation ? EvaluationAccessTier : served.Value.Tier;
            // A new grant for the same principal replaces the old one: its key stops working at once.
            var replaced = await uow.Db.GatewayGrants.Where(g => g.ModelVersionId == id && g.PrincipalId == grantee.Id).ToListAsync(token);
            uow.Db.GatewayGrants.RemoveRange(replaced);
            var key = GatewayKeys.New();
            var grant = new GatewayGrantEntity
            {
                Id = Ids.New("ggr"), ModelVersionId = id, PrincipalId = grantee.Id, KeySha256 = GatewayKeys.Hash(key),
                RequestsPerMinute = request.RequestsPerMinute, TokensPerDay = request.TokensPerDay, CreatedAt = uow.Now,
            };
            grant.LedgerIndex = uow.Append("gateway.granted", new JsonObject
            {
                ["grant"] = grant.Id, ["modelVersion"] = id, ["principal"] = grantee.Id, ["organisation"] = grantee.OrganisationId,
                ["tier"] = tier.Name(), ["certificate"] = evaluation ? null : served.Value.CertificateId, ["access"] = evaluation ? "evaluation" : "release",
                ["requestsPerMinute"] = grant.RequestsPerMinute, ["tokensPerDay"] = grant.TokensPerDay,
                ["replaces"] = new JsonArray(replaced.Select(r => (JsonNode?)JsonValue.Create(r.Id)).ToArray()),
            });
            uow.Db.GatewayGrants.Add(grant);
            return new GatewayGrantDto
            {
                Id = grant.Id, ModelVersionId = id, PrincipalId = grantee.Id, Tier = tier.Name(), RequestsPerMinute = grant.RequestsPerMinute,
                TokensPerDay = grant.TokensPerDay, Key = key, Model = id, LedgerIndex = grant.LedgerIndex,
            };
        }, ct));
    }

    private static async Task<Results<Ok<GatewayScreenDto>, ProblemHttpResult>> AttachScreen(string id, GatewayScreenRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<GatewayScreenDto>(caller, async (uow, token) =>
        {
            var owned = await ModelOwnership.OwnedVersionAsync(uow, id, ProtocolAction.AttachGatewayScreen, token);
            if (!owned.IsOk)
            {
                return owned.Error!;
            }
            var spec = ToSpec(request);
            if (GatewayRules.CheckScreen(spec) is { } invalid)
            {
                return invalid;
            }
            if (request.MitigationId is { } mitigationId)
            {
                var onVersion = await (from m in uow.Db.Mitigations.AsNoTracking()
                                       join f in uow.Db.Findings.AsNoTracking() on m.FindingId equals f.Id
                                       join c in uow.Db.Cases.AsNoTracking() on f.CaseId equals c.Id
                                       where m.Id == mitigationId && c.ModelVersionId == id
                                       select m.Id).AnyAsync(token);
                if (!onVersion)
                {
                    return ProtocolError.Validation($"mitigationId: {mitigationId} is not a mitigation of a finding on model version {id}");
                }
            }
            if (await uow.Db.GatewayScreens.AnyAsync(s => s.ModelVersionId == id && s.Name == request.Name, token))
            {
                return ProtocolError.Validation($"name: model version {id} already has a screen named {request.Name}; screens are only added, never replaced");
            }
            var rules = CanonicalJson.Serialize(ScreenRules.From(spec));
            var screen = new GatewayScreenEntity
            {
                Id = Ids.New("scr"), ModelVersionId = id, Name = spec.Name, RulesJson = Encoding.UTF8.GetString(rules),
                RulesSha256 = Convert.ToHexStringLower(SHA256.HashData(rules)), MitigationId = request.MitigationId, AttachedBy = caller.PrincipalId, CreatedAt = uow.Now,
            };
            // The rules themselves stay off the public ledger (they may describe the capability): only their sha256.
            screen.LedgerIndex = uow.Append("gateway.screen-attached", new JsonObject
            {
                ["screen"] = screen.Id, ["modelVersion"] = id, ["name"] = screen.Name,
                ["applyTo"] = new JsonArray(spec.ApplyTo.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()),
                ["kind"] = spec.Classifier is null ? "rules" : spec.Keywords.Count + spec.Regex.Count == 0 ? "classifier" : "rules+classifier",
                ["rulesSha256"] = screen.RulesSha256, ["mitigation"] = screen.MitigationId,
            });
            uow.Db.GatewayScreens.Add(screen);
            // The gateway must keep enforcing what a certificate was issued for: a changed configuration flags it.
            await GatewayControl.FlagChangedScreensAsync(uow, id, await GatewayControl.ScreensDigestAsync(uow.Db, id, token, [screen]),
                $"screen {screen.Name} attached", token);
            return ToDto(screen);
        }, ct));
    }

    private static async Task<Results<Ok<List<GatewayScreenDto>>, ProblemHttpResult>> Screens(string id, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        if (await Cases.CaseSubjects.ForVersionAsync(db, id, ct) is not { } found)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"model version {id}"));
        }
        if (Access.Decide(ProtocolAction.ReadVersion, Caller.From(http.User).Actor, found.Subject) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        var screens = await db.GatewayScreens.AsNoTracking().Where(s => s.ModelVersionId == id).OrderBy(s => s.LedgerIndex).ToListAsync(ct);
        return TypedResults.Ok(screens.Select(ToDto).ToList());
    }

    private static ScreenDefinition ToSpec(GatewayScreenRequest r) => new(r.Name, r.ApplyTo, r.Keywords, r.Regex, r.MaxMatch,
        r.Classifier is { } c ? new ClassifierDefinition(c.Url, c.Model, c.Kind, c.TimeoutMs) : null);

    private static GatewayScreenDto ToDto(GatewayScreenEntity s)
    {
        var rules = JsonSerializer.Deserialize<ScreenRules>(s.RulesJson, CanonicalJson.Options)!;
        return new GatewayScreenDto
        {
            Id = s.Id, ModelVersionId = s.ModelVersionId, Name = s.Name, ApplyTo = rules.ApplyTo, Keywords = rules.Keywords, Regex = rules.Regex,
            MaxMatch = rules.MaxMatch, Classifier = rules.Classifier, MitigationId = s.MitigationId, RulesSha256 = s.RulesSha256, LedgerIndex = s.LedgerIndex,
        };
    }
}

/// <summary>A screen's rules as stored (canonical JSON; its sha256 goes on the ledger).</summary>
public sealed record ScreenRules
{
    public required IReadOnlyList<string> ApplyTo { get; init; }
    public required IReadOnlyList<string> Keywords { get; init; }
    public required IReadOnlyList<string> Regex { get; init; }
    public int? MaxMatch { get; init; }
    public GatewayClassifierDto? Classifier { get; init; }

    public static ScreenRules From(ScreenDefinition s) => new()
    {
        ApplyTo = s.ApplyTo, Keywords = s.Keywords, Regex = s.Regex, MaxMatch = s.MaxMatch,
        Classifier = s.Classifier is { } c ? new GatewayClassifierDto { Url = c.Url, Model = c.Model, Kind = c.Kind, TimeoutMs = c.TimeoutMs } : null,
    };
}

/// <summary>Gateway bearer keys: 32 random bytes, shown once; the server keeps the hex sha256.</summary>
public static class GatewayKeys
{
    public const string Prefix = "egw_";

    public static string New() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

/// <summary>An audit batch: checked, then one `gateway.audit-batch` leaf (from HTTP, or from the server's own gateway as the system).</summary>
public static class GatewayAudit
{
    public static ProtocolError? Check(AuditBatchRequest r)
    {
        if (string.IsNullOrWhiteSpace(r.Gateway) || !r.Gateway.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return ProtocolError.Validation("gateway: 1 to 100 characters of letters, digits, '-', '_' and '.'");
        }
        if (r.FirstLine < 0)
        {
            return ProtocolError.Validation("firstLine: the batch's first line number, 0 or more");
        }
        if (r.Lines is < 1 or > 1_000_000)
        {
            return ProtocolError.Validation("lines: between 1 and 1000000");
        }
        if (r.Root.Length != 64 || !r.Root.All(char.IsAsciiHexDigit))
        {
            return ProtocolError.Validation("root: 64 hex digits, the RFC 6962 Merkle root over the batch's lines");
        }
        return null;
    }

    public static long Append(UnitOfWork uow, AuditBatchRequest r) => uow.Append("gateway.audit-batch", new JsonObject
    {
        ["gateway"] = r.Gateway, ["firstLine"] = r.FirstLine, ["lines"] = r.Lines, ["root"] = r.Root.ToLowerInvariant(),
    });
}
