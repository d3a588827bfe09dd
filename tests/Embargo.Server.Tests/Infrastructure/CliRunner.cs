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
        // Tables go through Spectre's console, which otherwise keeps the writer it first saw (a disposed one).
        var ansi = Spectre.Console.AnsiConsole.Console;
        await using var o = new StringWriter();
        await using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(o) });
        try
        {
            var code = await CliApp.RunAsync(args);
            return new CliRun(code, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            Spectre.Console.AnsiConsole.Console = ansi;
        }
    }
}
