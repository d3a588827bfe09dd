using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Certificates;
using Embargo.Server.Disclosures;
using Embargo.Server.Gateway;
using Embargo.Server.Incidents;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Mitigations;
using Embargo.Server.Models;
using Embargo.Server.Organisations;
using Embargo.Server.Releases;
using Embargo.Server.Storage;
using Embargo.Server.Ui;
using Embargo.Server.Violations;
using Embargo.Server.Weights;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Embargo.Server;

/// <summary>The `embargo serve` host: a list of AddX() and MapX() calls.</summary>
public static class EmbargoServer
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.WebHost.UseKestrelHttpsConfiguration();
        configure?.Invoke(builder);

        builder.Services.AddOptions<EmbargoOptions>().BindConfiguration(EmbargoOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddTimeProvider();
        builder.Services.AddFrontDoor();
        builder.Services.AddStorage();
        builder.Services.AddLedger();
        builder.Services.AddMitigations();
        builder.Services.AddSingleton<ICommitmentEngine, EvaluationCommitmentEngine>();
        builder.Services.AddSingleton<AdminCredential>();
        builder.Services.AddServerGateway();
        builder.Services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddUi();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.AllowDuplicateProperties = false;
            o.SerializerOptions.RespectRequiredConstructorParameters = true;
            o.SerializerOptions.TypeInfoResolver = RequestContracts.Resolver(o.SerializerOptions.TypeInfoResolver);
            o.SerializerOptions.Converters.Add(new InstantConverter());
        });
        builder.Services.AddOpenApi();

        var app = builder.Build();
        app.UseSecurityHeaders();
        app.UseExceptionHandler();
        app.UseServerGateway();
        app.UseStatusCodePages();
        app.UseAuthThrottle();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUi();
        app.UseHttpMetrics();

        app.MapOpenApi();
        app.MapMetrics();
        app.MapGet("/healthz", Health).AllowAnonymous();
        app.MapOrganisations();
        app.MapModels();
        app.MapCases();
        app.MapEvidenceLogs();
        app.MapReevaluation();
        app.MapDenials();
        app.MapDisclosures();
        app.MapMitigations();
        app.MapCertificates();
        app.MapSafetyCases();
        app.MapReleases();
        app.MapViolations();
        app.MapIncidents();
        app.MapWeights();
        app.MapGatewayAdministration();
        app.MapLedger();
        app.MapUi();
        return app;
    }

    /// <summary>Unhealthy (503) while the ledger has failed its integrity check, naming the first leaf that differs.</summary>
    private static Results<ContentHttpResult, ProblemHttpResult> Health(LedgerState ledger) =>
        ledger.Failure is { } failure ? ApiResults.Problem(failure.ToError()) : TypedResults.Text("ok");

    private static void TryAddTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(s => s.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    private static IServiceCollection AddStorage(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<EmbargoOptions>>().Value;
            if (o.StorageProvider == "postgres")
            {
                return new EmbargoDbFactory(StorageProvider.Postgres, o.ConnectionString
                    ?? throw new OptionsValidationException(EmbargoOptions.Section, typeof(EmbargoOptions), ["Embargo:ConnectionString is required for postgres"]));
            }
            Directory.CreateDirectory(o.DataDirectory);
            // Built, not concatenated: a data directory may hold ';', '=' or quotes, which would otherwise be read as more of
            // the connection string ("./a;Mode=ReadOnly") or break it.
            var sqlite = o.ConnectionString ?? new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = Path.Combine(o.DataDirectory, "embargo.db") }.ToString();
            FrontDoor.PrepareSqliteFile(sqlite);
            return new EmbargoDbFactory(StorageProvider.Sqlite, sqlite);
        });
        services.AddSingleton<IDbContextFactory<EmbargoDb>>(sp => sp.GetRequiredService<EmbargoDbFactory>());
        services.AddScoped(sp => sp.GetRequiredService<EmbargoDbFactory>().CreateDbContext());
        services.AddHostedService<MigrationService>();
        return services;
    }
}

/// <summary>Applies migrations before anything else runs (registered first among hosted services).</summary>
public sealed class MigrationService(EmbargoDbFactory factory, LedgerIntegrity integrity) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var db = factory.CreateDbContext();
        await db.Database.MigrateAsync(cancellationToken);
        if (factory.Provider == StorageProvider.Sqlite)
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
        }
        // The full recompute: every stored leaf against the last checkpoint this server signed. A failure does not
        // stop the server (reads and /healthz stay up); it refuses to sign and to write until an operator acts.
        await integrity.VerifyAsync(db, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
