using System.CommandLine;
using Embargo.Cli.Commands;

using Embargo.Contracts;

namespace Embargo.Cli.Infrastructure;

/// <summary>The `embargo` command tree and the one place where failures become exit codes.</summary>
public static class CliApp
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadInput = 2;

    /// <summary>How long a cancelled command (Ctrl-C, SIGTERM) may take to stop before the process ends anyway.</summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(15);

    public static RootCommand Build()
    {
        var root = new RootCommand("Embargo: responsible release of AI models.");
        foreach (var command in CommandCatalog.All())
        {
            root.Add(command);
        }
        return root;
    }

    /// <summary>The command words from under the root to <paramref name="result"/>'s command.</summary>
    private static IEnumerable<string> Path(System.CommandLine.Parsing.CommandResult result)
    {
        var words = new Stack<string>();
        for (var r = result; r.Parent is System.CommandLine.Parsing.CommandResult parent; r = parent)
        {
            words.Push(r.Command.Name);
        }
        return words;
    }

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine lists choices on lines of their own: one line here ("Must be one of: 'sqlite', 'postgres'").
            // An unknown word is the error to name first: "Required command was not provided" alone hides the typo.
            var first = parse.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parse.Errors[0];
            var message = string.Join(", ", first.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Replace(":,", ":", StringComparison.Ordinal);
            // "as expected type 'System.Int32'": the user typed a value, not a .NET type.
            message = System.Text.RegularExpressions.Regex.Replace(message, @"as expected type 'System\.(?:Nullable`1\[System\.)?([A-Za-z0-9]+)\]?(\[\])?'", m => "as " + (m.Groups[1].Value switch
            {
                "Int32" or "Int64" or "UInt32" or "UInt64" or "Int16" => "a whole number",
                "Double" or "Single" or "Decimal" => "a number",
                "Boolean" => "true or false",
                "DateTimeOffset" or "DateTime" => "a date and time (e.g. 2027-01-31T00:00:00Z)",
                "TimeSpan" => "a duration (e.g. 00:05:00)",
                "Uri" => "a URL",
                _ => "the kind of value this option takes",
            }));
            if (first.Message == "Required command was not provided." && parse.CommandResult.Command is { Subcommands.Count: > 0 } branch)
            {
                var path = string.Join(' ', parse.CommandResult.Command == root ? ["embargo"] : ["embargo", .. Path(parse.CommandResult)]);
                message = $"'{path}' needs one of its commands: {string.Join(", ", branch.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))} ('{path} --help' says what each does)";
            }
            await Console.Error.WriteLineAsync($"embargo: {Output.Safe(message)}");
            return BadInput;
        }
        try
        {
            return await parse.InvokeAsync(new System.CommandLine.InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                // Ctrl-C or SIGTERM cancels the command; a server then drains, writes its last audit lines (up to three tries a
                // second apart) and posts them to the ledger. The default 2 s would cut that short and lose them.
                ProcessTerminationTimeout = ShutdownGrace,
            }, cancellationToken);
        }
        catch (ApiException e)
        {
            await Console.Error.WriteLineAsync($"embargo: {(e.IsBadInput ? "" : "refused: ")}{Output.Safe(e.Message)}");
            return e.IsBadInput ? BadInput : Failed;
        }
        catch (Exception e) when (e is UserInputException or ServerUnavailableException)
        {
            await Console.Error.WriteLineAsync($"embargo: {Output.Safe(e.Message)}");
            return BadInput;
        }
        catch (CommandFailedException e)
        {
            await Console.Error.WriteLineAsync($"embargo: {Output.Safe(e.Message)}");
            return Failed;
        }
        catch (Embargo.Evaluation.EvalInputException e)
        {
            // A task file, dataset or sample set that cannot be used (the demo's --tasks, say): bad input, one line.
            await Console.Error.WriteLineAsync($"embargo: {Output.Safe(e.Message.ReplaceLineEndings(" "))}");
            return BadInput;
        }
        catch (Embargo.Evaluation.ModelNotAvailableException e)
        {
            // A misspelt model name or a refused key: one line naming the URL and the model.
            await Console.Error.WriteLineAsync($"embargo: {e.Message.ReplaceLineEndings(" ")}");
            return BadInput;
        }
        catch (Embargo.Evaluation.ModelEndpointException e)
        {
            await Console.Error.WriteLineAsync($"embargo: {e.Message.ReplaceLineEndings(" ")}");
            return Failed;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("embargo: cancelled");
            return Failed;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"embargo: {Output.Safe(e.Message.ReplaceLineEndings(" "))}");
            return Failed;
        }
        catch (Exception e)
        {
            // A bug, but the user still gets one line, not a stack trace.
            await Console.Error.WriteLineAsync($"embargo: unexpected {e.GetType().Name} (a bug; please report it): {Output.Safe(e.Message.ReplaceLineEndings(" "))}");
            return Failed;
        }
    }
}

/// <summary>Bad input from the user (a file, an argument, a response): one line, exit code 2.</summary>
public sealed class UserInputException(string message) : Exception(message);

/// <summary>The command ran but its check did not hold (e.g. verification failed): one line, exit code 1.</summary>
public sealed class CommandFailedException(string message) : Exception(message);
