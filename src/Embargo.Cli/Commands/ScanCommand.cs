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
    public ViolationDto? Sighting { get; init; }
    /// <summary>How the weights seen match a registered version: exact (the manifest), reserialised (the same tensor values in
    /// other files, shards, names or containers — including a copy of some of its files), quantised (similar values), none.
    /// Null with --offline (no server asked).</summary>
    public string? Match { get; init; }
    /// <summary>The registered version matched (ver_…); null when none is.</summary>
    public string? Version { get; init; }
    /// <summary>Share of the version's informative tensors matched (1 for an exact match); null when unknown.</summary>
    public double? TensorsMatched { get; init; }
    /// <summary>Element-weighted mean similarity of the matched tensors (1 for an exact match); null when unknown.</summary>
    public double? Similarity { get; init; }
    /// <summary>The id of the recorded sighting (vio_…), when one was recorded.</summary>
    public string? Violation { get; init; }
    /// <summary>Tensors fingerprinted from their values (F32, F16, BF16, Q8_0, Q4_0) and sent with the evidence.</summary>
    public int TensorsFingerprinted { get; init; }
    /// <summary>With --offline: the local fingerprint of each tensor (file, name, dtype, elements, mean, standard deviation).</summary>
    public IReadOnlyList<FingerprintSummary>? Fingerprints { get; init; }
}

/// <summary>One fingerprinted tensor, as `scan --offline` prints it.</summary>
public sealed record FingerprintSummary(string File, string Tensor, string Dtype, long Elements, double Mean, double Std, bool Informative);

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
            var fingerprints = ProtocolCommands.FingerprintsOf(path, ct);
            var result = new ScanResult
            {
                Path = path, ManifestDigest = manifest.Digest, Files = manifest.Files.Count, Parameters = manifest.Parameters, TensorsFingerprinted = fingerprints.Count,
            };
            if (r.GetValue(offline))
            {
                result = result with
                {
                    Fingerprints = fingerprints.Select(f => new FingerprintSummary(f.File, f.Name, f.Dtype, f.Fingerprint.Elements,
                        f.Fingerprint.Mean, Math.Sqrt(f.Fingerprint.Variance), f.Fingerprint.Informative)).ToList(),
                };
            }
            else
            {
                using var client = Common.Client(r);
                result = await AskAsync(client, result, Evidence(manifest, fingerprints), tier, r.GetValue(source)!, ct);
            }
            if (r.GetValue(Common.Json))
            {
                Output.Write(result, json: true);
            }
            else
            {
                Output.Write(result with { Sighting = null, Fingerprints = null }, json: false, title: "scan");
                if (result.Fingerprints is { Count: > 0 } local)
                {
                    Output.Write(local, json: false, title: "tensor fingerprints (values, not names: what a server matches)");
                }
                if (result.Verdict is not null)
                {
                    AnsiConsole.MarkupLine(result.Sighting?.Recorded == true ? $"[red]{Markup.Escape(Output.Safe(result.Verdict))}[/]" : Markup.Escape(Output.Safe(result.Verdict)));
                }
                if (result.Sighting is { Recorded: true } reported)
                {
                    // The id the reporter follows the sighting by (embargo violation show|list).
                    Console.Out.WriteLine(Output.Safe($"reported sighting {reported.Id} ({reported.Status}); follow it with: embargo violation list"));
                }
            }
            return result.Sighting?.Recorded == true ? CliApp.Failed : CliApp.Ok;
        });
        return command;
    }

    /// <summary>The evidence a sighting carries: the manifest digest, every file's sha256, the tensors the headers describe,
    /// and the fingerprint of every float tensor (the largest <see cref="ContractLimits.MaxFingerprints"/>).</summary>
    public static SightingEvidenceDto Evidence(WeightsManifest manifest, IReadOnlyList<FingerprintedTensor>? fingerprints = null)
    {
        var tensors = manifest.Files.Where(f => f.Header is not null)
            .SelectMany(f => f.Header!.Tensors.Select(t => new TensorFactDto { File = f.Path, Name = t.Name, Dtype = t.Dtype, Shape = t.Shape }))
            .Take(ViolationRules.MaxTensors).ToList();
        return new SightingEvidenceDto
        {
            ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
            Tensors = tensors.Count == 0 ? null : tensors,
            Fingerprints = FingerprintDtos(fingerprints),
        };
    }

    /// <summary>The fingerprints sent to a server: of the tensors whose values are finite (NaN or infinity carry no
    /// evidence and a server refuses them), the largest <see cref="ContractLimits.MaxFingerprints"/>, in file order; null when none.</summary>
    public static IReadOnlyList<TensorFingerprintDto>? FingerprintDtos(IReadOnlyList<FingerprintedTensor>? fingerprints)
    {
        var finite = fingerprints?.Where(f => double.IsFinite(f.Fingerprint.Sum) && double.IsFinite(f.Fingerprint.SumSquares) && f.Fingerprint.Sketch.All(float.IsFinite)).ToList();
        if (finite is null || finite.Count == 0)
        {
            return null;
        }
        var kept = finite.Select((f, i) => (f, i)).OrderByDescending(x => x.f.Fingerprint.Elements).ThenBy(x => x.i)
            .Take(ContractLimits.MaxFingerprints).OrderBy(x => x.i).Select(x => x.f.Fingerprint);
        return kept.Select(f => new TensorFingerprintDto { Elements = f.Elements, Sum = f.Sum, SumSquares = f.SumSquares, Sketch = f.SketchBase64 }).ToList();
    }

    /// <summary>The server's match kind as `scan` reports it: manifest → exact, unregistered → none.</summary>
    private static string MatchKind(ViolationDto v) => v.Status == "unregistered" ? "none" : v.Match switch
    {
        "manifest" => "exact",
        // Enough of its files byte for byte: the same tensor values, in other shards or a subset of them.
        "partial" => "reserialised",
        null => "none",
        var kind => kind,
    };

    public static async Task<ScanResult> AskAsync(EmbargoClient client, ScanResult scan, SightingEvidenceDto evidence, Tier observed, string source, CancellationToken ct)
    {
        scan = scan with { ObservedTier = observed.Name() };
        WeightsStatusDto? status = null;
        try
        {
            // Released versions are public; an unreleased one only to its developer and its cases' organisations.
            status = await client.Models.WeightsStatusAsync(scan.ManifestDigest, ct);
            scan = scan with
            {
                Registered = true, Model = status.Model, Developer = status.Developer, CertifiedTier = status.CertifiedTier,
                Match = "exact", Version = status.ModelVersionId, TensorsMatched = 1, Similarity = 1,
            };
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
                Match = status is null ? "none" : scan.Match,
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
        var kind = MatchKind(violation);
        return scan with
        {
            Registered = violation.Status != "unregistered",
            Developer = violation.Developer ?? scan.Developer,
            CertifiedTier = violation.CertifiedTier ?? scan.CertifiedTier,
            Sighting = violation.Recorded ? violation : null,
            Violation = violation.Recorded ? violation.Id : null,
            Verdict = violation.Verdict,
            Match = kind,
            Version = kind == "none" ? null : violation.ModelVersionId ?? scan.Version,
            TensorsMatched = kind switch { "none" => 0, "exact" => 1, _ => violation.TensorsMatched },
            Similarity = kind switch { "none" => 0, "exact" => 1, _ => violation.Similarity ?? (violation.Match == "partial" ? 1 : null) },
        };
    }
}
