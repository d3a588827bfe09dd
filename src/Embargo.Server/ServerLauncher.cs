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
}

/// <summary>Starts the Embargo server in this process (for `embargo serve`, the demo, benches and tests) and reports where it listens.</summary>
public static class ServerLauncher
{
    public static async Task<(WebApplication App, Uri BaseUrl)> StartAsync(ServerSettings settings, CancellationToken ct)
    {
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
            });
            builder.Logging.SetMinimumLevel(settings.LogLevel);
            if (settings.Time is not null)
            {
                builder.Services.AddSingleton(settings.Time);
            }
        });
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/"));
    }
}
