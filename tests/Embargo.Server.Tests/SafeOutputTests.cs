using System.Text;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;
using Embargo.Server.Tests.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>The CLI never prints a control character, bidi override or lone surrogate it did not write itself.</summary>
[Collection(CliCollection.Name)]
public sealed class SafeOutputTests
{
    // (A lone surrogate cannot survive the UTF-8 certificate file; SafeWrites… covers it.)
    private const string Hostile = "x\u001b[2K\r\u001b[1Ashown at tier open\u0007\u009b\u202e";

    /// <summary>No raw hostile character; with <paramref name="oneLine"/> the whole escaped text in order (a table may wrap it).</summary>
    private static void AssertNeutralised(string printed, bool oneLine)
    {
        foreach (var c in "\u001b\r\u0007\u009b\u202e")
        {
            Assert.DoesNotContain(c, printed);
        }
        Assert.Contains(oneLine ? "\\u001B[2K\\u000D\\u001B[1Ashown at tier open\\u0007\\u009B\\u202E" : "\\u001B", printed);
    }

    [Fact]
    public void SafeWritesEveryControlBidiAndLoneSurrogateAsAVisibleEscapeAndKeepsOrdinaryText()
    {
        Assert.Equal("x\\u001B[2K\\u000D\\u001B[1Ashown at tier open\\u0007\\u009B\\u202E\\uD800", Output.Safe(Hostile + "\ud800"));
        Assert.Equal("Mesa Labs — ünïcode 🙂 ok", Output.Safe("Mesa Labs — ünïcode 🙂 ok"));
        Assert.Equal("a\\u000Ab", Output.Safe("a\nb"));
        Assert.Equal("a\nb\\u000D", Output.Safe("a\nb\r", multiline: true));
    }

    [Fact]
    public async Task VerifyPrintsAHostilePayloadTypeFromACertificateNeutralised()
    {
        var dir = Directory.CreateTempSubdirectory("embargo-safe-output-").FullName;
        try
        {
            using var key = Embargo.Protocol.Certificates.SigningKey.Generate();
            var envelope = DsseEnvelope.Sign("{}"u8, "application/" + Hostile, key);
            var certificate = Path.Combine(dir, "certificate.dsse.json");
            var publicKey = Path.Combine(dir, "certifier.pub.pem");
            await File.WriteAllTextAsync(certificate, envelope.ToJson(), Encoding.UTF8);
            await File.WriteAllTextAsync(publicKey, key.PublicKey.Pem);

            // CliRunner captures Spectre's tables as plain text (no colour codes of its own), so any escape left is the payload's.
            var run = await CliRunner.RunAsync("verify", certificate, "--key", publicKey);

            Assert.Equal(CliApp.Failed, run.Code);
            Assert.Contains("payloadType is application/", run.Out);
            AssertNeutralised(run.Out, oneLine: false);
            AssertNeutralised(run.Error, oneLine: true);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
