using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Embargo.Ledger;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Embargo.Text;

namespace Embargo.Server.Witness;

/// <summary>What `embargo witness serve` runs with.</summary>
public sealed record WitnessSettings
{
    /// <summary>The witness's secret key ("PRIVATE+KEY+name+id+base64(0x04 || seed)").</summary>
    public required string SecretKey { get; init; }
    /// <summary>The logs it witnesses: note verifier keys whose name is the log's origin.</summary>
    public required IReadOnlyList<string> LogKeys { get; init; }
    /// <summary>Where the latest cosigned size and root of each log are kept (witness-state.json).</summary>
    public required string DataDirectory { get; init; }
    public string Urls { get; init; } = "http://127.0.0.1:0";
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;
    public TimeProvider? Time { get; init; }
}

/// <summary>
/// A C2SP tlog-witness: POST /add-checkpoint verifies the log's signature and the consistency proof from the size it
/// last cosigned, persists the new size and root (atomically, before answering) and returns a cosignature/v1 line.
/// </summary>
public static partial class WitnessHost
{
    /// <exception cref="ArgumentException">A key is unusable or the state file is unreadable (a one-line message).</exception>
    public static async Task<(WebApplication App, Uri BaseUrl, string VerifierKey)> StartAsync(WitnessSettings settings, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var signer = CosignatureSigner.FromSecretKey(settings.SecretKey);
        if (!signer.IsOk)
        {
            throw new ArgumentException($"witness key: {signer.Error.Message}");
        }
        var logs = new Dictionary<string, NoteVerifier>(StringComparer.Ordinal);
        foreach (var vkey in settings.LogKeys)
        {
            var verifier = NoteVerifier.Parse(vkey.Trim());
            if (!verifier.IsOk)
            {
                throw new ArgumentException($"log key: {verifier.Error.Message}");
            }
            if (!logs.TryAdd(verifier.Value.Name, verifier.Value))
            {
                throw new ArgumentException($"two log keys for the origin '{verifier.Value.Name}': a witness trusts one key per log");
            }
        }
        if (logs.Count == 0)
        {
            throw new ArgumentException("a witness needs at least one log key (--log)");
        }
        var store = WitnessStore.Open(settings.DataDirectory);

        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(settings.Urls);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = AddCheckpointRequest.MaxBodyBytes);
        builder.Logging.SetMinimumLevel(settings.LogLevel);
        // A start that fails (the port is taken) is reported by the caller in one line; the host's own "Hosting failed to start"
        // error would print the exception's stack first. A background service that fails still logs (critical, with its exception).
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.AddSingleton(settings.Time ?? TimeProvider.System);
        var app = builder.Build();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Embargo.Witness");
        var time = app.Services.GetRequiredService<TimeProvider>();
        var witness = new WitnessService(signer.Value, logs, store, time, logger);
        app.Lifetime.ApplicationStopped.Register(() =>
        {
            witness.Dispose();
            signer.Value.Dispose();
        });
        app.MapPost("/add-checkpoint", witness.AddCheckpointAsync);
        app.MapGet("/", () => Results.Text($"tlog-witness {signer.Value.VerifierKey}\n", "text/plain; charset=utf-8"));
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var url = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        return (app, url, signer.Value.VerifierKey);
    }

    /// <summary>A fresh witness key pair: (secret key, verifier key).</summary>
    public static (string SecretKey, string VerifierKey) GenerateKey(string name)
    {
        using var signer = CosignatureSigner.Generate(name);
        return (signer.SecretKey, signer.VerifierKey);
    }

    private sealed partial class WitnessService(CosignatureSigner signer, IReadOnlyDictionary<string, NoteVerifier> logs, WitnessStore store, TimeProvider time, ILogger logger) : IDisposable
    {
        private readonly SemaphoreSlim _gate = new(1, 1);

        public void Dispose() => _gate.Dispose();

        public async Task<IResult> AddCheckpointAsync(HttpRequest request, CancellationToken ct)
        {
            string text;
            try
            {
                if (request.ContentLength > AddCheckpointRequest.MaxBodyBytes)
                {
                    return Plain(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {AddCheckpointRequest.MaxBodyBytes} bytes");
                }
                using var reader = new StreamReader(request.Body, new UTF8Encoding(false, throwOnInvalidBytes: true));
                text = await reader.ReadToEndAsync(ct);
            }
            catch (DecoderFallbackException)
            {
                return Plain(StatusCodes.Status400BadRequest, "the body is not UTF-8");
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Plain(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {AddCheckpointRequest.MaxBodyBytes} bytes");
            }
            var parsed = AddCheckpointRequest.Parse(text);
            if (!parsed.IsOk)
            {
                return Plain(StatusCodes.Status400BadRequest, parsed.Error.Message);
            }
            // Checking the old size and persisting the new tree happen under one lock (the spec's race).
            await _gate.WaitAsync(ct);
            try
            {
                var decision = WitnessRules.Decide(parsed.Value, logs, store.Get);
                switch (decision.Verdict)
                {
                    case WitnessVerdict.Cosign:
                        var cp = decision.Checkpoint!;
                        store.Put(cp.Origin, new WitnessedTree(cp.Size, cp.RootHash));
                        var line = signer.Cosign(cp.ToNoteBody(), time.GetUtcNow().ToUnixTimeSeconds());
                        LogCosigned(logger, cp.Origin, cp.Size, decision.Reason);
                        return Results.Text(line, "text/plain; charset=utf-8", Encoding.UTF8, StatusCodes.Status200OK);
                    case WitnessVerdict.Conflict when !decision.IsForkEvidence:
                        LogConflict(logger, decision.Checkpoint!.Origin, parsed.Value.OldSize, decision.KnownSize);
                        return Results.Text($"{decision.KnownSize}\n", "text/x.tlog.size", Encoding.ASCII, StatusCodes.Status409Conflict);
                    default:
                        if (decision.IsForkEvidence)
                        {
                            LogFork(logger, decision.Checkpoint!.Origin, decision.Checkpoint.Size, decision.KnownSize, decision.Reason);
                        }
                        else
                        {
                            LogRefused(logger, (int)decision.Verdict, decision.Reason);
                        }
                        return Plain((int)decision.Verdict, decision.Reason);
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        private static IResult Plain(int status, string message) =>
            Results.Text(message + "\n", "text/plain; charset=utf-8", Encoding.UTF8, status);

        [LoggerMessage(Level = LogLevel.Information, Message = "Cosigned {Origin} at size {Size} ({Reason})")]
        private static partial void LogCosigned(ILogger logger, string origin, long size, string reason);

        [LoggerMessage(Level = LogLevel.Information, Message = "Conflict for {Origin}: the log sent old size {Old}, this witness last cosigned {Known}")]
        private static partial void LogConflict(ILogger logger, string origin, long old, long known);

        [LoggerMessage(Level = LogLevel.Critical, Message = "Refused a forked history of {Origin}: a checkpoint of size {Size} does not extend the tree of size {Known} this witness cosigned. {Reason}")]
        private static partial void LogFork(ILogger logger, string origin, long size, long known, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Refused add-checkpoint ({Status}): {Reason}")]
        private static partial void LogRefused(ILogger logger, int status, string reason);
    }
}

/// <summary>The witness's only state: per log origin, the size and root it last cosigned, in one JSON file replaced atomically.</summary>
public sealed class WitnessStore
{
    private readonly string _path;
    private readonly Dictionary<string, WitnessedTree> _trees;

    private WitnessStore(string path, Dictionary<string, WitnessedTree> trees)
    {
        _path = path;
        _trees = trees;
    }

    public const string FileName = "witness-state.json";

    /// <exception cref="ArgumentException">The state file exists but cannot be read as witness state.</exception>
    public static WitnessStore Open(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        var trees = new Dictionary<string, WitnessedTree>(StringComparer.Ordinal);
        if (File.Exists(path))
        {
            try
            {
                var state = JsonSerializer.Deserialize(File.ReadAllText(path), WitnessStateJson.Default.WitnessState);
                foreach (var (origin, log) in state?.Logs ?? [])
                {
                    var root = Convert.FromBase64String(log.Root);
                    if (log.Size < 0 || root.Length != MerkleHash.Size)
                    {
                        throw new FormatException($"log {origin}: bad size or root");
                    }
                    trees[origin] = new WitnessedTree(log.Size, root);
                }
            }
            catch (Exception e) when (e is JsonException or FormatException)
            {
                throw new ArgumentException($"{path} is not witness state: {(e is JsonException json ? JsonErrorText.Describe(json) : e.Message)}", e);
            }
        }
        return new WitnessStore(path, trees);
    }

    public WitnessedTree? Get(string origin) => _trees.GetValueOrDefault(origin);

    /// <summary>Writes the whole state to a temporary file, flushes it to disk, then renames it over the old one.</summary>
    public void Put(string origin, WitnessedTree tree)
    {
        var next = new Dictionary<string, WitnessedTree>(_trees, StringComparer.Ordinal) { [origin] = tree };
        var state = new WitnessState
        {
            Logs = next.ToDictionary(kv => kv.Key, kv => new WitnessLogState { Size = kv.Value.Size, Root = Convert.ToBase64String(kv.Value.RootHash) }, StringComparer.Ordinal),
        };
        var tmp = _path + ".tmp";
        using (var stream = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, state, WitnessStateJson.Default.WitnessState);
            stream.Flush(flushToDisk: true);
        }
        File.Move(tmp, _path, overwrite: true);
        _trees[origin] = tree;
    }
}

public sealed record WitnessState
{
    public Dictionary<string, WitnessLogState> Logs { get; init; } = [];
}

public sealed record WitnessLogState
{
    public required long Size { get; init; }
    public required string Root { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(WitnessState))]
internal sealed partial class WitnessStateJson : JsonSerializerContext;
