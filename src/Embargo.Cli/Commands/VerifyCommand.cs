using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;
using Spectre.Console;

namespace Embargo.Cli.Commands;

/// <summary>`embargo verify`: offline checks of a certificate; exit 0 only when every check holds.</summary>
public static class VerifyCommand
{
    public static Command Create()
    {
        var certificate = new Argument<string?>("certificate") { Description = "DSSE envelope JSON file (optional with --oms)", Arity = ArgumentArity.ZeroOrOne };
        var key = new Option<string>("--key") { Description = "the certifier's Ed25519 public key PEM (with a certificate)" };
        var oms = new Option<string>("--oms") { Description = "an OpenSSF Model Signing v1.0 bundle (model.sig, Embargo's or any tool's; key method) to verify against --weights" };
        var omsKey = new Option<string>("--oms-key") { Description = "the ECDSA public key PEM that signed the --oms bundle" };
        var omsIgnore = new Option<string[]>("--oms-ignore") { Description = "a path under --weights the OMS check leaves out (repeatable; as the reference CLI's --ignore-paths)", AllowMultipleArgumentsPerToken = false };
        var checkpoint = new Option<string>("--checkpoint") { Description = "signed checkpoint file" };
        var ledger = new Option<string>("--ledger") { Description = "ledger.jsonl" };
        var ledgerKey = new Option<string>("--ledger-key") { Description = "the ledger's note verifier key file (name+hash+key)" };
        var weights = new Option<string>("--weights") { Description = "the weights directory to check against the subject" };
        var witness = new Option<string[]>("--witness") { Description = "a witness's verifier key file (witness-*.vkey); repeat for more" };
        var safetyCase = new Option<string>("--safety-case") { Description = "the exported safety case JSON (safety-case.json) to check against the digest the certificate names" };
        var quorum = new Option<int>("--quorum") { Description = "how many of the given witnesses must have cosigned the checkpoint (default: all given)" };
        var command = new Command("verify", "verify a release certificate offline, and/or an OpenSSF Model Signing bundle against the weights")
            { certificate, key, checkpoint, ledger, ledgerKey, weights, safetyCase, oms, omsKey, omsIgnore, witness, quorum, Common.Json };
        command.SetAction(async (r, ct) =>
        {
            if (r.GetValue(oms) is { } omsBundle)
            {
                if (r.GetValue(omsKey) is not { } omsPem || r.GetValue(weights) is not { } omsModel)
                {
                    throw new UserInputException("--oms needs --oms-key (the signer's public key PEM) and --weights (the model to check)");
                }
                var omsResult = OpenModelSigning.Verify(Common.ReadFile(omsBundle, "OMS bundle"), Common.ReadFile(omsPem, "OMS public key"), omsModel, omsBundle, r.GetValue(omsIgnore));
                PrintOms(omsResult, r.GetValue(Common.Json));
                if (!omsResult.Ok)
                {
                    throw new CommandFailedException($"OMS verification failed: {omsResult.FirstFailure!.Name}: {omsResult.FirstFailure.Detail}");
                }
                if (r.GetValue(certificate) is null)
                {
                    return CliApp.Ok;
                }
            }
            if (r.GetValue(certificate) is null || r.GetValue(key) is null)
            {
                throw new UserInputException("give a certificate and --key (the certifier's public key), or --oms with --oms-key and --weights");
            }
            var ledgerFiles = new[] { r.GetValue(checkpoint), r.GetValue(ledger), r.GetValue(ledgerKey) };
            if (ledgerFiles.Any(f => f is not null) && ledgerFiles.Any(f => f is null))
            {
                throw new UserInputException("--checkpoint, --ledger and --ledger-key go together");
            }
            var witnessFiles = r.GetValue(witness) ?? [];
            if ((witnessFiles.Length > 0 || r.GetResult(quorum) is not null) && r.GetValue(checkpoint) is null)
            {
                throw new UserInputException("--witness and --quorum check the cosignatures on --checkpoint: give --checkpoint, --ledger and --ledger-key");
            }
            if (r.GetResult(quorum) is not null && (r.GetValue(quorum) < 1 || r.GetValue(quorum) > witnessFiles.Length))
            {
                throw new UserInputException($"--quorum {r.GetValue(quorum)} must be between 1 and the {witnessFiles.Length} --witness keys given");
            }
            var result = await RunAsync(r.GetValue(certificate)!, r.GetValue(key)!, r.GetValue(checkpoint), r.GetValue(ledger), r.GetValue(ledgerKey), r.GetValue(weights), ct, r.GetValue(safetyCase));
            if (witnessFiles.Length > 0)
            {
                var witnessKeys = WitnessCommands.ReadWitnessKeys(witnessFiles);
                var quorumValue = r.GetResult(quorum) is null ? witnessKeys.Count : r.GetValue(quorum);
                result = result with { Checks = [.. result.Checks, WitnessCheck(Common.ReadFile(r.GetValue(checkpoint)!, "checkpoint"), witnessKeys, quorumValue)] };
            }
            Print(result, r.GetValue(Common.Json));
            return result.Ok ? CliApp.Ok : throw new CommandFailedException($"verification failed: {result.FirstFailure!.Name}: {result.FirstFailure.Detail}");
        });
        return command;
    }

