using System.Collections.Frozen;
using Embargo.Contracts;
using Embargo.Gateway;
using Embargo.Protocol;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Gateway;

/// <summary>
/// The gateway inside `embargo serve`: the standalone gateway's pipeline (Embargo.Gateway.ChatPipeline) at /v1, configured
/// from the store. Served: every version released at hosted or api, under the certificate of its highest such release
/// (or the newest valid certificate of the version at a tier at least that release's, once re-certified), and every
/// unreleased version with keys under evaluation access (the evaluators of its open cases only), whose upstream is the
/// version's registered `base` condition (the endpoint its evaluators tested). Grants are the
/// gateway keys issued with `embargo gateway grant`; screens the ones attached to the version. The configuration is
/// rebuilt whenever the ledger has grown (every grant, screen, release, flag or revocation is a leaf), so a flag stops
/// serving on the next request. Gateway keys never reach the server's token authentication (the branch runs before it).
/// </summary>
public sealed partial class ServerGateway : IAsyncDisposable
{
    public const string Name = "embargo-serve";
    /// <summary>The audit file's name in the data directory.</summary>
    public const string AuditFileName = "gateway-audit.jsonl";

    private readonly EmbargoDbFactory _factory;
    private readonly LedgerState _ledger;
    private readonly TimeProvider _time;
    private readonly ILogger<ServerGateway> _log;
    private readonly HttpClient _http;
    private readonly HttpMessageInvoker _direct;
    private readonly IGatewayLimiter _limiter;
    private readonly GatewayMetrics _metrics = new();
    private readonly SemaphoreSlim _rebuild = new(1, 1);
    private volatile Built? _current;

    private sealed record Built(long Stamp, ChatPipeline Pipeline, GatewayConfig Config);

    public ServerGateway(EmbargoDbFactory factory, LedgerState ledger, LedgerWriter writer, IGatewayLimiter limiter, IOptions<EmbargoOptions> options,
        TimeProvider time, ILogger<ServerGateway> log)
    {
        _factory = factory;
        _ledger = ledger;
        _time = time;
        _log = log;
        _limiter = limiter;
        _http = GatewayHost.CreateUpstreamClient(out _direct);
        AuditFile = Path.GetFullPath(Path.Combine(options.Value.DataDirectory, AuditFileName));
        // Batches go onto the server's own ledger directly, as the system (the standalone gateway posts them over HTTP).
        Audit = new AuditLog(new AuditSettings { File = AuditFile }, Name, _http, options.Value.GatewayAuditBatchLines, async (batch, ct) =>
        {
            var request = new AuditBatchRequest { Gateway = batch.Gateway, FirstLine = batch.FirstLine, Lines = batch.Lines, Root = batch.Root };
            var appended = await writer.ExecuteAsync<long>(Auth.Caller.System,
                (uow, _) => Task.FromResult<Result<long>>(GatewayAudit.Check(request) is { } invalid ? invalid : GatewayAudit.Append(uow, request)), ct);
            if (!appended.IsOk)
            {
                LogBatchRefused(_log, appended.Error!.Message);
                return null;
            }
            return appended.Value;
        });
        _metrics.Watch(Audit);
    }

    /// <summary>Null when this process can screen (NFKC needs ICU); otherwise /v1 serves nothing (fail closed).</summary>
    private static readonly string? Unscreenable = ScreenText.SelfCheck();

    /// <summary>One JSON line per chat request (the standalone gateway's format), in the data directory.</summary>
    public string AuditFile { get; }
    public AuditLog Audit { get; }

