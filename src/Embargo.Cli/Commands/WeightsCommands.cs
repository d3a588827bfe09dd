using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Embargo.Cli.Infrastructure;
using Embargo.Weights;
using Spectre.Console;

namespace Embargo.Cli.Commands;

/// <summary>`embargo weights inspect|seal|unseal|keygen`.</summary>
public static class WeightsCommands
{
    public static Command Create() => new("weights", "Inspect, hash, seal and unseal model weights (safetensors, GGUF).")
    {
        CreateInspect(), CreateSeal(), CreateUnseal(), CreateKeygen(), CreateConvert(), CreateFingerprint(),
        WeightsKeyCommands.Grant(), WeightsKeyCommands.Deposit(), WeightsKeyCommands.FetchKey(),
    };

    private static Command CreateInspect()
    {
        var path = new Argument<string>("path") { Description = "A model file or directory." };
        var json = new Option<bool>("--json") { Description = "Print the manifest as JSON." };
        var cmd = new Command("inspect", "Parse safetensors/GGUF headers, hash every file and print the manifest digest.") { path, json };
        cmd.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var target = r.GetValue(path)!;
            var manifest = Unwrap(await WithProgress("hashing", p => ManifestBuilder.BuildAsync(target, p, ct)));
            if (r.GetValue(json))
            {
                WriteJson(manifest);
                return CliApp.Ok;
            }
            var table = new Table().Border(TableBorder.Rounded)
                .AddColumn("path").AddColumn(new TableColumn("bytes").RightAligned()).AddColumn("format")
                .AddColumn(new TableColumn("tensors").RightAligned()).AddColumn(new TableColumn("parameters").RightAligned())
                .AddColumn("dtypes").AddColumn("sha256");
            foreach (var f in manifest.Files)
            {
                table.AddRow(
                    Markup.Escape(Output.Safe(f.Path)),
                    f.Bytes.ToString("N0", CultureInfo.InvariantCulture),
                    f.IsShardIndex ? "other (shard index)" : f.Format,
                    f.Tensors?.ToString(CultureInfo.InvariantCulture) ?? "",
                    f.Parameters?.ToString("N0", CultureInfo.InvariantCulture) ?? "",
                    f.Dtypes is null ? "" : Markup.Escape(Output.Safe(string.Join(" ", f.Dtypes.Select(d => $"{d.Key}:{d.Value}")))),
                    f.Sha256[..12] + "…");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"files: {manifest.Files.Count}   bytes: {manifest.TotalBytes.ToString("N0", CultureInfo.InvariantCulture)}   parameters: [bold]{manifest.Parameters.ToString("N0", CultureInfo.InvariantCulture)}[/]");
            Console.Out.WriteLine($"manifest digest: {manifest.Digest}");
            foreach (var f in manifest.Files.Where(f => f.Header?.Format == "gguf"))
            {
                var arch = f.Header!.Metadata.TryGetValue("general.architecture", out var a) ? a : "?";
                AnsiConsole.MarkupLine($"{Markup.Escape(Output.Safe(f.Path))}: GGUF v{f.Header.Version}, {f.Header.Metadata.Count} metadata keys, architecture {Markup.Escape(Output.Safe(arch))}");
            }
            return CliApp.Ok;
        });
        return cmd;
    }

    private static Command CreateSeal()
    {
        var dir = new Argument<string>("dir") { Description = "The model directory to seal." };
        var output = new Option<string>("--out") { Description = "Sealed directory to create (must not exist).", Required = true };
        var recipients = new Option<string[]>("--recipient") { Description = "A grantee's X25519 public key file (NAME.pub); repeatable.", Required = true };
        var chunk = new Option<int>("--chunk-size") { Description = "Plaintext bytes per AES-256-GCM chunk.", DefaultValueFactory = _ => SealOptions.DefaultChunkSize };
        var json = new Option<bool>("--json") { Description = "Print the sealed manifest summary as JSON." };
        var cmd = new Command("seal", "Encrypt every file in chunks under a fresh data key wrapped to each recipient.") { dir, output, recipients, chunk, json };
        cmd.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var chunkSize = r.GetValue(chunk);
            if (chunkSize is < 1 or > SealOptions.MaxChunkSize)
            {
                throw new UserInputException($"--chunk-size must be between 1 and {SealOptions.MaxChunkSize}");
            }
            var keys = r.GetValue(recipients) ?? [];
            if (keys.Length == 0)
            {
                throw new UserInputException("at least one --recipient is needed");
            }
            var source = r.GetValue(dir)!;
            if (!Directory.Exists(source))
            {
                throw new UserInputException($"{source}: not a directory");
            }
            var sealedManifest = Unwrap(await WithProgress("sealing", p =>
                WeightsSealer.SealAsync(source, r.GetValue(output)!, keys, new SealOptions { ChunkSize = chunkSize }, p, ct)));
            if (r.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    manifestDigest = sealedManifest.ManifestDigest,
                    @sealed = r.GetValue(output),
                    files = sealedManifest.Files.Count,
                    bytes = sealedManifest.Files.Sum(f => f.Bytes),
                    chunkSize = sealedManifest.ChunkSize,
                    recipients = sealedManifest.Recipients.Select(k => k.KeyId),
                }));
                return CliApp.Ok;
            }
            AnsiConsole.MarkupLine($"sealed {sealedManifest.Files.Count} files ({sealedManifest.Files.Sum(f => f.Bytes).ToString("N0", CultureInfo.InvariantCulture)} bytes) into [bold]{Markup.Escape(r.GetValue(output)!)}[/]");
            Console.Out.WriteLine($"manifest digest: {sealedManifest.ManifestDigest}");
            foreach (var k in sealedManifest.Recipients)
            {
                AnsiConsole.MarkupLine($"recipient: {k.KeyId}");
            }
            return CliApp.Ok;
        });
        return cmd;
    }

    private static Command CreateUnseal()
    {
        var dir = new Argument<string>("sealed-dir") { Description = "A directory written by `embargo weights seal`." };
        var identity = new Option<string>("--identity") { Description = "Your X25519 private key file (NAME.key).", Required = true };
        var output = new Option<string>("--out") { Description = "Directory to restore into (must not exist).", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the restored manifest as JSON." };
        var cmd = new Command("unseal", "Decrypt and verify sealed weights; nothing is written unless everything verifies.") { dir, identity, output, json };
        cmd.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var manifest = Unwrap(await WithProgress("unsealing", p =>
                WeightsSealer.UnsealAsync(r.GetValue(dir)!, r.GetValue(identity)!, r.GetValue(output)!, p, ct)));
            if (r.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    manifestDigest = manifest.Digest,
                    @out = r.GetValue(output),
                    files = manifest.Files.Count,
                    bytes = manifest.TotalBytes,
                }));
                return CliApp.Ok;
            }
            AnsiConsole.MarkupLine($"restored and verified {manifest.Files.Count} files ({manifest.TotalBytes.ToString("N0", CultureInfo.InvariantCulture)} bytes) into [bold]{Markup.Escape(r.GetValue(output)!)}[/]");
            Console.Out.WriteLine($"manifest digest: {manifest.Digest}");
            return CliApp.Ok;
        });
        return cmd;
    }

    private static Command CreateKeygen()
    {
        var output = new Option<string>("--out") { Description = "Writes NAME.key (private, mode 0600) and NAME.pub.", Required = true };
        var cmd = new Command("keygen", "Create an X25519 identity for receiving sealed weights.") { output };
        cmd.SetAction((ParseResult r) =>
        {
            var name = r.GetValue(output)!;
            var id = Unwrap(KeyFiles.Generate(name));
            Console.Out.WriteLine($"{id}");
            Console.Error.WriteLine($"wrote {name}.key (keep private) and {name}.pub (give to the sealer)");
            return CliApp.Ok;
        });
        return cmd;
    }

    private static Command CreateConvert()
    {
        var source = new Argument<string>("source") { Description = "A model file or directory (safetensors or GGUF; F32, F16, BF16, Q8_0, Q4_0 tensors)." };
        var output = new Argument<string>("output") { Description = "A new directory to write the copy into." };
        var to = new Option<string>("--to") { Description = "gguf-f16 | gguf-q8_0 | gguf-q4_0 | safetensors", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "safetensors only: F32 | F16 | BF16 for every tensor (default: keep each tensor's)" };
        var shards = new Option<int>("--shards") { Description = "safetensors only: number of files (default 1)", DefaultValueFactory = _ => 1 };
        var rename = new Option<bool>("--rename") { Description = "rename every tensor and file" };
        var cmd = new Command("convert",
            "Re-serialise weights into another container, dtype, sharding or names, or quantise them (GGUF Q8_0, Q4_0). "
            + "It exists to test leak recognition: `embargo scan` must still recognise the copy as the registered version.")
        {
            source, output, to, dtype, shards, rename,
        };
        cmd.SetAction((ParseResult r, CancellationToken ct) =>
        {
            var target = r.GetValue(to)!;
            if (!ConvertOptions.Targets.Contains(target))
            {
                throw new UserInputException($"--to '{target}' is not one of {string.Join(", ", ConvertOptions.Targets)}");
            }
            if (r.GetValue(dtype) is { } d && d is not ("F32" or "F16" or "BF16"))
            {
                throw new UserInputException($"--dtype '{d}' is not one of F32, F16, BF16");
            }
            if (r.GetValue(shards) is < 1 or > 10_000)
            {
                throw new UserInputException("--shards must be between 1 and 10000");
            }
            if (target != "safetensors" && (r.GetValue(dtype) is not null || r.GetValue(shards) != 1))
            {
                throw new UserInputException("--dtype and --shards apply only to --to safetensors");
            }
            var files = Unwrap(WeightsConverter.Convert(r.GetValue(source)!, r.GetValue(output)!, new ConvertOptions
            {
                Target = target, Dtype = r.GetValue(dtype), Shards = r.GetValue(shards), Rename = r.GetValue(rename),
            }, ct));
            foreach (var f in files)
            {
                Console.Out.WriteLine(Output.Safe(Path.Combine(r.GetValue(output)!, f)));
            }
            return Task.FromResult(CliApp.Ok);
        });
        return cmd;
    }

    private static Command CreateFingerprint()
    {
        var path = new Argument<string>("path") { Description = "A model file or directory." };
        var json = new Option<bool>("--json") { Description = "Print the fingerprints as JSON (sketches base64)." };
        var cmd = new Command("fingerprint", "Fingerprint every float tensor from its values, streaming (what `model add-version` registers and `scan` sends).") { path, json };
        cmd.SetAction((ParseResult r, CancellationToken ct) =>
        {
            var fingerprints = Unwrap(Fingerprints.Compute(r.GetValue(path)!, ct));
            if (r.GetValue(json))
            {
                Output.Write(fingerprints.Select(f => new
                {
                    file = f.File, tensor = f.Name, dtype = f.Dtype, elements = f.Fingerprint.Elements, sum = f.Fingerprint.Sum,
                    sumSquares = f.Fingerprint.SumSquares, informative = f.Fingerprint.Informative, sketch = f.Fingerprint.SketchBase64,
                }).ToList(), json: true);
                return Task.FromResult(CliApp.Ok);
            }
            Output.Write(fingerprints.Select(f => new FingerprintSummary(f.File, f.Name, f.Dtype, f.Fingerprint.Elements,
                f.Fingerprint.Mean, Math.Sqrt(f.Fingerprint.Variance), f.Fingerprint.Informative)).ToList(), json: false, title: "tensor fingerprints");
            return Task.FromResult(CliApp.Ok);
        });
        return cmd;
    }

    private static T Unwrap<T>(WeightsResult<T> result)
    {
        if (result.IsOk)
        {
            return result.Value;
        }
        var line = result.Error.ToString().ReplaceLineEndings(" ");
        throw result.Error.Kind is WeightsErrorKind.Tampered or WeightsErrorKind.KeyUnwrapFailed or WeightsErrorKind.NoKeyForIdentity
            ? new CommandFailedException(line)
            : new UserInputException(line);
    }

    private static void WriteJson(WeightsManifest manifest)
    {
        // Through Console.Out (not the raw stdout stream) so that redirection of Console works as everywhere else.
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("manifestDigest", manifest.Digest);
            w.WriteNumber("parameters", manifest.Parameters);
            w.WriteStartArray("files");
            foreach (var f in manifest.Files)
            {
                w.WriteStartObject();
                w.WriteString("path", f.Path);
                w.WriteNumber("bytes", f.Bytes);
                w.WriteString("sha256", f.Sha256);
                w.WriteString("format", f.Format);
                if (f.Header is not null)
                {
                    w.WriteNumber("tensors", f.Tensors!.Value);
                    w.WriteNumber("parameters", f.Parameters!.Value);
                    w.WriteStartObject("dtypes");
                    foreach (var (dtype, count) in f.Dtypes!)
                    {
                        w.WriteNumber(dtype, count);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }

    /// <summary>Runs <paramref name="work"/> with progress on stderr: a Spectre bar on a terminal, plain lines
    /// (every 10%, only for work of 256 MiB or more) when stderr is redirected.</summary>
    internal static async Task<WeightsResult<T>> WithProgress<T>(string verb, Func<IProgress<HashProgress>, Task<WeightsResult<T>>> work)
    {
        if (Console.IsErrorRedirected)
        {
            var lastDecile = -1;
            var gate = new object();
            var plain = new InlineProgress(p =>
            {
                if (p.TotalBytes < 256L * 1024 * 1024) return;
                // one line per 10% of the bytes, and a last one when every file is done
                var decile = p.FilesDone == p.FilesTotal ? 11 : (int)(p.TotalBytesDone * 10 / Math.Max(1, p.TotalBytes));
                lock (gate)
                {
                    if (decile <= lastDecile) return;
                    lastDecile = decile;
                }
                Console.Error.WriteLine($"{verb}: {p.TotalBytesDone / (1024 * 1024)} / {p.TotalBytes / (1024 * 1024)} MiB, {p.FilesDone}/{p.FilesTotal} files");
            });
            return await work(plain);
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        WeightsResult<T> result = default;
        await console.Progress().AutoClear(true).StartAsync(async ctx =>
        {
            var task = ctx.AddTask(verb, maxValue: 1);
            var reporter = new InlineProgress(p =>
            {
                task.MaxValue = Math.Max(1, p.TotalBytes);
                task.Value = p.TotalBytesDone;
                task.Description = $"{verb} {p.FilesDone}/{p.FilesTotal} files";
            });
            result = await work(reporter);
            task.Value = task.MaxValue;
        });
        return result;
    }

    /// <summary>Calls back on the reporting thread (unlike Progress&lt;T&gt;, which posts and may arrive after completion).</summary>
    private sealed class InlineProgress(Action<HashProgress> report) : IProgress<HashProgress>
    {
        public void Report(HashProgress value) => report(value);
    }
}
