using System.Net;
using System.Text.Json;
using Embargo.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Embargo.Gateway;

/// <summary>How a gateway process runs (not in the file: where it listens, the clock, how often it asks the server).</summary>
public sealed record GatewayRunOptions
{
    public string Urls { get; init; } = "http://127.0.0.1:0";
    /// <summary>HOST:PORT of a Redis shared by every replica; overrides the file's <c>redis</c>. Null = the file's, or in memory.</summary>
    public string? Redis { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>How often the certificate's status is read from audit.server (serving stops within this plus one request).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>Serving stops when the server has not confirmed the status for this long (fail closed).</summary>
    public TimeSpan StatusStaleAfter { get; init; } = TimeSpan.FromSeconds(9);
    /// <summary>Audit lines per ledger batch; a partial batch is posted every <see cref="StatusInterval"/> too.</summary>
    public int AuditBatchLines { get; init; } = 256;
    /// <summary>A test's hook: <see cref="ChatPipeline.AfterStreamRead"/>.</summary>
    internal Action? AfterStreamRead { get; init; }
}

/// <summary>A running gateway: `embargo gateway` hosts one, tests host several.</summary>
public sealed class GatewayHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;
    private readonly IGatewayLimiter _limiter;
    private readonly CancellationTokenSource _stop = new();
    private Task _background = Task.CompletedTask;
    private int _stopped;

    private GatewayHost(WebApplication app, GatewayConfig config, HttpClient http, IGatewayLimiter limiter, AuditLog audit, GatewayMetrics metrics)
    {
        _app = app;
        Config = config;
        _http = http;
        _limiter = limiter;
        Audit = audit;
        Metrics = metrics;
    }

    public GatewayConfig Config { get; }
    public AuditLog Audit { get; }
    public GatewayMetrics Metrics { get; }
    /// <summary>e.g. http://127.0.0.1:PORT/v1 — what an OpenAI client takes as its endpoint.</summary>
    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>A pooled client for upstreams and classifiers: connections kept and recycled, HTTP/2 where TLS offers it.</summary>
    public static HttpClient CreateUpstreamClient() => CreateUpstreamClient(out _);

    /// <summary>The same, and an invoker over the same connection pool for the chat hot path: it calls the handler directly,
    /// without HttpClient's per-request linked cancellation source and timeout wrapper (chat requests have no timeout of
    /// their own; they end when the caller goes away). Disposing the client closes the pool.</summary>
    public static HttpClient CreateUpstreamClient(out HttpMessageInvoker direct)
    {
        var handler = CreateUpstreamHandler();
        direct = new HttpMessageInvoker(handler, disposeHandler: false);
        return new HttpClient(handler, disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan,
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionOrHigher,
        };
    }

    private static SocketsHttpHandler CreateUpstreamHandler() => new()
    {
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        EnableMultipleHttp2Connections = true,
        UseCookies = false,
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
        // A stream the gateway ends early (a screen blocked it, the caller left) closes its upstream connection at once, so the
        // model stops generating, instead of being read on to reuse the connection (by default up to 1 MiB or 2 s).
        MaxResponseDrainSize = 0,
    };

