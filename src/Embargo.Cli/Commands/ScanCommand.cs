using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol;
using Embargo.Protocol.Contracts;
using Spectre.Console;

namespace Embargo.Cli.Commands;

public sealed record ScanResult
{
    public required string Path { get; init; }
    public required string ManifestDigest { get; init; }
    public required int Files { get; init; }
    public required long Parameters { get; init; }
    public bool? Registered { get; init; }
    public string? Model { get; init; }
    public string? Developer { get; init; }
    public string? CertifiedTier { get; init; }
    public string? ObservedTier { get; init; }
    public string? Verdict { get; init; }
    public ViolationDto? Violation { get; init; }
}

/// <summary>`embargo scan`: hash weights found in the wild and ask the server what they are allowed to be (rule 4).</summary>
public static class ScanCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("path") { Description = "a model directory or file found in the wild" };
        var observed = new Option<string>("--tier") { Description = "the tier at which the weights were found (weights you can download are 'open')", DefaultValueFactory = _ => "open" };
        var source = new Option<string>("--source") { Description = "where they were found (reported with a violation)", DefaultValueFactory = _ => "embargo scan" };
        var offline = new Option<bool>("--offline") { Description = "only hash; do not ask a server" };
        var command = new Command("scan", "identify weights found in the wild; report them if they are out above their certified tier")
        {
            dir, observed, source, offline, Common.Server, Common.TokenEnv, Common.Json,
        };
        command.SetAction(async (r, ct) =>
        {
            if (!Tiers.TryParse(r.GetValue(observed), out var tier))
            {
                throw new UserInputException($"--tier '{r.GetValue(observed)}' is not a tier; expected one of {string.Join(", ", Tiers.All.Select(t => t.Name()))}");
            }
            var path = r.GetValue(dir)!;
            var manifest = await ProtocolCommands.BuildManifestAsync(path, ct);
            var result = new ScanResult { Path = path, ManifestDigest = manifest.Digest, Files = manifest.Files.Count, Parameters = manifest.Parameters };
            if (!r.GetValue(offline))
            {
                using var client = Common.Client(r);
                result = await AskAsync(client, result, tier, r.GetValue(source)!, ct);
            }
            if (r.GetValue(Common.Json))
            {
                Output.Write(result, json: true);
            }
            else
            {
                Output.Write(result with { Violation = null }, json: false, title: "scan");
                if (result.Verdict is not null)
                {
                    AnsiConsole.MarkupLine(result.Violation?.Recorded == true ? $"[red]{Markup.Escape(Output.Safe(result.Verdict))}[/]" : Markup.Escape(Output.Safe(result.Verdict)));
                }
            }
            return result.Violation?.Recorded == true ? CliApp.Failed : CliApp.Ok;
        });
        return command;
    }

    public static async Task<ScanResult> AskAsync(EmbargoClient client, ScanResult scan, Tier observed, string source, CancellationToken ct)
    {
        var status = await client.GetAsync<WeightsStatusDto>($"/api/weights/{scan.ManifestDigest}", ct);
        scan = scan with
        {
            Registered = status.Registered, Model = status.Model, Developer = status.Developer, CertifiedTier = status.CertifiedTier, ObservedTier = observed.Name(),
        };
        if (!status.Registered)
        {
            return scan with { Verdict = "not registered with Embargo: no developer to hold to account" };
        }
        var certified = status.CertifiedTier is { } t && Tiers.TryParse(t, out var c) ? c : (Tier?)null;
        if (!Rules.IsViolation(observed, certified))
        {
            return scan with { Verdict = $"covered: a valid certificate allows {status.CertifiedTier}" };
        }
        // Above the certified tier: report it (needs a token; any authenticated principal may report).
        var violation = await client.PostAsync<ViolationDto>("/api/violations", new ReportViolationRequest
        {
            ManifestDigest = scan.ManifestDigest, ObservedTier = observed.Name(), Source = source,
        }, ct);
        return scan with { Violation = violation, Verdict = violation.Verdict };
    }
}
