using System.ClientModel;
using System.ClientModel.Primitives;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Embargo.Gateway;
using Embargo.Protocol.Certificates;
using Embargo.SampleModel;
using Microsoft.Extensions.Time.Testing;
using OpenAI;
using OpenAI.Chat;

namespace Embargo.Gateway.Tests.Infrastructure;

/// <summary>
/// A real gateway over HTTP on 127.0.0.1 in front of a real upstream (the SAMPLE model, or a scripted one), configured by a
/// real YAML file whose certificate is a real DSSE envelope signed by a certifier key made for the test.
/// </summary>
public sealed class GatewayWorld : IAsyncDisposable
{
    public const string AliceKey = "sk-alice-test-key";
    public const string BobKey = "sk-bob-test-key";
    public const string Model = "camelid-7b";

    private readonly List<IAsyncDisposable> _owned = [];

    private GatewayWorld(string directory) => Directory = directory;

    public string Directory { get; }
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));
    public GatewayHost Gateway { get; private set; } = null!;
    public string ConfigPath => Path.Combine(Directory, "gateway.yaml");
    public string AuditPath => Path.Combine(Directory, "gateway-audit.jsonl");

    public static async Task<GatewayWorld> CreateAsync() => await Task.FromResult(new GatewayWorld(System.IO.Directory.CreateTempSubdirectory("embargo-gateway-").FullName));

    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>Writes certificate.dsse.json (a release certificate at <paramref name="tier"/>) and certifier.pub.pem; with
    /// <paramref name="signedByAnotherKey"/> the envelope is signed by a key other than the one in the PEM.</summary>
    public string WriteCertificate(string tier, bool signedByAnotherKey = false, string name = "certificate.dsse.json")
    {
        using var certifier = SigningKey.Generate();
        using var other = SigningKey.Generate();
        var statement = new InTotoStatement
        {
            Type = InTotoStatement.StatementType,
            Subject = [new StatementSubject { Name = "sample-camelid-7b", Digest = new Dictionary<string, string> { ["sha256"] = new string('a', 64) } }],
            PredicateType = ReleasePredicate.Type,
            Predicate = new ReleasePredicate
            {
                Tier = tier, Case = "case_test", Model = "sample-camelid-7b", Developer = "org_mesa", Weights = [], Findings = [],
                ReferenceModel = "sample-frontier",
                Certifier = new CertifierIdentity { Organisation = "org_cert", Principal = "prn_cert", KeyId = certifier.PublicKey.KeyId },
                Ledger = new LedgerReference { Origin = "embargo.local/ledger", CertificationIndex = 1 },
                IssuedAt = Time.GetUtcNow(),
            },
        };
        var envelope = DsseEnvelope.Sign(Statements.Serialize(statement), DsseEnvelope.InTotoPayloadType, signedByAnotherKey ? other : certifier);
        File.WriteAllText(Path.Combine(Directory, name), envelope.ToJson());
        File.WriteAllText(Path.Combine(Directory, "certifier.pub.pem"), certifier.PublicKey.Pem);
        return name;
    }

    /// <summary>The example file of the issue, with this world's upstream URL and keys; <paramref name="extra"/> is appended.</summary>
    public string Yaml(Uri upstream, string aliceTier = "hosted", int rpm = 60, string screens = "", string extra = "", string certificate = "certificate.dsse.json",
        Uri? other = null, string otherName = "other-model", string aliceModels = Model, long tokensPerDay = 200000) => $"""
        upstreams:
          - name: {Model}
            url: {upstream}
            model: sample-camelid-7b
            certificate: ./{certificate}
            certifier_key: ./certifier.pub.pem
          - name: {otherName}
            url: {other ?? upstream}
            model: sample-open-baseline
            certificate: ./{certificate}
            certifier_key: ./certifier.pub.pem
        grants:
          - grantee: alice
            key_sha256: {Sha256Hex(AliceKey)}
            tier: {aliceTier}
            models: [{aliceModels}]
            requests_per_minute: {rpm}
            tokens_per_day: {tokensPerDay}
          - grantee: bob
            key_sha256: {Sha256Hex(BobKey)}
            tier: hosted
            models: [{otherName}]
            requests_per_minute: 60
        screens:
          - name: no-phishing-kits
            apply_to: [input, output]
            models: [{aliceModels}]
            keywords: ["credential harvesting kit"]
            regex: ["(?i)clone\\s+the\\s+login\\s+page"]
            max_match: 24
        {screens}
        audit:
          file: ./gateway-audit.jsonl
        {extra}
        """;

    /// <summary>Writes the file (and, when there is none yet, a certificate at api) and starts a gateway on a free port.</summary>
    /// <summary>Paces a test's upstream by the gateway's reads (<see cref="GatewayRunOptions.AfterStreamRead"/>): pass
    /// <see cref="StreamRead"/> to <see cref="StartGatewayAsync"/>, and have the upstream await <see cref="NextReadAsync"/> after each
    /// chunk it flushes, so the gateway reads the chunks one by one.</summary>
    public sealed class ReadPacer : IDisposable
    {
        private readonly SemaphoreSlim _reads = new(0);

        public void Dispose() => _reads.Dispose();

        public void StreamRead() => _reads.Release();

        /// <summary>Completes at the gateway's next read; <paramref name="requestAborted"/> (the upstream request's) ends the
        /// wait when the gateway has dropped the stream (a screen ended it).</summary>
        public async Task NextReadAsync(CancellationToken requestAborted)
        {
            if (!await _reads.WaitAsync(TimeSpan.FromSeconds(30), requestAborted))
            {
                throw new TimeoutException("the gateway did not read the chunk just sent");
            }
        }
    }

    public async Task<GatewayHost> StartGatewayAsync(string yaml, string? redis = null, string file = "gateway.yaml", Action? afterStreamRead = null,
        string urls = "http://127.0.0.1:0")
    {
        if (!File.Exists(Path.Combine(Directory, "certificate.dsse.json")))
        {
            WriteCertificate("api");
        }
        var path = Path.Combine(Directory, file);
        await File.WriteAllTextAsync(path, yaml);
        var config = GatewayConfigLoader.Load(path);
        Assert.True(config.IsOk, config.Error?.Message);
        var started = await GatewayHost.StartAsync(config.Value, new GatewayRunOptions { Time = Time, Redis = redis, AfterStreamRead = afterStreamRead, Urls = urls });
        Assert.True(started.IsOk, started.Error?.Message);
        Gateway = started.Value;
        _owned.Add(started.Value);
        return started.Value;
    }

    public async Task<SampleModelServer> StartSampleModelAsync(Func<SampleRequest, SampleReply?>? responder = null) =>
        Own(await SampleModelServer.StartAsync(new SampleModelOptions { Responder = responder }));

    /// <summary>The official OpenAI .NET client pointed at the gateway, with retries off so a 429 is seen as it is.</summary>
    public static ChatClient Chat(GatewayHost gateway, string key, string model = Model) =>
        new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = gateway.BaseUrl, RetryPolicy = new ClientRetryPolicy(0) }).GetChatClient(model);

    public static OpenAIClient Client(GatewayHost gateway, string key) =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = gateway.BaseUrl, RetryPolicy = new ClientRetryPolicy(0) });

    /// <summary>The OpenAI-shaped error a refused call carried: (status, error.code, error.message, error.param).</summary>
    public static (int Status, string? Code, string Message, string? Param) ErrorOf(ClientResultException e)
    {
        var raw = e.GetRawResponse()!;
        using var doc = JsonDocument.Parse(raw.Content.ToString());
        var error = doc.RootElement.GetProperty("error");
        return (raw.Status, error.GetProperty("code").GetString(), error.GetProperty("message").GetString()!, error.GetProperty("param").GetString());
    }

    public async Task<IReadOnlyList<JsonElement>> AuditLinesAsync(int expected)
    {
        // A stream's line is recorded just after its last chunk, so the caller can be done first: wait for the line (bounded),
        // then write what is pending.
        var audit = Gateway.Audit;
        var recorded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        audit.AfterRecord = count =>
        {
            if (count >= expected)
            {
                recorded.TrySetResult();
            }
        };
        try
        {
            if (audit.Recorded < expected)
            {
                await recorded.Task.WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        finally
        {
            audit.AfterRecord = null;
        }
        await audit.FlushAsync();
        var lines = await File.ReadAllLinesAsync(AuditPath);
        return lines.Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    /// <summary>Stops everything the world owns, even when one of them fails to stop (a gateway whose audit file refused its
    /// last lines throws <see cref="AuditNotWrittenException"/>), then throws the first such failure with what was being
    /// stopped. A test that breaks its audit file on purpose stops its gateway itself: a failure here replaces the test's own.</summary>
    public async ValueTask DisposeAsync()
    {
        Exception? first = null;
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            try
            {
                await _owned[i].DisposeAsync();
            }
            catch (Exception e)
            {
                first ??= new InvalidOperationException($"Stopping the test's {_owned[i].GetType().Name} failed: {e.Message}", e);
            }
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp directory left behind is harmless.
        }
        if (first is not null)
        {
            throw first;
        }
    }
}