    public static async Task<CertificateVerification> RunAsync(string certificate, string key, string? checkpoint, string? ledger, string? ledgerKey, string? weights, CancellationToken ct,
        string? safetyCase = null)
    {
        var envelope = Common.ReadFile(certificate, "certificate");
        var pem = Common.ReadFile(key, "public key");
        LedgerEvidence? ledgerEvidence = checkpoint is null ? null
            : new(Common.ReadFile(ledger!, "ledger"), Common.ReadFile(checkpoint, "checkpoint"), Common.ReadFile(ledgerKey!, "ledger key").Trim());
        WeightsEvidence? weightsEvidence = null;
        if (weights is not null)
        {
            var manifest = await ProtocolCommands.BuildManifestAsync(weights, ct);
            weightsEvidence = new(manifest.Digest, manifest.Files.Select(f => (f.Path, f.Sha256)).ToList());
        }
        return CertificateVerifier.Verify(envelope, pem, ledgerEvidence, weightsEvidence, safetyCase is null ? null : Common.ReadBytes(safetyCase, "safety case"));
    }

    public const string WitnessCheckName = "witness cosignatures";

    /// <summary>At least <paramref name="quorum"/> of the given witnesses cosigned the checkpoint (C2SP tlog-cosignature), each counted once.</summary>
    public static VerificationCheck WitnessCheck(string signedCheckpoint, IReadOnlyList<Embargo.Ledger.CosignatureVerifier> witnesses, int quorum)
    {
        var found = Embargo.Ledger.Cosignatures.RequireQuorum(signedCheckpoint, witnesses, quorum);
        return found.IsOk
            ? new VerificationCheck(WitnessCheckName, true,
                $"{found.Value.Count} of {witnesses.Count} witnesses cosigned (quorum {quorum}): " + string.Join(", ", found.Value.Select(c =>
                    $"{c.Witness} at {DateTimeOffset.FromUnixTimeSeconds(c.Timestamp).ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)}Z")))
            : new VerificationCheck(WitnessCheckName, false, found.Error.Message);
    }

    public static void PrintOms(OmsVerification result, bool json)
    {
        if (json)
        {
            Output.Write(new { oms = true, ok = result.Ok, checks = result.Checks.Select(c => new { c.Name, c.Ok, c.Detail }) }, true);
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).Title("OpenSSF Model Signing").AddColumn("check").AddColumn("").AddColumn("detail");
        foreach (var check in result.Checks)
        {
            table.AddRow(Markup.Escape(Output.Safe(check.Name)), check.Ok ? "[green]ok[/]" : "[red]FAIL[/]", Markup.Escape(Output.Safe(check.Detail)));
        }
        AnsiConsole.Write(table);
        if (result.Ok)
        {
            Console.Out.WriteLine("valid: the OMS signature verifies under the given key and every file matches the signed manifest");
        }
    }

    public static void Print(CertificateVerification result, bool json)
    {
        if (json)
        {
            Output.Write(new { ok = result.Ok, revocationChecked = result.RevocationChecked, checks = result.Checks.Select(c => new { c.Name, c.Ok, c.Detail }) }, true);
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("check").AddColumn("").AddColumn("detail");
        foreach (var check in result.Checks)
        {
            table.AddRow(Markup.Escape(Output.Safe(check.Name)), check.Ok ? "[green]ok[/]" : "[red]FAIL[/]", Markup.Escape(Output.Safe(check.Detail)));
        }
        if (result.Ok)
        {
            // What was not given was not checked: say so, row by row, rather than let a short table look complete.
            if (!result.Checks.Any(c => c.Name == "weights"))
            {
                table.AddRow("weights", "[yellow]NOT CHECKED[/]", Markup.Escape(WeightsNotChecked));
            }
            if (!result.RevocationChecked)
            {
                table.AddRow("ledger, checkpoint", "[yellow]NOT CHECKED[/]", Markup.Escape(LedgerNotChecked));
                table.AddRow(CertificateVerifier.RevocationCheck, "[yellow]NOT CHECKED[/]", Markup.Escape(NotChecked));
            }
        }
        AnsiConsole.Write(table);
        if (!result.Ok)
        {
            return;
        }
        Console.Out.WriteLine(result.RevocationChecked
            ? "valid: every check holds, and no later ledger leaf revokes, flags or supersedes the certificate"
            : "unconfirmed: " + NotChecked);
        if (!result.Checks.Any(c => c.Name == "weights"))
        {
            Console.Out.WriteLine("not checked: " + WeightsNotChecked);
        }
    }

    public const string WeightsNotChecked = "no --weights given: the files the certificate names were not compared with any weights on disk";

    public const string LedgerNotChecked = "no --checkpoint, --ledger and --ledger-key given: the certificate's ledger entry and the signed checkpoint were not checked";

    public const string NotChecked = "revocation was not checked (give --checkpoint, --ledger and --ledger-key): a revoked, flagged or superseded certificate passes the checks above";
}