    public async Task HandleAsync(HttpContext ctx)
    {
        if (Unscreenable is { } broken)
        {
            await OpenAiErrors.WriteAsync(ctx, 503, Decisions.ScreenUnavailable, broken);
            return;
        }
        var path = ctx.Request.Path;
        try
        {
            var built = await CurrentAsync(ctx.RequestAborted);
            if (HttpMethods.IsPost(ctx.Request.Method) && path.Equals("/v1/chat/completions", StringComparison.Ordinal))
            {
                await built.Pipeline.ChatAsync(ctx);
            }
            else if (HttpMethods.IsGet(ctx.Request.Method) && path.Equals("/v1/models", StringComparison.Ordinal))
            {
                await built.Pipeline.ListModelsAsync(ctx);
            }
            else if (HttpMethods.IsGet(ctx.Request.Method) && path.StartsWithSegments("/v1/models", StringComparison.Ordinal, out var rest)
                && rest.Value is ['/', .. var model] && model.Length > 0)
            {
                await built.Pipeline.RetrieveModelAsync(ctx, model);
            }
            else
            {
                await ChatPipeline.NotServedAsync(ctx);
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The caller went away; nothing to answer.
        }
    }

    private async Task<Built> CurrentAsync(CancellationToken ct)
    {
        var stamp = _ledger.Size;
        if (_current is { } current && current.Stamp == stamp)
        {
            return current;
        }
        await _rebuild.WaitAsync(ct);
        try
        {
            stamp = _ledger.Size;
            if (_current is { } again && again.Stamp == stamp)
            {
                return again;
            }
            var config = await BuildAsync(ct);
            var built = new Built(stamp, new ChatPipeline(config, _http, _direct, _limiter, Audit, _metrics, _time), config);
            _current = built;
            return built;
        }
        finally
        {
            _rebuild.Release();
        }
    }

    /// <summary>The configuration the store describes now. Anything that cannot be served is left out (fail closed).</summary>
    private async Task<GatewayConfig> BuildAsync(CancellationToken ct)
    {
        await using var db = _factory.CreateDbContext();
        string[] gated = [Tier.Hosted.Name(), Tier.Api.Name()];
        var versionIds = await db.Releases.AsNoTracking().Where(r => gated.Contains(r.Tier)).Select(r => r.ModelVersionId).Distinct().ToListAsync(ct);
        var upstreams = new List<Upstream>();
        var tiers = new Dictionary<string, Tier>(StringComparer.Ordinal);
        foreach (var versionId in versionIds.Order(StringComparer.Ordinal))
        {
            var releases = await GatewayCatalog.ReleasesAsync(db, versionId, ct);
            var served = GatewayRules.Served(versionId, releases);
            var release = served.IsOk ? served.Value : releases.Where(r => r.Tier is Tier.Hosted or Tier.Api).MaxBy(r => r.Tier);
            var condition = (await db.Conditions.AsNoTracking().Where(c => c.ModelVersionId == versionId && c.Kind == "base").ToListAsync(ct))
                .OrderBy(c => c.CreatedAt).FirstOrDefault();
            var certificate = await db.Certificates.AsNoTracking().FirstOrDefaultAsync(c => c.Id == release.CertificateId, ct);
            var keyPem = certificate is null ? null
                : await db.Principals.AsNoTracking().Where(p => p.Id == certificate.CertifierPrincipalId).Select(p => p.SigningKeyPem).FirstOrDefaultAsync(ct);
            if (condition is null || certificate?.EnvelopeJson is null || keyPem is null)
            {
                LogNotServed(_log, versionId, condition is null ? "it has no base condition (its serving endpoint)" : "its certificate or certifier key is missing");
                continue;
            }
            var gate = CertificateGate.FromText(certificate.Id, certificate.EnvelopeJson, keyPem);
            gate.ApplyStatus(certificate.Id, served.IsOk ? "valid" : release.CertificateStatus);
            upstreams.Add(new Upstream
            {
                Name = versionId,
                ChatUrl = new Uri(condition.Endpoint.TrimEnd('/') + "/chat/completions"),
                Model = condition.ModelName,
                Certificate = gate,
            });
            tiers[versionId] = release.Tier;
        }
        // Evaluation access: a version not released at hosted/api that has gateway keys is served to the evaluators of its open
        // cases only, with its screens, under a gate that closes (rule 1) once no case of the version is open.
        var evaluators = new Dictionary<string, IReadOnlySet<string>>(StringComparer.Ordinal);
        var unreleased = (await db.GatewayGrants.AsNoTracking().Select(g => g.ModelVersionId).Distinct().ToListAsync(ct))
            .Where(v => !versionIds.Contains(v)).Order(StringComparer.Ordinal).ToList();
        foreach (var versionId in unreleased)
        {
            var condition = (await db.Conditions.AsNoTracking().Where(c => c.ModelVersionId == versionId && c.Kind == "base").ToListAsync(ct))
                .OrderBy(c => c.CreatedAt).FirstOrDefault();
            if (condition is null)
            {
                LogNotServed(_log, versionId, "it has no base condition (its serving endpoint) for evaluation access");
                continue;
            }
            var open = await GatewayCatalog.OpenCaseEvaluatorsAsync(db, versionId, ct);
            upstreams.Add(new Upstream
            {
                Name = versionId,
                ChatUrl = new Uri(condition.Endpoint.TrimEnd('/') + "/chat/completions"),
                Model = condition.ModelName,
                Certificate = CertificateGate.ForEvaluation(versionId, GatewayEndpoints.EvaluationAccessTier, open.Count > 0 ? null
                    : $"evaluation access has ended (rule-1): model version {versionId} is not released at hosted or api and has no open case without an issued certificate"),
            });
            tiers[versionId] = GatewayEndpoints.EvaluationAccessTier;
            evaluators[versionId] = open;
        }
        var servedIds = tiers.Keys.ToList();
        var grantRows = await db.GatewayGrants.AsNoTracking().Where(g => servedIds.Contains(g.ModelVersionId)).ToListAsync(ct);
        var grantees = grantRows.Select(g => g.PrincipalId).Distinct().ToList();
        var organisations = await db.Principals.AsNoTracking().Where(p => grantees.Contains(p.Id)).ToDictionaryAsync(p => p.Id, p => p.OrganisationId, ct);
        var grants = grantRows
            .ToDictionary(g => g.KeySha256, g =>
            {
                var evaluation = evaluators.TryGetValue(g.ModelVersionId, out var open);
                // Under evaluation access a key of anyone but an open case's evaluator is granted nothing (fail closed).
                var granted = !evaluation || open!.Count == 0 || (organisations.TryGetValue(g.PrincipalId, out var org) && open.Contains(org));
                return new Grant
                {
                    Grantee = g.PrincipalId,
                    Tier = tiers[g.ModelVersionId],
                    Models = (granted ? new[] { g.ModelVersionId } : []).ToFrozenSet(StringComparer.Ordinal),
                    RequestsPerMinute = g.RequestsPerMinute,
                    TokensPerDay = g.TokensPerDay,
                    Access = evaluation ? "evaluation" : null,
                };
            }, StringComparer.Ordinal);
        var screens = new List<ScreenSpec>();
        foreach (var s in await db.GatewayScreens.AsNoTracking().Where(s => servedIds.Contains(s.ModelVersionId)).OrderBy(s => s.LedgerIndex).ToListAsync(ct))
        {
            var rules = System.Text.Json.JsonSerializer.Deserialize<ScreenRules>(s.RulesJson, CanonicalJson.Options)!;
            screens.Add(new ScreenSpec
            {
                // Screen names are unique per version; the gateway wants them unique overall.
                Name = screens.Any(x => x.Name == s.Name) ? $"{s.Name}@{s.ModelVersionId}" : s.Name,
                ApplyTo = [.. rules.ApplyTo],
                Models = [s.ModelVersionId],
                Keywords = rules.Keywords.Count > 0 ? [.. rules.Keywords] : null,
                Regex = rules.Regex.Count > 0 ? [.. rules.Regex] : null,
                MaxMatch = rules.MaxMatch,
                Classifier = rules.Classifier is { } c ? new ClassifierSpec { Url = c.Url, Model = c.Model, Kind = c.Kind, TimeoutMs = c.TimeoutMs } : null,
            });
        }
        var assembled = GatewayParts.Assemble(Name, upstreams, grants, screens, new AuditSettings { File = AuditFile });
        if (assembled.IsOk)
        {
            return assembled.Value;
        }
        // A stored screen the pipeline cannot compile: serve nothing rather than serve unscreened.
        LogUnservable(_log, assembled.Error!.Message);
        return GatewayParts.Assemble(Name, [], new Dictionary<string, Grant>(), [], new AuditSettings { File = AuditFile }).Value;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "gateway: model version {Version} is released at hosted/api but not served: {Reason}")]
    private static partial void LogNotServed(ILogger logger, string version, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "gateway: an audit batch was not appended to the ledger ({Reason}); its lines go with the next batch")]
    private static partial void LogBatchRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "gateway: the stored screens do not compile ({Reason}); nothing is served")]
    private static partial void LogUnservable(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "gateway: {Reason}")]
    private static partial void LogAuditNotWritten(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "gateway: unwritten audit lines follow: {Lines}")]
    private static partial void LogUnwrittenLines(ILogger logger, string lines);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Audit.DisposeAsync();
        }
        catch (AuditNotWrittenException e)
        {
            // The server is stopping either way: say where the lines went (or, with nowhere to save them, log them whole).
            LogAuditNotWritten(_log, e.Message);
            if (e.SavedTo is null)
            {
                var lines = System.Text.Encoding.UTF8.GetString(e.Lines.Span);
                LogUnwrittenLines(_log, lines);
            }
        }
        _http.Dispose();
        _rebuild.Dispose();
    }
}

