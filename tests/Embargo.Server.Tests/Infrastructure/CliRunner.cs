using System.Text;
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
    private static readonly Lazy<(FlowWriter Out, FlowWriter Error, Spectre.Console.IAnsiConsole Ansi)> Routers = new(() =>
    {
        var (stdout, stderr) = (new FlowWriter(Console.Out), new FlowWriter(Console.Error));
        Console.SetOut(stdout);
        Console.SetError(stderr);
        var ansi = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(stdout), Ansi = Spectre.Console.AnsiSupport.No, ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
        });
        return (stdout, stderr, ansi);
    });

    /// <summary>
    /// Runs `embargo ARGS` in this process with stdout and stderr captured. Console (and Spectre's console, which
    /// otherwise keeps the writer it first saw) write through routers that send this run's output, and only this run's,
    /// to its buffers: CLI code that another test calls at the same time (outside this collection) writes where it always
    /// did instead of into this run's stdout.
    /// </summary>
    public static async Task<CliRun> RunAsync(params string[] args)
    {
        var routers = Routers.Value;
        Spectre.Console.AnsiConsole.Console = routers.Ansi;
        // Not disposed: a background task of the run that writes late writes into a buffer nobody reads.
        var (o, e) = (new StringWriter(), new StringWriter());
        routers.Out.Capture(o);
        routers.Error.Capture(e);
        var code = await CliApp.RunAsync(args);
        return new CliRun(code, o.ToString(), e.ToString());
    }

    /// <summary>Writes to the writer captured by the current async flow (a CLI run), else to the process's own.</summary>
    private sealed class FlowWriter(TextWriter process) : TextWriter
    {
        private readonly AsyncLocal<TextWriter?> _captured = new();

        /// <summary>From here on, in this async flow and the tasks it starts.</summary>
        public void Capture(TextWriter writer) => _captured.Value = writer;

        private TextWriter Target => _captured.Value ?? process;

        public override Encoding Encoding => process.Encoding;
        public override void Write(char value) => Target.Write(value);
        public override void Write(string? value) => Target.Write(value);
        public override void Write(char[] buffer, int index, int count) => Target.Write(buffer, index, count);
        public override void Write(ReadOnlySpan<char> buffer) => Target.Write(buffer);
        public override void WriteLine() => Target.WriteLine();
        public override void WriteLine(string? value) => Target.WriteLine(value);
        public override void WriteLine(ReadOnlySpan<char> buffer) => Target.WriteLine(buffer);
        public override Task WriteAsync(char value) => Target.WriteAsync(value);
        public override Task WriteAsync(string? value) => Target.WriteAsync(value);
        public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default) => Target.WriteAsync(buffer, cancellationToken);
        public override Task WriteLineAsync(string? value) => Target.WriteLineAsync(value);
        public override Task WriteLineAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default) => Target.WriteLineAsync(buffer, cancellationToken);
        public override void Flush() => Target.Flush();
        public override Task FlushAsync() => Target.FlushAsync();
    }
}
