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
        var witness = new Option<string[]>("--witness") { Description = "URL=VKEYFILE: a witness asked to cosign each new checkpoint (repeat for more)" };
        var quorum = new Option<int>("--quorum") { Description = "how many witness cosignatures each checkpoint should carry (fewer is logged and shown at /api/ledger/witnesses)" };
        var command = new Command("serve", "run the Embargo server (REST API, OpenAPI at /openapi/v1.json, metrics at /metrics, the gateway at /v1)") { urls, data, storage, connectionEnv, adminEnv, origin, redis, witness, quorum };
        command.SetAction(async (r, ct) =>
        {
            var listen = ListenUrls.Check(r.GetValue(urls)!);
            var dataDir = Path.GetFullPath(r.GetValue(data)!);
            var connection = Environment.GetEnvironmentVariable(r.GetValue(connectionEnv)!);
            if (r.GetValue(storage) == "postgres" && string.IsNullOrWhiteSpace(connection))
            {
                throw new UserInputException($"--storage postgres needs a connection string in ${r.GetValue(connectionEnv)}");
            }
            var witnesses = ParseWitnesses(r.GetValue(witness) ?? []);
            if (r.GetValue(quorum) is var q && (q < 0 || q > witnesses.Count))
            {
                throw new UserInputException($"--quorum {q} must be between 0 and the {witnesses.Count} --witness given");
            }
            // The data directory's gateway audit file must be a file that keeps its lines, and back what the ledger holds of
            // it, or nothing starts.
            var auditFile = Path.Combine(dataDir, Embargo.Server.Gateway.ServerGateway.AuditFileName);
            if (Embargo.Gateway.AuditLog.FileProblem(auditFile) is { } notAFile)
            {
                throw new UserInputException($"the gateway's audit file: {notAFile}");
            }
            if (Embargo.Gateway.AuditLog.LedgerMarkProblem(auditFile, Embargo.Server.Gateway.ServerGateway.Name) is { } problem)
            {
                throw new UserInputException(problem);
            }
            // Only a start that passed every check above creates anything.
            try
            {
                Directory.CreateDirectory(dataDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserInputException($"--data {dataDir}: {e.Message.ReplaceLineEndings(" ")}");
            }
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
            Microsoft.AspNetCore.Builder.WebApplication app;
            Uri url;
            try
            {
                (app, url) = await ServerLauncher.StartAsync(new ServerSettings
                {
                    Urls = listen, DataDirectory = dataDir, Storage = r.GetValue(storage)!, ConnectionString = string.IsNullOrWhiteSpace(connection) ? null : connection,
                    AdminToken = adminToken, LedgerOrigin = r.GetValue(origin)!, LogLevel = LogLevel.Information, GatewayRedis = r.GetValue(redis),
                    Witnesses = witnesses, WitnessQuorum = r.GetValue(quorum),
                }, ct);
            }
            catch (ArgumentException e)
            {
                throw new UserInputException(e.Message);
            }
            catch (Exception e) when (ListenUrls.CannotBind(e))
            {
                throw ListenUrls.BindFailure(listen, e);
            }
            catch (Embargo.Gateway.AuditLedgerMarkException e)
            {
                // The data directory's gateway audit file cannot back what the ledger holds of it: start nothing.
                throw new UserInputException(e.Message);
            }
            Output.Note($"Embargo server listening on {url} (storage: {r.GetValue(storage)}, data: {dataDir}); Ctrl-C stops it");
            await app.WaitForShutdownAsync(ct);
            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>"URL=VKEYFILE" pairs: the witness's add-checkpoint prefix and the file holding its verifier key.</summary>
    private static IReadOnlyList<(string Url, string Key)> ParseWitnesses(IEnumerable<string> values) =>
        values.Select(value =>
        {
            var eq = value.LastIndexOf('=');
            if (eq <= 0 || eq == value.Length - 1 || !Uri.TryCreate(value[..eq], UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                throw new UserInputException($"--witness '{value}' is not URL=VKEYFILE");
            }
            var key = Common.ReadFile(value[(eq + 1)..], "witness key").Trim();
            var parsed = Embargo.Ledger.CosignatureVerifier.Parse(key);
            return parsed.IsOk ? (url.AbsoluteUri, key) : throw new UserInputException($"{value[(eq + 1)..]}: {parsed.Error.Message}");
        }).ToList();
}