public static class ServerGatewayExtensions
{
    /// <summary>The gateway, its rate limiter (in memory unless `embargo serve --redis` registered a shared one first) and the
    /// service that appends its audit batches to the ledger.</summary>
    public static IServiceCollection AddServerGateway(this IServiceCollection services)
    {
        services.TryAddSingleton<IGatewayLimiter>(sp => new InMemoryLimiter(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ServerGateway>();
        services.AddHostedService<ServerGatewayAudit>();
        return services;
    }

    /// <summary>/v1 is the gateway's, before the server's token authentication and its failure throttle (gateway keys are not API tokens).</summary>
    public static IApplicationBuilder UseServerGateway(this IApplicationBuilder app) =>
        app.MapWhen(ctx => ctx.Request.Path.StartsWithSegments("/v1", StringComparison.Ordinal),
            branch => branch.Run(ctx => ctx.RequestServices.GetRequiredService<ServerGateway>().HandleAsync(ctx)));
}

/// <summary>Appends the server gateway's audit lines to the ledger every <see cref="EmbargoOptions.GatewayAuditInterval"/>
/// (a batch of at most GatewayAuditBatchLines lines per leaf), and once more when the server stops.</summary>
public sealed partial class ServerGatewayAudit(ServerGateway gateway, TimeProvider time, IOptions<EmbargoOptions> options, ILogger<ServerGatewayAudit> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var period = new PeriodicTimer(options.Value.GatewayAuditInterval, time);
        try
        {
            while (await period.WaitForNextTickAsync(stoppingToken))
            {
                await gateway.Audit.PostBatchesAsync(all: true, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            // Before the ledger writer stops (hosted services stop in reverse order; this one started after it).
            await gateway.Audit.FlushAsync().WaitAsync(cancellationToken);
        }
        catch (IOException)
        {
            // The file refuses its last lines: disposing the gateway tries again and saves them elsewhere if it must.
        }
        try
        {
            await gateway.Audit.PostBatchesAsync(all: true, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            LogLeftOver(log);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "gateway: stopping before every audit line reached the ledger; the rest stays in the audit file and is posted at the next start")]
    private static partial void LogLeftOver(ILogger logger);
}
