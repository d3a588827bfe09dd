using Embargo.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Embargo.Server;

public sealed record ServerSettings
{
    public string Urls { get; init; } = "http://127.0.0.1:0";
    public required string DataDirectory { get; init; }
    public string Storage { get; init; } = "sqlite";
    public string? ConnectionString { get; init; }
    public required string AdminToken { get; init; }
    public string LedgerOrigin { get; init; } = "embargo.local/ledger";
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;
    public TimeProvider? Time { get; init; }
    /// <summary>HOST:PORT of a Redis shared by every replica's gateway (rate limits and quotas); null: in memory.</summary>
    public string? GatewayRedis { get; init; }
    /// <summary>Witnesses asked to cosign each new checkpoint: (add-checkpoint prefix URL, cosignature/v1 verifier key).</summary>
    public IReadOnlyList<(string Url, string Key)> Witnesses { get; init; } = [];
    /// <summary>How many cosignatures a checkpoint should carry (fewer is logged and reported, never blocks serving).</summary>
    public int WitnessQuorum { get; init; }
    /// <summary>The ledger's signed-note secret key; null: DataDirectory/ledger.key (created when missing).</summary>
    public string? LedgerSigningKey { get; init; }
}

/// <summary>Starts the Embargo server in this process (for `embargo serve`, the demo, benches and tests) and reports where it listens.</summary>
public static class ServerLauncher
{
    /// <exception cref="ArgumentException">GatewayRedis is not HOST:PORT or cannot be reached (a one-line message).</exception>
    public static async Task<(WebApplication App, Uri BaseUrl)> StartAsync(ServerSettings settings, CancellationToken ct)
    {
        IGatewayLimiter? shared = null;
        if (settings.GatewayRedis is { } redis)
        {
            if (!RedisEndpoint.IsValid(redis))
            {
                throw new ArgumentException($"--redis '{redis}' is not HOST:PORT");
            }
            try
            {
                shared = await RedisLimiter.ConnectAsync(redis, settings.Time ?? TimeProvider.System);
            }
            catch (StackExchange.Redis.RedisConnectionException e)
            {
                throw new ArgumentException($"cannot reach Redis at {redis}: {e.Message.ReplaceLineEndings(" ")}", e);
            }
        }
        var app = EmbargoServer.Build([], builder =>
        {
            builder.WebHost.UseUrls(settings.Urls);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Embargo:DataDirectory"] = settings.DataDirectory,
                ["Embargo:StorageProvider"] = settings.Storage,
                ["Embargo:ConnectionString"] = settings.ConnectionString,
                ["Embargo:AdminToken"] = settings.AdminToken,
                ["Embargo:LedgerOrigin"] = settings.LedgerOrigin,
                ["Embargo:WitnessQuorum"] = settings.WitnessQuorum.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Embargo:LedgerSigningKey"] = settings.LedgerSigningKey,
            });
            builder.Configuration.AddInMemoryCollection(settings.Witnesses.SelectMany((w, i) => new[]
            {
                new KeyValuePair<string, string?>($"Embargo:Witnesses:{i}:Url", w.Url),
                new KeyValuePair<string, string?>($"Embargo:Witnesses:{i}:Key", w.Key),
            }));
            builder.Logging.SetMinimumLevel(settings.LogLevel);
            // A start that fails (the port is taken) is reported by the caller in one line; the host's own "Hosting failed to start"
            // error would print the exception's stack first. A background service that fails still logs (critical, with its exception).
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
            if (settings.Time is not null)
            {
                builder.Services.AddSingleton(settings.Time);
            }
            if (shared is not null)
            {
                // A factory registration: the container disposes the connection when the server stops.
                builder.Services.AddSingleton(_ => shared);
            }
        });
        try
        {
            // Resolved now so a bad witness URL, key or quorum stops the start, not the first checkpoint.
            app.Services.GetRequiredService<Ledger.LedgerWitnesses>();
        }
        catch (InvalidOperationException e) when (e.Message.StartsWith("Embargo:Witness", StringComparison.Ordinal))
        {
            await app.DisposeAsync();
            throw new ArgumentException(e.Message, e);
        }
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/"));
    }
}
