using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Ledger;
using Embargo.Server.Witness;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Embargo.Cli.Commands;

/// <summary>`embargo witness keygen|serve`: a C2SP tlog-witness that cosigns a ledger's checkpoints (cosignature/v1).</summary>
public static class WitnessCommands
{
    public static Command Create() =>
        Common.Group("witness", "run a transparency-log witness (C2SP tlog-witness) for an Embargo ledger", Keygen(), Serve());

    private static Command Keygen()
    {
        var name = new Argument<string>("name") { Description = "the witness name, a schema-less URL, e.g. regulator.example/witness" };
        var output = new Option<string>("--out") { Description = "path prefix: PREFIX.key (private, 0600) and PREFIX.vkey", Required = true };
        var command = new Command("keygen", "create a witness key pair (Ed25519, cosignature/v1 key type 0x04)") { name, output };
        command.SetAction(async (r, ct) =>
        {
            var witnessName = r.GetValue(name)!;
            if (string.IsNullOrEmpty(witnessName) || witnessName.Any(c => c == '+' || char.IsWhiteSpace(c) || char.IsControl(c)))
            {
                throw new UserInputException("the witness name must be non-empty, without whitespace or '+'");
            }
            var prefix = r.GetValue(output)!;
            var (secret, vkey) = WitnessHost.GenerateKey(witnessName);
            var (keyPath, vkeyPath) = (prefix + ".key", prefix + ".vkey");
            if (File.Exists(keyPath))
            {
                throw new UserInputException($"{keyPath} exists; a witness key is never overwritten");
            }
            await KeyCommands.WriteSecretAsync(keyPath, secret + "\n", ct);
            await File.WriteAllTextAsync(vkeyPath, vkey + "\n", ct);
            Console.Out.WriteLine($"{vkeyPath}\n{keyPath}\n{vkey}");
            return CliApp.Ok;
        });
        return command;
    }

    private static Command Serve()
    {
        var key = new Option<string>("--key") { Description = "the witness's private key file (from `embargo witness keygen`)", Required = true };
        var log = new Option<string[]>("--log") { Description = "the ledger's note verifier key file (ledger.vkey); repeat for more logs", Required = true, AllowMultipleArgumentsPerToken = false };
        var data = new Option<string>("--data") { Description = "where the latest cosigned size and root of each log are kept", DefaultValueFactory = _ => "witness-data" };
        var urls = new Option<string>("--urls") { Description = "where to listen", DefaultValueFactory = _ => "http://127.0.0.1:8710" };
        var command = new Command("serve", "cosign checkpoints that are consistent with every checkpoint cosigned before (POST /add-checkpoint)") { key, log, data, urls };
        command.SetAction(async (r, ct) =>
        {
            var listen = ListenUrls.Check(r.GetValue(urls)!);
            var settings = new WitnessSettings
            {
                SecretKey = Common.ReadFile(r.GetValue(key)!, "witness key").Trim(),
                LogKeys = r.GetValue(log)!.Select(path => Common.ReadFile(path, "log key").Trim()).ToList(),
                DataDirectory = Path.GetFullPath(r.GetValue(data)!),
                Urls = listen,
                LogLevel = LogLevel.Information,
            };
            Microsoft.AspNetCore.Builder.WebApplication app;
            Uri url;
            string vkey;
            try
            {
                (app, url, vkey) = await WitnessHost.StartAsync(settings, ct);
            }
            catch (ArgumentException e)
            {
                throw new UserInputException(e.Message);
            }
            catch (Exception e) when (ListenUrls.CannotBind(e))
            {
                throw ListenUrls.BindFailure(listen, e);
            }
            await using (app)
            {
                Output.Note($"witness {vkey} listening on {url}add-checkpoint (state: {settings.DataDirectory}); Ctrl-C stops it");
                await app.WaitForShutdownAsync(ct);
            }
            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>Parses witness verifier key files; a bad one is a one-line user error naming the file.</summary>
    public static IReadOnlyList<CosignatureVerifier> ReadWitnessKeys(IEnumerable<string> paths) =>
        paths.Select(path =>
        {
            var parsed = CosignatureVerifier.Parse(Common.ReadFile(path, "witness key").Trim());
            return parsed.IsOk ? parsed.Value : throw new UserInputException($"{path}: {parsed.Error.Message}");
        }).ToList();
}
