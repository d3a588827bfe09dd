using Embargo.Server.Tests.Infrastructure;
using System.Text;
using Embargo.Cli.Commands;
using Embargo.Cli.Demo;
using Embargo.Cli.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>Runs the whole demo once (a real server, the sample model, every role) and keeps its output.</summary>
public sealed class DemoFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "embargo-demo-test-" + Guid.NewGuid().ToString("N")[..8]);
    public DemoResult Result { get; private set; } = null!;

    public string Certificate => Path.Combine(Root, "certificate.dsse.json");
    public string Key => Path.Combine(Root, "certifier.pub.pem");
    public string Checkpoint => Path.Combine(Root, "checkpoint.txt");
    public string Ledger => Path.Combine(Root, "ledger.jsonl");
    public string LedgerKey => Path.Combine(Root, "ledger.vkey");
    public string Weights => Path.Combine(Root, "weights");

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Embargo.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Embargo.slnx not found above " + AppContext.BaseDirectory);
    }

    public async Task InitializeAsync()
    {
        Result = await new DemoRunner(new DemoOptions
        {
            OutputDirectory = Root,
            TasksDirectory = Path.Combine(RepositoryRoot(), "samples", "tasks"),
        }).RunAsync(CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        return Task.CompletedTask;
    }
}

/// <summary>`embargo verify` end to end: the demo's certificate verifies offline, and any one-byte change makes it fail.</summary>
[Collection(CliCollection.Name)]
public sealed class VerifyCommandTests(DemoFixture demo) : IClassFixture<DemoFixture>
{
    [Fact]
    public void TheDemoServesTheReleasedModelThroughTheGatewayWithOneAllowedCallOneBlockedOutputAndOneRefusedKeyOnTheLedger()
    {
        var lines = File.ReadAllLines(Path.Combine(demo.Root, "gateway-audit.jsonl"));
        var decisions = lines.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .Select(e => (e.GetProperty("decision").GetString(), e.GetProperty("status").GetInt32(), e.GetProperty("screen").GetString())).ToArray();
        Assert.Equal([("allowed", 200, null), ("content_filter", 200, "no-guesses"), ("invalid_api_key", 401, null)], decisions);
        Assert.Equal("ANSWER: A", demo.Result.Gateway.AllowedText);
        var leaf = File.ReadLines(demo.Ledger).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .Single(e => e.GetProperty("index").GetInt64() == demo.Result.Gateway.AuditBatchIndex);
        var batch = System.Text.Json.JsonDocument.Parse(Convert.FromBase64String(leaf.GetProperty("leaf").GetString()!)).RootElement;
        Assert.Equal("gateway.audit-batch", batch.GetProperty("type").GetString());
        Assert.Equal(3, batch.GetProperty("data").GetProperty("lines").GetInt32());
    }

    private static readonly SemaphoreSlim ConsoleGate = new(1, 1);

    private Task<int> Verify(string? certificate = null, string? checkpoint = null, string? ledger = null, string? weights = null) =>
        Run(["verify", certificate ?? demo.Certificate, "--key", demo.Key, "--checkpoint", checkpoint ?? demo.Checkpoint,
             "--ledger", ledger ?? demo.Ledger, "--ledger-key", demo.LedgerKey, "--weights", weights ?? demo.Weights]);

    private static async Task<int> Run(string[] args)
    {
        await ConsoleGate.WaitAsync();
        try
        {
            return await CliApp.RunAsync(args);
        }
        finally
        {
            ConsoleGate.Release();
        }
    }

