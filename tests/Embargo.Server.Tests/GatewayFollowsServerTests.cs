using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Embargo.Contracts;
using Embargo.Ledger;
using Embargo.SampleModel;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// The standalone gateway (`embargo gateway`, its own process, as deployed) in front of the SAMPLE model, following a real
/// server: it serves a certified release, stops serving when the certificate is flagged on the server (rule 5 reaching
/// run time), and its audit lines reach the ledger as a batch whose Merkle root recomputes from the audit file.
/// </summary>
public sealed class GatewayFollowsServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Key = "sk-gateway-follows-server";

    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task GatewayStopsServingOnceTheServerFlagsTheCertificateAndItsAuditBatchIsOnTheLedger()
    {
        using var w = await ReleasedAtHostedAsync();
        await using var model = await SampleModelServer.StartAsync();
        var dir = await GatewayDirectoryAsync(w, "embargo-gateway-follows-");
        await WriteConfigAsync(dir, "edge-1", model.BaseUrl, Host.Url);
        var port = FreePort();
        var output = new StringBuilder();
        using var gateway = StartGateway(dir, port, w.Tokens[w.Developer], output);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await WaitUntilAsync(async () => (await TryGetAsync(http, "/healthz")) == HttpStatusCode.OK, () => "the gateway did not start: " + output);

            var (status, body) = await ChatAsync(http);
            Assert.True(status == HttpStatusCode.OK, body);
            Assert.Equal("stop", JsonDocument.Parse(body).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

            // The gateway posts its audit lines as a batch: one leaf whose root is the RFC 6962 root of the file's lines.
            Leaf? batch = null;
            await WaitUntilAsync(async () => (batch = (await LeavesAsync(Host)).LastOrDefault(l => l.Type == "gateway.audit-batch" && l.Data["gateway"]!.GetValue<string>() == "edge-1")) is not null,
                () => "no gateway.audit-batch leaf: " + output);
            var lines = (await File.ReadAllLinesAsync(Path.Combine(dir, "audit.jsonl"))).Where(l => l.Length > 0).ToList();
            var tree = new MerkleTree();
            foreach (var line in lines.Take(batch!.Data["lines"]!.GetValue<int>()))
            {
                tree.AppendLeaf(Encoding.UTF8.GetBytes(line));
            }
            Assert.Equal(0, batch.Data["firstLine"]!.GetValue<long>());
            Assert.Equal(Convert.ToHexStringLower(tree.Root()), batch.Data["root"]!.GetValue<string>());
            Assert.Equal("allowed", JsonDocument.Parse(lines[0]).RootElement.GetProperty("decision").GetString());

            // A stronger reference model flags the certificate (rule 5); the gateway follows the server and stops serving.
            await w.Regulator.Models.RegisterReferenceAsync( new RegisterReferenceModelRequest { Name = $"stronger-{w.Tag}", Strength = w.Reference.Strength + 1 }, default);
            var last = (HttpStatusCode.OK, "");
            await WaitUntilAsync(async () => (last = await ChatAsync(http)).Item1 != HttpStatusCode.OK, () => "the gateway kept serving a flagged certificate: " + output);
            Assert.Equal(HttpStatusCode.Forbidden, last.Item1);
            var error = JsonDocument.Parse(last.Item2).RootElement.GetProperty("error");
            Assert.Equal("tier_not_certified", error.GetProperty("code").GetString());
            Assert.Contains("flagged", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            if (!gateway.HasExited)
            {
                gateway.Kill();
                await gateway.WaitForExitAsync();
            }
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A version certified and released at hosted on the class's server.</summary>
    private async Task<ProtocolWorld> ReleasedAtHostedAsync()
    {
        var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");
        return w;
    }

    /// <summary>A new directory holding the release's certificate and the certifier's public key, as a gateway.yaml names them.</summary>
    private static async Task<string> GatewayDirectoryAsync(ProtocolWorld w, string prefix)
    {
        var dir = Directory.CreateTempSubdirectory(prefix).FullName;
        await File.WriteAllTextAsync(Path.Combine(dir, "certificate.dsse.json"), w.Certificate!.Envelope);
        await File.WriteAllTextAsync(Path.Combine(dir, "certifier.pub.pem"), w.CertifierKey.PublicKey.Pem);
        return dir;
    }

    private static Task WriteConfigAsync(string dir, string name, Uri upstream, Uri server) =>
        File.WriteAllTextAsync(Path.Combine(dir, "gateway.yaml"), $"""
            name: {name}
            upstreams:
              - name: camelid-7b
                url: {upstream}
                model: sample-camelid-7b
                certificate: ./certificate.dsse.json
                certifier_key: ./certifier.pub.pem
            grants:
              - grantee: alice
                key_sha256: {Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Key)))}
                tier: hosted
                models: [camelid-7b]
                requests_per_minute: 600
            audit:
              file: ./audit.jsonl
              server: {server}
              token_env: EMBARGO_TOKEN
            """);

    /// <summary>`embargo gateway` as its own process, its output collected into <paramref name="output"/>.</summary>
    private static Process StartGateway(string dir, int port, string token, StringBuilder output)
    {
        var gateway = Process.Start(new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "embargo.dll"), "gateway", "--config", Path.Combine(dir, "gateway.yaml"), "--urls", $"http://127.0.0.1:{port}"])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            Environment = { ["EMBARGO_TOKEN"] = token },
        })!;
        gateway.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        gateway.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        gateway.BeginOutputReadLine();
        gateway.BeginErrorReadLine();
        return gateway;
    }

    [Fact]
    public async Task LinesAGatewayRecordedWhileTheServerWasOutOfReachGoOntoTheLedgerWhenItStartsAgainAfterACrash()
    {
        using var w = await ReleasedAtHostedAsync();
        await using var model = await SampleModelServer.StartAsync();
        var dir = await GatewayDirectoryAsync(w, "embargo-gateway-catch-up-");
        var name = $"edge-{w.Tag}";
        var output = new StringBuilder();
        try
        {
            // First run: the server is out of reach (nothing listens there). The certificate cannot be confirmed, so nothing is
            // served, but every refusal is an audit line; then the process dies without stopping (SIGKILL).
            await WriteConfigAsync(dir, name, model.BaseUrl, new Uri($"http://127.0.0.1:{FreePort()}"));
            var port = FreePort();
            using (var first = StartGateway(dir, port, w.Tokens[w.Developer], output))
            {
                using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
                await WaitUntilAsync(async () => (await TryGetAsync(http, "/healthz")) == HttpStatusCode.OK, () => "the gateway did not start: " + output);
                for (var i = 0; i < 3; i++)
                {
                    var (status, body) = await ChatAsync(http);
                    Assert.True(status == HttpStatusCode.Forbidden, body);
                }
                await WaitUntilAsync(async () => (await AuditLinesAsync(dir)).Count == 3, () => "the three refusals did not reach the audit file: " + output);
                first.Kill();
                await first.WaitForExitAsync();
            }
            Assert.DoesNotContain(await LeavesAsync(Host), l => l.Type == "gateway.audit-batch" && l.Data["gateway"]!.GetValue<string>() == name);

            // Second run, the server in reach: the first run's lines are posted before anything else, from line 0.
            await WriteConfigAsync(dir, name, model.BaseUrl, Host.Url);
            port = FreePort();
            using (var second = StartGateway(dir, port, w.Tokens[w.Developer], output))
            {
                List<Leaf> batches = [];
                await WaitUntilAsync(async () => (batches = [.. (await LeavesAsync(Host)).Where(l => l.Type == "gateway.audit-batch" && l.Data["gateway"]!.GetValue<string>() == name)]).Count > 0,
                    () => "no gateway.audit-batch leaf for the first run's lines: " + output);
                var lines = await AuditLinesAsync(dir);
                var covered = 0L;
                foreach (var batch in batches)
                {
                    Assert.Equal(covered, batch.Data["firstLine"]!.GetValue<long>());
                    var count = batch.Data["lines"]!.GetValue<int>();
                    var tree = new MerkleTree();
                    foreach (var line in lines.Skip((int)covered).Take(count))
                    {
                        tree.AppendLeaf(Encoding.UTF8.GetBytes(line));
                    }
                    Assert.Equal(Convert.ToHexStringLower(tree.Root()), batch.Data["root"]!.GetValue<string>());
                    covered += count;
                }
                Assert.True(covered >= 3, $"the ledger covers {covered} line(s) of the first run's 3");
                Assert.All(lines.Take(3), l => Assert.Equal("tier_not_certified", JsonDocument.Parse(l).RootElement.GetProperty("decision").GetString()));
                second.Kill();
                await second.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<List<string>> AuditLinesAsync(string dir)
    {
        var path = Path.Combine(dir, "audit.jsonl");
        return File.Exists(path) ? [.. (await File.ReadAllLinesAsync(path)).Where(l => l.Length > 0)] : [];
    }

    private static async Task<(HttpStatusCode, string)> ChatAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model": "camelid-7b", "messages": [{"role": "user", "content": "phish-007: which option is right?"}]}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpStatusCode?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Polls until the condition holds; gives up (failing the test) after a generous bound, so a broken gateway cannot hang the suite.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<string> failure)
    {
        for (var i = 0; i < 600; i++)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail(failure());
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
