using Embargo.Cli.Infrastructure;

namespace Embargo.Server.Tests.Infrastructure;

/// <summary>Every test class that runs the CLI in-process shares Console, so they run one at a time in this collection.</summary>
[CollectionDefinition(Name)]
public sealed class CliCollection
{
    public const string Name = "cli (shares Console)";
}

public sealed record CliRun(int Code, string Out, string Error);

public static class CliRunner
{
    /// <summary>Runs `embargo ARGS` in this process with stdout and stderr captured.</summary>
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        await using var o = new StringWriter();
        await using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            var code = await CliApp.RunAsync(args);
            return new CliRun(code, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