    /// <summary>The web host a gateway runs on: slim, no configuration files, no logging, Kestrel with HTTP/1.1 and HTTP/2, no
    /// Server header, request bodies capped. The bench's floor (bench/Embargo.Bench.GatewayFloor) runs on the same.</summary>
    public static WebApplicationBuilder CreateWebBuilder(string urls)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddInMemoryCollection();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = ChatPipeline.MaxRequestBytes + 1;
            k.ConfigureEndpointDefaults(e => e.Protocols = HttpProtocols.Http1AndHttp2);
        });
        builder.WebHost.UseUrls(urls);
        return builder;
    }

    public static async Task<Result<GatewayHost>> StartAsync(GatewayConfig config, GatewayRunOptions options, CancellationToken ct = default)
    {
        if (ScreenText.SelfCheck() is { } broken)
        {
            return ProtocolError.Validation(broken);
        }
        if (TlsProblem(options.Urls, config.TlsCertificate is not null) is { } tlsProblem)
        {
            return ProtocolError.Validation(tlsProblem);
        }
        var http = CreateUpstreamClient(out var direct);
        IGatewayLimiter limiter;
        var redis = options.Redis ?? config.Redis;
        if (redis is not null)
        {
            if (!RedisEndpoint.IsValid(redis))
            {
                return ProtocolError.Validation($"--redis '{redis}' is not HOST:PORT");
            }
            try
            {
                limiter = await RedisLimiter.ConnectAsync(redis, options.Time);
            }
            catch (StackExchange.Redis.RedisConnectionException e)
            {
                return ProtocolError.Validation($"cannot reach Redis at {redis}: {e.Message.ReplaceLineEndings(" ")}");
            }
        }
        else
        {
            limiter = new InMemoryLimiter(options.Time);
        }
        AuditLog audit;
        try
        {
            audit = new AuditLog(config.Audit, config.Name, http, options.AuditBatchLines);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The mark disagrees with the file, or the file or its directory cannot be opened: nothing starts.
            await limiter.DisposeAsync();
            http.Dispose();
            return ProtocolError.Validation(e is AuditLedgerMarkException ? e.Message
                : $"audit.file {config.Audit.File}: {e.Message.ReplaceLineEndings(" ")}");
        }
        var metrics = new GatewayMetrics();
        metrics.Watch(audit);
        var pipeline = new ChatPipeline(config, http, direct, limiter, audit, metrics, options.Time) { AfterStreamRead = options.AfterStreamRead };

        var builder = CreateWebBuilder(options.Urls);
        if (config.TlsCertificate is { } certificate)
        {
            // https:// addresses: TLS 1.2 or 1.3 with this certificate, HTTP/2 or HTTP/1.1 by ALPN (Kestrel's defaults).
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(k => k.ConfigureHttpsDefaults(h =>
            {
                h.ServerCertificate = certificate;
                h.ServerCertificateChain = config.TlsChain;
            }));
        }
        var app = builder.Build();
        var host = new GatewayHost(app, config, http, limiter, audit, metrics);
        app.Use(async (ctx, next) =>
        {
            try
            {
                await next(ctx);
            }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
            {
                // The caller went away; nothing to answer.
            }
        });
        app.MapPost("/v1/chat/completions", pipeline.ChatAsync);
        app.MapGet("/v1/models", pipeline.ListModelsAsync);
        app.MapGet("/v1/models/{**model}", (HttpContext ctx, string model) => pipeline.RetrieveModelAsync(ctx, model));
        app.MapGet("/metrics", async ctx =>
        {
            ctx.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await metrics.Registry.CollectAndExportAsTextAsync(ctx.Response.Body, ctx.RequestAborted);
        });
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapFallback(ChatPipeline.NotServedAsync); // an OpenAI-shaped 404 (or 405), not an empty answer

        if (config.Audit.Server is not null)
        {
            // Before the first request: the server's word on every certificate (serving waits for it, fail closed).
            await host.CheckCertificatesAsync(options, ct);
        }
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        host.BaseUrl = new Uri(address.TrimEnd('/') + "/v1");
        if (config.Audit.Server is not null)
        {
            host._background = Task.Run(() => host.FollowServerAsync(options, host._stop.Token), CancellationToken.None);
        }
        return host;
    }

    /// <summary>https:// addresses need the file's tls; and a file with tls and no https:// address would serve in clear what
    /// its author meant to encrypt. Null when they agree.</summary>
    internal static string? TlsProblem(string urls, bool hasTls)
    {
        var https = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Any(u => u.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        return (https, hasTls) switch
        {
            (true, false) => "--urls has an https:// address, but the file has no tls (certificate and key) to serve it with",
            (false, true) => "the file sets tls, but --urls has no https:// address: the gateway would serve in clear",
            _ => null,
        };
    }

    private readonly Dictionary<CertificateGate, DateTimeOffset> _lastConfirmed = [];

    /// <summary>Reads GET {server}/api/public/certificates/{statementSha256}/status for every certificate.</summary>
    private async Task CheckCertificatesAsync(GatewayRunOptions options, CancellationToken ct)
    {
        var server = Config.Audit.Server!;
        foreach (var gate in Config.Upstreams.Select(u => u.Certificate).Distinct())
        {
            if (gate.StatementSha256 is null)
            {
                continue;
            }
            var now = options.Time.GetUtcNow();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                using var response = await _http.GetAsync(new Uri(server, $"/api/public/certificates/{gate.StatementSha256}/status"), timeout.Token);
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    gate.ApplyStatus(null, "unknown");
                    _lastConfirmed[gate] = now;
                    continue;
                }
                if (response.IsSuccessStatusCode)
                {
                    using var doc = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(timeout.Token));
                    var status = doc.RootElement.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString()! : "unreadable";
                    var id = doc.RootElement.TryGetProperty("certificate", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    gate.ApplyStatus(id, status);
                    _lastConfirmed[gate] = now;
                    continue;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // Not confirmed, whatever went wrong (no answer, an answer of the wrong shape, not valid Unicode): counted below.
            }
            if (!_lastConfirmed.TryGetValue(gate, out var last) || now - last >= options.StatusStaleAfter)
            {
                gate.MarkUnconfirmed("the server did not answer");
            }
        }
    }

    private async Task FollowServerAsync(GatewayRunOptions options, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(options.StatusInterval, options.Time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                await CheckCertificatesAsync(options, ct);
                try
                {
                    await Audit.PostBatchesAsync(all: true, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // The lines stay in the file and go with the next tick. Nothing may end this loop but stopping: it is what
                    // follows the certificates' status, and a loop that died would leave them as last confirmed.
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync();
        await _background;
        await _app.StopAsync();
        await _app.DisposeAsync();
        if (Config.Audit.Server is not null)
        {
            // What the file holds goes onto the ledger first (the rest waits in the file: the next start posts it).
            try
            {
                await Audit.FlushAsync();
            }
            catch (IOException)
            {
                // Disposing below tries the file again, and saves the lines elsewhere if it must.
            }
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Audit.PostBatchesAsync(all: true, timeout.Token);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException)
            {
                // Whatever was not posted stays in the audit file; the next start posts it from the file's .ledger mark.
            }
        }
        // A file that cannot take its last lines still lets the rest stop (the lines were saved elsewhere); then it is reported.
        AuditNotWrittenException? unwritten = null;
        try
        {
            await Audit.DisposeAsync();
        }
        catch (AuditNotWrittenException e)
        {
            unwritten = e;
        }
        await _limiter.DisposeAsync();
        _http.Dispose();
        _stop.Dispose();
        if (unwritten is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(unwritten);
        }
    }

    public Task WaitForShutdownAsync(CancellationToken ct) => _app.WaitForShutdownAsync(ct);

    public ValueTask DisposeAsync() => new(StopAsync());
}
