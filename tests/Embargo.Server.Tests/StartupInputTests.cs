using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Embargo.Cli.Infrastructure;
using Embargo.Ledger;
using Embargo.Server.Tests.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>What a command that starts something is given before it starts: `--urls` of every command that listens (`serve`,
/// `gateway`, `witness serve`; an address Kestrel cannot take, or a port another process holds, is one line naming `--urls`
/// and exit code 2 — not "unexpected … (a bug)", not a stack trace from the host's log before it), the sample model's
/// `--port`, the server's data directory and the demo's tasks.</summary>
[Collection(CliCollection.Name)]
public sealed class StartupInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("embargo-listen-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Each listening command, with everything it needs to get as far as listening.</summary>
    private async Task<string[][]> CommandsAsync()
    {
        // The gateway starts with an upstream it will not serve (its certificate does not verify): enough to listen.
        await File.WriteAllTextAsync(Path.Combine(_dir, "certificate.dsse.json"), "{}");
        await File.WriteAllTextAsync(Path.Combine(_dir, "certifier.pub.pem"), "not a key");
        await File.WriteAllTextAsync(Path.Combine(_dir, "gateway.yaml"), """
            upstreams:
              - name: camelid-7b
                url: http://127.0.0.1:9/v1
                certificate: ./certificate.dsse.json
                certifier_key: ./certifier.pub.pem
            grants:
              - grantee: alice
                key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
                tier: hosted
                models: [camelid-7b]
                requests_per_minute: 60
            """);
        var witness = Path.Combine(_dir, "w");
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("witness", "keygen", "w.example/witness", "--out", witness)).Code);
        using var log = NoteSigner.Generate("log.example");
        await File.WriteAllTextAsync(Path.Combine(_dir, "log.vkey"), log.VerifierKey + "\n");
        return
        [
            ["serve", "--data", Path.Combine(_dir, "data")],
            ["gateway", "--config", Path.Combine(_dir, "gateway.yaml")],
            ["witness", "serve", "--key", witness + ".key", "--log", Path.Combine(_dir, "log.vkey"), "--data", Path.Combine(_dir, "witness-data")],
        ];
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:8700", "the scheme must be http://")]
    [InlineData("127.0.0.1 8700", "not an address such as http://127.0.0.1:8700")]
    [InlineData("http://127.0.0.1:99999", "port 99999 is not from 0 to 65535")]
    [InlineData("http://[::1:8700", "the host is not a name or an IP address")]
    [InlineData("http://127.0.0.1:8700/v1", "an address to listen on has no path")]
    [InlineData(" ; ", "--urls is empty")]
    public async Task EveryListeningCommandRefusesAnAddressItCannotListenOnWithOneLineAndExitCode2(string urls, string why)
    {
        foreach (var command in await CommandsAsync())
        {
            var run = await CliRunner.RunAsync([.. command, "--urls", urls]).WaitAsync(TimeSpan.FromSeconds(60));

            Assert.True(run.Code == CliApp.BadInput, $"{command[0]}: exit {run.Code}: {run.Error}");
            var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("embargo: --urls", line, StringComparison.Ordinal);
            Assert.Contains(why, line, StringComparison.Ordinal);
            Assert.DoesNotContain("listening", run.Out + run.Error, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(Path.Combine(_dir, "data")), "serve created its data directory for an address it could not use");
    }

    [Fact]
    public async Task HttpsIsRefusedByServeAndTheWitnessAndByAGatewayWhoseFileHasNoTlsWithOneLineAndExitCode2()
    {
        foreach (var command in await CommandsAsync())
        {
            var run = await CliRunner.RunAsync([.. command, "--urls", "https://127.0.0.1:8700"]).WaitAsync(TimeSpan.FromSeconds(60));

            Assert.True(run.Code == CliApp.BadInput, $"{command[0]}: exit {run.Code}: {run.Error}");
            var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(command[0] == "gateway"
                ? "embargo: --urls has an https:// address, but the file has no tls (certificate and key) to serve it with"
                : "embargo: --urls 'https://127.0.0.1:8700': only http:// is served here; put a TLS terminator (nginx, a load balancer) in front for https", line);
            Assert.DoesNotContain("listening", run.Out + run.Error, StringComparison.Ordinal);
        }
        Assert.False(Directory.Exists(Path.Combine(_dir, "data")), "serve created its data directory for an address it could not use");
    }

    [Fact]
    public async Task EveryListeningCommandRefusesAPortAnotherProcessHoldsWithOneLineAndExitCode2AndNoStackTrace()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var urls = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        foreach (var command in await CommandsAsync())
        {
            // As a user runs it, in its own process: the host's own log of a failed start would show on its stderr.
            var (code, stderr) = await RunEmbargoAsync([.. command, "--urls", urls]);

            Assert.True(code == CliApp.BadInput, $"{command[0]}: exit {code}: {stderr}");
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal($"embargo: --urls: Failed to bind to address {urls}: address already in use.", lines[^1]);
            // Before it, at most the notes a start prints (serve's "admin token: …"): no log, no exception, no stack.
            Assert.All(lines[..^1], l => Assert.DoesNotMatch(@"^\s|Exception|fail:|crit:", l));
            Assert.True(lines.Length <= 2, $"{command[0]} wrote {lines.Length} lines: {stderr}");
        }
    }

    [Fact]
    public async Task TheSampleModelRefusesAPortAnotherProcessHoldsWithOneLineAndExitCode2()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var (code, stderr) = await RunEmbargoAsync(["sample-model", "serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.True(code == CliApp.BadInput, $"exit {code}: {stderr}");
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"embargo: --port {port}: cannot listen on 127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.Contains("address already in use", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADataDirectoryWhosePathReadsLikeConnectionStringKeysStillHoldsAWritableStore()
    {
        // Legal on Linux; concatenated into "Data Source=…" it was read as more keys (Mode=ReadOnly) and the start failed.
        var data = Path.Combine(_dir, "lab;Mode=ReadOnly;Cache='x'");
        var token = Embargo.Server.Infrastructure.Ids.NewToken();
        var (app, url) = await ServerLauncher.StartAsync(new ServerSettings { DataDirectory = data, AdminToken = token }, CancellationToken.None);
        try
        {
            using var http = new HttpClient();
            var org = await new Embargo.Contracts.EmbargoClient(url, token, http).Admin.CreateOrganisationAsync(
                new Embargo.Contracts.CreateOrganisationRequest { Name = "Semicolon Labs" }, CancellationToken.None);
            Assert.StartsWith("org_", org.Id, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
        Assert.True(File.Exists(Path.Combine(data, "embargo.db")));
    }

    [Fact]
    public async Task TheDemoRefusesATasksDirectoryWithoutItsTasksBeforeItStartsAnything()
    {
        var tasks = Directory.CreateDirectory(Path.Combine(_dir, "no-tasks")).FullName;
        var output = Path.Combine(_dir, "demo");

        var run = await CliRunner.RunAsync("demo", "--out", output, "--tasks", tasks).WaitAsync(TimeSpan.FromSeconds(120));

        Assert.True(run.Code == CliApp.BadInput, $"exit {run.Code}: {run.Error}");
        var line = Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"embargo: --tasks {tasks}: task file", line, StringComparison.Ordinal);
        Assert.Contains("cyber-phishing.yaml not found", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(output), "the demo wrote its output before finding its tasks missing");
    }

    private static async Task<(int Code, string Error)> RunEmbargoAsync(string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "embargo.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            // A command that listened anyway would run until stopped.
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        await stdout;
        return (process.ExitCode, await stderr);
    }
}
