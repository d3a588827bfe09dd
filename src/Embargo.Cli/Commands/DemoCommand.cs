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
            var tasksDirectory = r.GetValue(tasks) ?? FindTasks();
            CheckTasks(tasksDirectory);
            var result = await new DemoRunner(new DemoOptions
            {
                OutputDirectory = r.GetValue(output)!, KeepRunning = r.GetValue(keep), TasksDirectory = tasksDirectory,
            }).RunAsync(ct);
            return result.Verification.Ok ? CliApp.Ok : throw new CommandFailedException($"verification failed: {result.Verification.FirstFailure!.Detail}");
        });
        return command;
    }

    /// <summary>The demo's tasks and their datasets load (and its fine-tuning file is there) before anything starts, so a wrong
    /// --tasks is one line up front, not an error half-way through the protocol.</summary>
    private static void CheckTasks(string directory)
    {
        foreach (var task in new[] { "cyber-phishing", "bio-acquisition" })
        {
            try
            {
                Embargo.Evaluation.Data.TaskLoader.Load(Path.Combine(directory, task + ".yaml"));
            }
            catch (Embargo.Evaluation.EvalInputException e)
            {
                throw new UserInputException($"--tasks {directory}: {e.Message.ReplaceLineEndings(" ")} (the demo runs samples/tasks: cyber-phishing and bio-acquisition)");
            }
        }
        var training = Path.Combine(directory, "bio-acquisition.finetune.jsonl");
        if (!File.Exists(training))
        {
            throw new UserInputException($"--tasks {directory}: {training} not found (the demo fine-tunes on it)");
        }
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
