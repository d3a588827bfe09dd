using System.CommandLine;
using System.Net;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Weights;
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
    /// <summary>The recorded sighting (pending until a regulator confirms it), when one was reported.</summary>
    public ViolationDto? Violation { get; init; }
}

/// <summary>`embargo scan`: hash weights found in the wild, ask the server what they are, and report a sighting with its evidence (rule 4).</summary>
public static class ScanCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("path") { Description = "a model directory or file found in the wild" };
        var observed = new Option<string>("--tier") { Description = "the tier at which the weights were found (weights you can download are 'open')", DefaultValueFactory = _ => "open" };
        var source = new Option<string>("--source") { Description = "where they were found: a URL or a description (sent with the sighting)", DefaultValueFactory = _ => "embargo scan" };
        var offline = new Option<bool>("--offline") { Description = "only hash; do not ask a server" };
        var command = new Command("scan", "identify weights found in the wild; report a sighting, with the scan as evidence, if they are out above their certified tier")
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
                result = await AskAsync(client, result, Evidence(manifest), tier, r.GetValue(source)!, ct);
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
                if (result.Violation is { Recorded: true } reported)
                {
                    // The id the reporter follows the sighting by (embargo violation show|list).
                    Console.Out.WriteLine(Output.Safe($"reported sighting {reported.Id} ({reported.Status}); follow it with: embargo violation list"));
                }
            }
            return result.Violation?.Recorded == true ? CliApp.Failed : CliApp.Ok;
        });
        return command;
    }

    /// <summary>The evidence a sighting carries: the manifest digest, every file's sha256, and the tensors the headers describe.</summary>
    public static SightingEvidenceDto Evidence(WeightsManifest manifest)
    {
        var tensors = manifest.Files.Where(f => f.Header is not null)
            .SelectMany(f => f.Header!.Tensors.Select(t => new TensorFactDto { File = f.Path, Name = t.Name, Dtype = t.Dtype, Shape = t.Shape }))
            .Take(ViolationRules.MaxTensors).ToList();
        return new SightingEvidenceDto
        {
            ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
            Tensors = tensors.Count == 0 ? null : tensors,
        };
    }

    public static async Task<ScanResult> AskAsync(EmbargoClient client, ScanResult scan, SightingEvidenceDto evidence, Tier observed, string source, CancellationToken ct)
    {
        scan = scan with { ObservedTier = observed.Name() };
        WeightsStatusDto? status = null;
        try
        {
            // Released versions are public; an unreleased one only to its developer and its cases' organisations.
            status = await client.Models.WeightsStatusAsync(scan.ManifestDigest, ct);
            scan = scan with { Registered = true, Model = status.Model, Developer = status.Developer, CertifiedTier = status.CertifiedTier };
        }
        catch (ApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
        }
        var certified = status?.CertifiedTier is { } t && Tiers.TryParse(t, out var c) ? c : (Tier?)null;
        if (status is not null && !Rules.IsViolation(observed, certified))
        {
            return scan with { Verdict = $"covered: a valid certificate allows {status.CertifiedTier ?? "internal use only"}" };
        }
        if (!client.HasToken)
        {
            return scan with
            {
                Registered = status is not null,
                Verdict = status is null
                    ? "not a released version known to Embargo (unregistered, or not visible without a token)"
                    : $"seen at {observed.Name()} above what its certificates allow: report it with a reporter's token",
            };
        }
        // A sighting with its evidence: the server matches it to a registered version (manifest or files) and, if it is
        // above the certified tier, records it pending until a regulator of the version's cases confirms it.
        var violation = await client.Violations.ReportAsync(new ReportViolationRequest
        {
            ObservedTier = observed.Name(), Source = source, Evidence = evidence,
        }, ct);
        return scan with
        {
            Registered = violation.Status != "unregistered",
            Developer = violation.Developer ?? scan.Developer,
            CertifiedTier = violation.CertifiedTier ?? scan.CertifiedTier,
            Violation = violation.Recorded ? violation : null,
            Verdict = violation.Verdict,
        };
    }
}
