using System.CommandLine;
using Embargo.Cli.Demo;
using Embargo.Cli.Infrastructure;

namespace Embargo.Cli.Commands;

public static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "where the certificate, keys, ledger and weights are written", DefaultValueFactory = _ => "embargo-demo" };
        var keep = new Option<bool>("--keep-running") { Description = "leave the server running afterwards (Ctrl-C stops it)" };
        var tasks = new Option<string>("--tasks") { Description = "the sample tasks directory (default: samples/tasks of this checkout)" };
        var command = new Command("demo", "run the whole release protocol end to end on the SAMPLE model, offline") { output, keep, tasks };
        command.SetAction(async (r, ct) =>
        {
            var result = await new DemoRunner(new DemoOptions
            {
                OutputDirectory = r.GetValue(output)!, KeepRunning = r.GetValue(keep), TasksDirectory = r.GetValue(tasks) ?? FindTasks(),
            }).RunAsync(ct);
            return result.Verification.Ok ? CliApp.Ok : throw new CommandFailedException($"verification failed: {result.Verification.FirstFailure!.Detail}");
        });
        return command;
    }

    /// <summary>samples/tasks beside the executable (copied at build) or up the directory tree from here.</summary>
    public static string FindTasks()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "samples", "tasks");
        if (Directory.Exists(beside))
        {
            return beside;
        }
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "samples", "tasks");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new UserInputException("cannot find samples/tasks; pass --tasks DIR");
    }
}
