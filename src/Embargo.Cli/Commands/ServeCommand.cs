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
        var command = new Command("serve", "run the Embargo server (REST API, OpenAPI at /openapi/v1.json, metrics at /metrics)") { urls, data, storage, connectionEnv, adminEnv, origin };
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
            var (app, url) = await ServerLauncher.StartAsync(new ServerSettings
            {
                Urls = r.GetValue(urls)!, DataDirectory = dataDir, Storage = r.GetValue(storage)!, ConnectionString = string.IsNullOrWhiteSpace(connection) ? null : connection,
                AdminToken = adminToken, LedgerOrigin = r.GetValue(origin)!, LogLevel = LogLevel.Information,
            }, ct);
            Output.Note($"Embargo server listening on {url} (storage: {r.GetValue(storage)}, data: {dataDir}); Ctrl-C stops it");
            await app.WaitForShutdownAsync(ct);
            return CliApp.Ok;
        });
        return command;
    }
}
