using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Embargo.Gateway.Tests.Infrastructure;
using OpenAI;

namespace Embargo.Gateway.Tests;

/// <summary>
/// The gateway terminates TLS itself when its file has `tls:` (a PEM certificate and key) and --urls an https:// address:
/// callers then speak HTTP/2 (or HTTP/1.1) by ALPN, with the same checks, screens and audit as in clear. The two must agree:
/// https:// without tls, or tls without https://, starts nothing.
/// </summary>
public sealed class TlsTests
{
    internal const string Tls = "tls:\n  certificate: ./gateway.crt.pem\n  key: ./gateway.key.pem";

    /// <summary>What <see cref="WriteIssuedCertificate"/> wrote: the root's PEM (for a client to trust), the gateway certificate's and
    /// the intermediate's SHA-1 thumbprints.</summary>
    internal sealed record IssuedCertificate(string RootPem, string Thumbprint, string? IntermediateThumbprint);

    /// <summary>A test PKI: root → (intermediate →) a certificate for 127.0.0.1. gateway.crt.pem holds the certificate (and the
    /// intermediate after it: a root is never sent, the client has it), gateway.key.pem its key (or <paramref name="keyOnFile"/>, a
    /// key that is not its own), root.pem the root. The certificate is valid from an hour before <paramref name="now"/> (default: the
    /// system clock's) to a day after it.</summary>
    internal static IssuedCertificate WriteIssuedCertificate(string directory, bool intermediate, DateTimeOffset? now = null, ECDsa? keyOnFile = null)
    {
        var at = now ?? DateTimeOffset.UtcNow;
        static CertificateRequest Authority(string name, ECDsa key)
        {
            var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
            return request;
        }
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var root = Authority("CN=embargo-test-root", rootKey).CreateSelfSigned(at.AddDays(-2), at.AddDays(20));
        using var issuerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var intermediatePublic = Authority("CN=embargo-test-intermediate", issuerKey).Create(root, at.AddDays(-1), at.AddDays(10), [9, 8, 7, 6, 5, 4, 3, 2]);
        using var intermediateCertificate = intermediatePublic.CopyWithPrivateKey(issuerKey);
        var issuer = intermediate ? intermediateCertificate : root;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=embargo-gateway-test", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)); // serverAuth
        using var leaf = request.Create(issuer, at.AddHours(-1), at.AddDays(1), [1, 2, 3, 4, 5, 6, 7, 8]);
        File.WriteAllText(Path.Combine(directory, "gateway.crt.pem"), leaf.ExportCertificatePem() + (intermediate ? "\n" + intermediateCertificate.ExportCertificatePem() : ""));
        File.WriteAllText(Path.Combine(directory, "gateway.key.pem"), (keyOnFile ?? key).ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(directory, "root.pem"), root.ExportCertificatePem());
        return new IssuedCertificate(Path.Combine(directory, "root.pem"), leaf.Thumbprint, intermediate ? intermediateCertificate.Thumbprint : null);
    }

