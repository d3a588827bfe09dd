using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server;
using Embargo.Server.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Time.Testing;
using Npgsql;

namespace Embargo.Server.Tests.Infrastructure;

/// <summary>
/// One real Embargo server over real HTTP on 127.0.0.1:0, with a fake clock. Storage is a SQLite file in a
/// temp directory, or a fresh PostgreSQL database when EMBARGO_TEST_POSTGRES holds a connection string
/// without Database (e.g. "Host=127.0.0.1;Port=55432;Username=postgres").
/// </summary>
public sealed class EmbargoHost : IAsyncDisposable
{
    public const string PostgresVariable = "EMBARGO_TEST_POSTGRES";

    private WebApplication _app;
    private readonly string? _postgresDatabase;
    private ServerSettings? _settings;

    private EmbargoHost(WebApplication app, Uri url, string dataDirectory, string adminToken, FakeTimeProvider time, string storage, string? postgresDatabase)
    {
        _app = app;
        Url = url;
        DataDirectory = dataDirectory;
        AdminToken = adminToken;
        Time = time;
        Storage = storage;
        _postgresDatabase = postgresDatabase;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        Admin = new EmbargoClient(url, adminToken, Http);
        Anonymous = Admin.As(null);
    }

    public Uri Url { get; private set; }
    public string DataDirectory { get; }
    public string AdminToken { get; }
    public FakeTimeProvider Time { get; }
    /// <summary>"sqlite" or "postgres".</summary>
    public string Storage { get; }
    /// <summary>The PostgreSQL connection string when Storage is postgres (a replica can share it).</summary>
    public string? ConnectionString => _postgresDatabase is not null && PostgresBase is { } pg ? $"{pg.TrimEnd(';')};Database={_postgresDatabase}" : null;
    public HttpClient Http { get; }
    public EmbargoClient Admin { get; private set; }
    public EmbargoClient Anonymous { get; private set; }
    /// <summary>The running server's services (e.g. the ledger writer, to hold it while requests queue up).</summary>
    public IServiceProvider Services => _app.Services;

    public static string? PostgresBase => Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } s ? s : null;

    /// <param name="gatewayRedis">HOST:PORT of a Redis for the gateway's rate limits (as `embargo serve --redis`).</param>
    public static async Task<EmbargoHost> StartAsync(bool forceSqlite = false, string? gatewayRedis = null)
    {
        // Time moves on by a millisecond per reading, like a real clock, so creation order is meaningful.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero)) { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };
        var dataDirectory = Directory.CreateTempSubdirectory("embargo-api-test-").FullName;
        var adminToken = Ids.NewToken();
        string storage = "sqlite";
        string? connectionString = null;
        string? database = null;
        if (!forceSqlite && PostgresBase is { } pg)
        {
            storage = "postgres";
            database = "embargo_test_" + Guid.NewGuid().ToString("N")[..16];
            connectionString = $"{pg.TrimEnd(';')};Database={database}";
        }
        var settings = new ServerSettings
        {
            DataDirectory = dataDirectory,
            AdminToken = adminToken,
            Storage = storage,
            ConnectionString = connectionString,
            Time = time,
            LedgerOrigin = "embargo.test/ledger",
            GatewayRedis = gatewayRedis,
        };
        var (app, url) = await ServerLauncher.StartAsync(settings, CancellationToken.None);
        return new EmbargoHost(app, url, dataDirectory, adminToken, time, storage, database) { _settings = settings };
    }

    /// <summary>
    /// Stops the server, runs <paramref name="whileStopped"/> (e.g. edits the store behind its back) and starts it
    /// again on the same address, data directory, store and ledger key, so every client keeps working.
    /// </summary>
    public async Task RestartAsync(Func<Task> whileStopped)
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        NpgsqlConnection.ClearAllPools();
        await whileStopped();
        var settings = _settings! with { Urls = $"http://127.0.0.1:{Url.Port}" };
        var (app, url) = await ServerLauncher.StartAsync(settings, CancellationToken.None);
        _app = app;
        Url = url;
        Admin = new EmbargoClient(url, AdminToken, Http);
        Anonymous = Admin.As(null);
    }

    /// <summary>A connection to the store the server uses (SQLite file or PostgreSQL database), for tests that edit it behind the server's back.</summary>
    public System.Data.Common.DbConnection OpenStoreConnection()
    {
        System.Data.Common.DbConnection connection = ConnectionString is { } pg
            ? new NpgsqlConnection(pg)
            : new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(DataDirectory, "embargo.db")};Pooling=False");
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        if (_postgresDatabase is not null && PostgresBase is { } pg)
        {
            try
            {
                NpgsqlConnection.ClearAllPools();
                await using var connection = new NpgsqlConnection($"{pg.TrimEnd(';')};Database=postgres");
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_postgresDatabase}\" WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            }
            catch (NpgsqlException)
            {
                // A database left behind in a throwaway test server is harmless.
            }
        }
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>One server per test class (xunit runs a class's tests one after another, so ledger sizes are stable).</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public EmbargoHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await EmbargoHost.StartAsync();

    public async Task DisposeAsync() => await Host.DisposeAsync();
}
