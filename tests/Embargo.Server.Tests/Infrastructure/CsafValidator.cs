using System.Diagnostics;

namespace Embargo.Server.Tests.Infrastructure;

/// <summary>
/// The BSI CSAF validator (@secvisogram/csaf-validator-lib: the OASIS CSAF 2.0 strict schema and every mandatory test),
/// run by node on a file through tests/csaf-node/validate.mjs (installed by `npm ci` in test.sh).
/// </summary>
public static class CsafValidator
{
    public sealed record Outcome(int ExitCode, string Output);

    public static string ScriptDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Embargo.slnx")))
        {
            dir = dir.Parent;
        }
        var root = dir?.FullName ?? throw new InvalidOperationException("the repository root (Embargo.slnx) is not above the test binaries");
        return Path.Combine(root, "tests", "csaf-node");
    }

    /// <summary>Validates <paramref name="document"/> (written to a temp file): exit code 0 only when every test passes.</summary>
    public static async Task<Outcome> ValidateAsync(byte[] document)
    {
        var scripts = ScriptDirectory();
        Assert.True(Directory.Exists(Path.Combine(scripts, "node_modules", "@secvisogram", "csaf-validator-lib")), $"run `npm ci` in {scripts} first (test.sh does)");
        var file = Path.Combine(Path.GetTempPath(), $"csaf-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, document);
        try
        {
            var start = new ProcessStartInfo("node", ["validate.mjs", file])
            {
                WorkingDirectory = scripts, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var node = Process.Start(start)!;
            var stdout = node.StandardOutput.ReadToEndAsync();
            var stderr = node.StandardError.ReadToEndAsync();
            await node.WaitForExitAsync();
            return new Outcome(node.ExitCode, await stdout + await stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