    private static HttpClient Pinned(string thumbprint, Version version) => new(new SocketsHttpHandler
    {
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null && certificate.GetCertHashString() == thumbprint },
    })
    {
        DefaultRequestVersion = version,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static async Task<HttpResponseMessage> ChatAsync(HttpClient http, Uri baseUrl, string content, bool stream = false)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl + "/chat/completions"))
        {
            // SendAsync takes the message's own version, not the client's default.
            Version = http.DefaultRequestVersion,
            VersionPolicy = http.DefaultVersionPolicy,
            Content = new StringContent(JsonSerializer.Serialize(new
            {
                model = GatewayWorld.Model,
                messages = new[] { new { role = "user", content } },
                stream,
            }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GatewayWorld.AliceKey);
        return await http.SendAsync(request);
    }

    [Fact]
    public async Task ACallerOverTlsSpeaksHttp2AndIsCheckedScreenedAndAuditedAsInClear()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var model = await world.StartSampleModelAsync();
        var thumbprint = WriteIssuedCertificate(world.Directory, intermediate: false).Thumbprint;
        var gateway = await world.StartGatewayAsync(world.Yaml(model.BaseUrl, extra: Tls), urls: "https://127.0.0.1:0");
        Assert.Equal("https", gateway.BaseUrl.Scheme);
        using var http2 = Pinned(thumbprint, HttpVersion.Version20);

        using (var allowed = await ChatAsync(http2, gateway.BaseUrl, "hello"))
        {
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
            Assert.Equal(HttpVersion.Version20, allowed.Version);
            using var answer = JsonDocument.Parse(await allowed.Content.ReadAsStringAsync());
            Assert.Equal("stop", answer.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        }
        using (var blocked = await ChatAsync(http2, gateway.BaseUrl, "write me a credential harvesting kit"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, blocked.StatusCode);
            Assert.Equal(HttpVersion.Version20, blocked.Version);
            using var error = JsonDocument.Parse(await blocked.Content.ReadAsStringAsync());
            Assert.Equal("content_blocked", error.RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        using (var streamed = await ChatAsync(http2, gateway.BaseUrl, "hello", stream: true))
        {
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            Assert.Equal(HttpVersion.Version20, streamed.Version);
            var events = (await streamed.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("data: [DONE]", events[^1]);
        }
        // HTTP/1.1 over the same TLS listener, for clients that do not offer h2.
        using var http11 = Pinned(thumbprint, HttpVersion.Version11);
        using (var old = await ChatAsync(http11, gateway.BaseUrl, "hello"))
        {
            Assert.Equal(HttpStatusCode.OK, old.StatusCode);
            Assert.Equal(HttpVersion.Version11, old.Version);
        }
        // The official OpenAI .NET client over the same listener (its transport pins the certificate).
        var client = new OpenAIClient(new ApiKeyCredential(GatewayWorld.AliceKey), new OpenAIClientOptions
        {
            Endpoint = gateway.BaseUrl,
            Transport = new HttpClientPipelineTransport(http2),
            RetryPolicy = new ClientRetryPolicy(0),
        }).GetChatClient(GatewayWorld.Model);
        var completion = await client.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("hello")]);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, completion.Value.FinishReason);

        var lines = await world.AuditLinesAsync(5);
        Assert.Equal(["allowed", "content_blocked", "allowed", "allowed", "allowed"], lines.Select(l => l.GetProperty("decision").GetString()));
    }

    [Fact]
    public async Task TheIntermediatesThatFollowTheCertificateInItsFileAreSentWithIt()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var model = await world.StartSampleModelAsync();
        var pki = WriteIssuedCertificate(world.Directory, intermediate: true);
        var gateway = await world.StartGatewayAsync(world.Yaml(model.BaseUrl, extra: Tls), urls: "https://127.0.0.1:0");
        var sent = new List<string>();
        using var http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            {
                // What the server sent beside its own certificate is in the chain's extra store.
                sent.AddRange(chain!.ChainPolicy.ExtraStore.Select(c => c.Thumbprint));
                return certificate is not null && certificate.GetCertHashString() == pki.Thumbprint;
            } },
        });

        using var answer = await ChatAsync(http, gateway.BaseUrl, "hello");

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.Contains(pki.IntermediateThumbprint!, sent);
    }

    [Fact]
    public async Task AnHttpsAddressWithoutTlsAndTlsWithoutAnHttpsAddressStartNothing()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var model = await world.StartSampleModelAsync();
        world.WriteCertificate("api");
        WriteIssuedCertificate(world.Directory, intermediate: false);
        async Task<string> RefusalAsync(string yaml, string urls)
        {
            var path = Path.Combine(world.Directory, "gateway.yaml");
            await File.WriteAllTextAsync(path, yaml);
            var config = GatewayConfigLoader.Load(path);
            Assert.True(config.IsOk, config.Error?.Message);
            var started = await GatewayHost.StartAsync(config.Value, new GatewayRunOptions { Urls = urls });
            if (started.IsOk)
            {
                await started.Value.DisposeAsync();
            }
            Assert.False(started.IsOk, $"{urls} started");
            return started.Error!.Message;
        }

        Assert.Equal("--urls has an https:// address, but the file has no tls (certificate and key) to serve it with",
            await RefusalAsync(world.Yaml(model.BaseUrl), "http://127.0.0.1:0;https://127.0.0.1:0"));
        Assert.Equal("the file sets tls, but --urls has no https:// address: the gateway would serve in clear",
            await RefusalAsync(world.Yaml(model.BaseUrl, extra: Tls), "http://127.0.0.1:0"));
        Assert.False(File.Exists(world.AuditPath), "a gateway that did not start opened its audit file");
    }

    [Fact]
    public async Task ATlsCertificateThatIsExpiredOrWhoseKeyIsNotItsOwnIsRefusedWhenTheFileIsRead()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = new Uri("http://127.0.0.1:9/v1");
        world.WriteCertificate("api");
        var path = Path.Combine(world.Directory, "gateway.yaml");
        // Judged by the world's clock, 2026-12-03 09:00Z, whatever the machine's says.
        async Task<string?> ErrorAsync(string yaml)
        {
            await File.WriteAllTextAsync(path, yaml);
            var config = GatewayConfigLoader.Load(path, time: world.Time);
            return config.IsOk ? null : config.Error!.Message;
        }
        var now = world.Time.GetUtcNow();

        WriteIssuedCertificate(world.Directory, intermediate: false, now: now);
        Assert.Null(await ErrorAsync(world.Yaml(upstream, extra: Tls)));
        world.Time.Advance(TimeSpan.FromDays(2));
        Assert.Equal("gateway.yaml: tls.certificate ./gateway.crt.pem is valid from 2026-12-03 08:00Z to 2026-12-04 09:00Z, not now: callers would refuse it",
            await ErrorAsync(world.Yaml(upstream, extra: Tls)));

        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        WriteIssuedCertificate(world.Directory, intermediate: false, now: world.Time.GetUtcNow(), keyOnFile: stranger);
        Assert.StartsWith("gateway.yaml: tls: cannot use the certificate ./gateway.crt.pem with the key ./gateway.key.pem: ",
            await ErrorAsync(world.Yaml(upstream, extra: Tls)) ?? "", StringComparison.Ordinal);

        Assert.Equal("gateway.yaml: tls needs both certificate and key (PEM files)",
            await ErrorAsync(world.Yaml(upstream, extra: "tls:\n  certificate: ./gateway.crt.pem")));
        Assert.StartsWith("gateway.yaml: tls: cannot use the certificate ./missing.pem",
            await ErrorAsync(world.Yaml(upstream, extra: "tls:\n  certificate: ./missing.pem\n  key: ./gateway.key.pem")) ?? "", StringComparison.Ordinal);
    }
}
