using Embargo.Cli.Infrastructure;
using Embargo.Ledger;
using Embargo.Server.Tests.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>`embargo witness keygen` and the witness options of `embargo serve`, in process.</summary>
[Collection(CliCollection.Name)]
public sealed class WitnessCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("embargo-witness-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task KeygenWritesAPrivateKeyReadableOnlyByItsOwnerAndAVkeyThatVerifiesItsCosignatures()
    {
        var prefix = Path.Combine(_dir, "regulator");
        var run = await CliRunner.RunAsync("witness", "keygen", "regulator.example/witness", "--out", prefix);
        Assert.True(run.Code == CliApp.Ok, run.Error);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(prefix + ".key"));
        }
        using var signer = CosignatureSigner.FromSecretKey((await File.ReadAllTextAsync(prefix + ".key")).Trim()).Value;
        var verifier = CosignatureVerifier.Parse((await File.ReadAllTextAsync(prefix + ".vkey")).Trim()).Value;
        Assert.Equal(signer.VerifierKey, verifier.VerifierKey);
        var body = "log.example\n1\n" + Convert.ToBase64String(new byte[32]) + "\n";
        Assert.Equal(42, verifier.Verify(body, ParsedNote.ParseSignatureLines(signer.Cosign(body, 42)).Value[0]).Value);

        var again = await CliRunner.RunAsync("witness", "keygen", "regulator.example/witness", "--out", prefix);
        Assert.Equal(CliApp.BadInput, again.Code);
        Assert.Contains("is never overwritten", again.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServeRefusesAWitnessThatIsNotUrlEqualsVkeyFileAndAQuorumAboveTheWitnessesGiven()
    {
        var notPair = await CliRunner.RunAsync("serve", "--data", _dir, "--witness", "regulator.vkey");
        Assert.Equal(CliApp.BadInput, notPair.Code);
        Assert.Contains("--witness 'regulator.vkey' is not URL=VKEYFILE", notPair.Error, StringComparison.Ordinal);

        var prefix = Path.Combine(_dir, "w");
        Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync("witness", "keygen", "w.example/witness", "--out", prefix)).Code);
        var quorum = await CliRunner.RunAsync("serve", "--data", _dir, "--witness", $"http://127.0.0.1:1/={prefix}.vkey", "--quorum", "2");
        Assert.Equal(CliApp.BadInput, quorum.Code);
        Assert.Contains("--quorum 2 must be between 0 and the 1 --witness given", quorum.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a named pipe")]
    [InlineData("a directory")]
    [InlineData("a link to /dev/null")]
    public async Task ServeRefusesWithOneLineAndExitCode2WhenTheDataDirectorysGatewayAuditFileCannotKeepLines(string kind)
    {
        var audit = Path.Combine(_dir, "gateway-audit.jsonl");
        switch (kind)
        {
            case "a named pipe":
                using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", audit))
                {
                    await mkfifo.WaitForExitAsync();
                    Assert.Equal(0, mkfifo.ExitCode);
                }
                break;
            case "a directory":
                Directory.CreateDirectory(audit);
                break;
            default:
                File.CreateSymbolicLink(audit, "/dev/null");
                break;
        }

        // A serve that started anyway would run until stopped: fail (TimeoutException) instead of waiting for it.
        var serve = await CliRunner.RunAsync("serve", "--data", _dir, "--urls", "http://127.0.0.1:0").WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(CliApp.BadInput, serve.Code);
        var line = Assert.Single(serve.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"embargo: the gateway's audit file: {audit}", line, StringComparison.Ordinal);
        Assert.Contains(kind == "a directory" ? "is a directory" : "is not a regular file", line, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", serve.Out, StringComparison.Ordinal);
    }
}