    private string[] WitnessVerify(string checkpoint, int quorum) =>
        ["verify", demo.Certificate, "--key", demo.Key, "--checkpoint", checkpoint, "--ledger", demo.Ledger, "--ledger-key", demo.LedgerKey,
         "--witness", Path.Combine(demo.Root, "witness-regulator.vkey"), "--witness", Path.Combine(demo.Root, "witness-mailguard.vkey"),
         "--quorum", quorum.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json"];

    [Fact]
    public async Task TheDemoCheckpointCarriesTheRegulatorsAndMailguardsCosignaturesAndVerifiesWithQuorumTwo()
    {
        var check = Assert.Single(demo.Result.Verification.Checks, c => c.Name == VerifyCommand.WitnessCheckName);
        Assert.True(check.Ok, check.Detail);
        await ConsoleGate.WaitAsync();
        try
        {
            var run = await CliRunner.RunAsync(WitnessVerify(demo.Checkpoint, 2));
            Assert.True(run.Code == CliApp.Ok, run.Out + run.Error);
            Assert.Contains("2 of 2 witnesses cosigned (quorum 2): office-for-ai-safety.example/witness at ", run.Out, StringComparison.Ordinal);
            Assert.Contains("mailguard.example/witness at ", run.Out, StringComparison.Ordinal);
        }
        finally
        {
            ConsoleGate.Release();
        }
    }

    [Fact]
    public async Task VerifyWithQuorumTwoFailsOnACheckpointWithOneCosignature()
    {
        var lines = (await File.ReadAllTextAsync(demo.Checkpoint)).Split('\n');
        var kept = lines.Where(l => !l.StartsWith("\u2014 mailguard.example/witness ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(lines.Length - 1, kept.Length);
        var oneCosignature = Scratch("checkpoint.txt");
        await File.WriteAllTextAsync(oneCosignature, string.Join('\n', kept));
        await ConsoleGate.WaitAsync();
        try
        {
            var failed = await CliRunner.RunAsync(WitnessVerify(oneCosignature, 2));
            Assert.Equal(CliApp.Failed, failed.Code);
            Assert.Contains("1 of the 2 given witnesses cosigned the checkpoint (office-for-ai-safety.example/witness), the quorum is 2", failed.Error, StringComparison.Ordinal);
            // The same file with a quorum of one verifies: what failed is the quorum, nothing else.
            var one = await CliRunner.RunAsync(WitnessVerify(oneCosignature, 1));
            Assert.True(one.Code == CliApp.Ok, one.Out + one.Error);
        }
        finally
        {
            ConsoleGate.Release();
        }
    }

    [Fact]
    public async Task CheckDemoVerifiesBothWitnessCosignaturesAndRejectsAFlippedOne()
    {
        var copy = Path.GetDirectoryName(Scratch("x"))!;
        foreach (var file in new[] { "certificate.dsse.json", "certifier.pub.pem", "ledger.jsonl", "checkpoint.txt", "ledger.vkey", "gateway-audit.jsonl", "witness-regulator.vkey", "witness-mailguard.vkey", "safety-case.json", "safety-case.svg" })
        {
            File.Copy(Path.Combine(demo.Root, file), Path.Combine(copy, file));
        }
        foreach (var file in Directory.GetFiles(demo.Weights, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, "weights", Path.GetRelativePath(demo.Weights, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        var ok = await CheckDemoAsync(copy);
        Assert.True(ok.Code == 0, ok.Out + ok.Error);
        Assert.Contains("ok  witness: office-for-ai-safety.example/witness cosigned the checkpoint", ok.Out, StringComparison.Ordinal);
        Assert.Contains("ok  witness: mailguard.example/witness cosigned the checkpoint", ok.Out, StringComparison.Ordinal);

        var text = await File.ReadAllTextAsync(Path.Combine(copy, "checkpoint.txt"));
        var line = text.IndexOf("\u2014 mailguard.example/witness ", StringComparison.Ordinal);
        Assert.True(line > 0);
        // A character in the Ed25519 signature part of the blob (past key id and timestamp).
        var at = line + "\u2014 mailguard.example/witness ".Length + 40;
        while (!char.IsAsciiLetterOrDigit(text[at]))
        {
            at++;
        }
        await File.WriteAllTextAsync(Path.Combine(copy, "checkpoint.txt"), Flip(text, at));
        var flipped = await CheckDemoAsync(copy);
        Assert.Equal(1, flipped.Code);
        Assert.Contains("cosignature by mailguard.example/witness does not verify", flipped.Error, StringComparison.Ordinal);
    }

    private static async Task<CliRun> CheckDemoAsync(string dir)
    {
        var start = new System.Diagnostics.ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(DemoFixture.RepositoryRoot(), "tools", "check-demo.py"));
        start.ArgumentList.Add(dir);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliRun(process.ExitCode, await stdout, await stderr);
    }

    private string Scratch(string name)
    {
        var dir = Path.Combine(demo.Root, "tampered-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    /// <summary>Replaces one character with a different one from the same alphabet (so the file still parses as far as possible).</summary>
    private static string Flip(string text, int position)
    {
        var c = text[position];
        var replacement = c switch
        {
            >= 'A' and < 'Z' or >= 'a' and < 'z' or >= '0' and < '9' => (char)(c + 1),
            'Z' => 'A',
            'z' => 'a',
            '9' => '0',
            _ => (char)(c ^ 1),
        };
        return string.Concat(text.AsSpan(0, position), replacement.ToString(), text.AsSpan(position + 1));
    }

    private static int MiddleOfValue(string text, string key)
    {
        var start = text.IndexOf($"\"{key}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"{key} not found");
        var open = text.IndexOf('"', text.IndexOf(':', start) + 1);
        var close = text.IndexOf('"', open + 1);
        return (open + close) / 2;
    }

    [Fact]
    public async Task TheDemoCertificateVerifies()
    {
        Assert.True(demo.Result.Verification.Ok);
        Assert.Equal(7, demo.Result.Refusals.Count);
        Assert.Contains(demo.Result.Refusals, r => r.StartsWith("409 rule-10:", StringComparison.Ordinal));
        Assert.StartsWith("403 rule-9:", demo.Result.Refusals[0], StringComparison.Ordinal);
        Assert.Equal(0, await Verify());
    }

    [Theory]
    [InlineData("payload")]
    [InlineData("sig")]
    [InlineData("keyid")]
    [InlineData("payloadType")]
    public async Task ATamperedCertificateFailsVerification(string field)
    {
        var text = await File.ReadAllTextAsync(demo.Certificate);
        var tampered = Scratch("certificate.dsse.json");
        await File.WriteAllTextAsync(tampered, Flip(text, MiddleOfValue(text, field)));
        Assert.NotEqual(0, await Verify(certificate: tampered));
    }

    [Fact]
    public async Task ATamperedCheckpointFailsVerification()
    {
        var text = await File.ReadAllTextAsync(demo.Checkpoint);
        var lines = text.Split('\n');
        // origin, size, root hash, and the signature line.
        var positions = new List<int> { lines[0].Length / 2, lines[0].Length + 1, lines[0].Length + 1 + lines[1].Length + 1 + (lines[2].Length / 2) };
        var signatureLine = Array.FindIndex(lines, l => l.StartsWith('\u2014'));
        Assert.True(signatureLine > 0);
        positions.Add(text.IndexOf(lines[signatureLine], StringComparison.Ordinal) + lines[signatureLine].Length - 10);
        foreach (var position in positions)
        {
            var tampered = Scratch("checkpoint.txt");
            await File.WriteAllTextAsync(tampered, Flip(text, position));
            Assert.True(await Verify(checkpoint: tampered) != 0, $"checkpoint with byte {position} flipped still verifies");
        }
    }

    [Fact]
    public async Task TamperingWithAnyLedgerLineFailsVerification()
    {
        var lines = (await File.ReadAllTextAsync(demo.Ledger)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 20);
        for (var i = 0; i < lines.Length; i++)
        {
            var copy = (string[])lines.Clone();
            copy[i] = Flip(lines[i], MiddleOfValue(lines[i], "leaf"));
            var tampered = Scratch("ledger.jsonl");
            await File.WriteAllTextAsync(tampered, string.Join('\n', copy) + "\n");
            Assert.True(await Verify(ledger: tampered) != 0, $"ledger with line {i} tampered still verifies");
        }
    }

    [Fact]
    public async Task DroppingOrReorderingLedgerLinesFailsVerification()
    {
        var lines = (await File.ReadAllTextAsync(demo.Ledger)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var dropped = Scratch("ledger.jsonl");
        await File.WriteAllTextAsync(dropped, string.Join('\n', lines[..^1]) + "\n");
        Assert.NotEqual(0, await Verify(ledger: dropped));
        var swapped = (string[])lines.Clone();
        (swapped[1], swapped[2]) = (swapped[2], swapped[1]);
        var reordered = Scratch("ledger.jsonl");
        await File.WriteAllTextAsync(reordered, string.Join('\n', swapped) + "\n");
        Assert.NotEqual(0, await Verify(ledger: reordered));
    }

    [Fact]
    public async Task TamperedWeightsFailVerification()
    {
        var weights = Path.Combine(Path.GetDirectoryName(Scratch("x"))!, "weights");
        CopyDirectory(demo.Weights, weights);
        Assert.Equal(0, await Verify(weights: weights));
        var file = Directory.GetFiles(weights, "*.safetensors", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[^1] ^= 0x01;
        await File.WriteAllBytesAsync(file, bytes);
        Assert.NotEqual(0, await Verify(weights: weights));
    }

    [Fact]
    public async Task AnExtraWeightsFileFailsVerification()
    {
        var weights = Path.Combine(Path.GetDirectoryName(Scratch("x"))!, "weights");
        CopyDirectory(demo.Weights, weights);
        await File.WriteAllTextAsync(Path.Combine(weights, "extra.bin"), "smuggled", Encoding.UTF8);
        Assert.NotEqual(0, await Verify(weights: weights));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
