using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Server;
using Embargo.Server.Infrastructure;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Embargo.Cli.Commands;

public static class ServeCommand
{
    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "where to listen", DefaultValueFactory = _ => Common.DefaultServer };
        var data = new Option<string>("--data") { Description = "data directory (SQLite file, ledger key)", DefaultValueFactory = _ => "embargo-data" };
        var storage = new Option<string>("--storage") { Description = "sqlite | postgres", DefaultValueFactory = _ => "sqlite" };
        storage.AcceptOnlyFromAmong("sqlite", "postgres");
        var connectionEnv = new Option<string>("--connection-string-env") { Description = "environment variable holding the connection string (postgres)", DefaultValueFactory = _ => "EMBARGO_CONNECTION_STRING" };
        var adminEnv = new Option<string>("--admin-token-env") { Description = "environment variable holding the admin token; without it one is created in DATA/admin.token", DefaultValueFactory = _ => "EMBARGO_ADMIN_TOKEN" };
        var origin = new Option<string>("--ledger-origin") { Description = "the ledger's checkpoint origin line", DefaultValueFactory = _ => "embargo.local/ledger" };
        var redis = new Option<string>("--redis") { Description = "HOST:PORT of a Redis shared by every replica's gateway at /v1 (rate limits and quotas); default: in memory" };
        var command = new Command("serve", "run the Embargo server (REST API, OpenAPI at /openapi/v1.json, metrics at /metrics, the gateway at /v1)") { urls, data, storage, connectionEnv, adminEnv, origin, redis };
        command.SetAction(async (r, ct) =>
        {
            var dataDir = Path.GetFullPath(r.GetValue(data)!);
            Directory.CreateDirectory(dataDir);
            var adminToken = Environment.GetEnvironmentVariable(r.GetValue(adminEnv)!);
            if (string.IsNullOrWhiteSpace(adminToken))
            {
                var tokenFile = Path.Combine(dataDir, "admin.token");
                if (!File.Exists(tokenFile))
                {
                    await KeyCommands.WriteSecretAsync(tokenFile, Ids.NewToken() + "\n", ct);
                }
                adminToken = (await File.ReadAllTextAsync(tokenFile, ct)).Trim();
                Output.Note($"admin token: {tokenFile}");
            }
            var connection = Environment.GetEnvironmentVariable(r.GetValue(connectionEnv)!);
            if (r.GetValue(storage) == "postgres" && string.IsNullOrWhiteSpace(connection))
            {
                throw new UserInputException($"--storage postgres needs a connection string in ${r.GetValue(connectionEnv)}");
            }
            Microsoft.AspNetCore.Builder.WebApplication app;
            Uri url;
            try
            {
                (app, url) = await ServerLauncher.StartAsync(new ServerSettings
                {
                    Urls = r.GetValue(urls)!, DataDirectory = dataDir, Storage = r.GetValue(storage)!, ConnectionString = string.IsNullOrWhiteSpace(connection) ? null : connection,
                    AdminToken = adminToken, LedgerOrigin = r.GetValue(origin)!, LogLevel = LogLevel.Information, GatewayRedis = r.GetValue(redis),
                }, ct);
            }
            catch (ArgumentException e)
            {
                throw new UserInputException(e.Message);
            }
            Output.Note($"Embargo server listening on {url} (storage: {r.GetValue(storage)}, data: {dataDir}); Ctrl-C stops it");
            await app.WaitForShutdownAsync(ct);
            return CliApp.Ok;
        });
        return command;
    }
}
