using System.Text.Json;
using Embargo.SampleModel;

namespace Embargo.Evaluation.Tests;

/// <summary>A temp folder holding a task YAML and its dataset.</summary>
internal sealed class TempTask : IDisposable
{
    public TempTask(string yaml, IEnumerable<object> samples, string datasetName = "data.jsonl")
    {
        Dir = Directory.CreateTempSubdirectory("embargo-eval-").FullName;
        File.WriteAllLines(Path.Combine(Dir, datasetName), samples.Select(s => JsonSerializer.Serialize(s)));
        File.WriteAllText(TaskPath, yaml);
    }

    public string Dir { get; }
    public string TaskPath => Path.Combine(Dir, "task.yaml");
    public string LogDir => Path.Combine(Dir, "logs");

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

internal static class Fixtures
{
    public static readonly string SamplesRoot = FindSamples();

    private static string FindSamples()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !Directory.Exists(Path.Combine(dir, "samples", "tasks")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return Path.Combine(dir ?? throw new InvalidOperationException("samples/tasks not found"), "samples", "tasks");
    }

    public static EvalRunnerOptions FastOptions => new()
    {
        InitialBackoff = TimeSpan.FromMilliseconds(1),
        MaxBackoff = TimeSpan.FromMilliseconds(5),
        RequestTimeout = TimeSpan.FromSeconds(20),
    };

    public static ModelEndpoint Endpoint(SampleModelServer server, string name) => new() { Url = server.BaseUrl, Name = name };

    /// <summary>Ten questions "q-001".."q-010", target "yes".</summary>
    public static IEnumerable<object> YesQuestions(int n = 10) =>
        Enumerable.Range(1, n).Select(i => new { id = $"q-{i:000}", input = $"Question q-{i:000}: say yes", target = "yes" });

    public const string ExactTask = """
        name: scripted
        capability: scripted-cap
        dataset: data.jsonl
        scorer:
          type: exact
        """;

    public static string IdIn(SampleRequest r) =>
        System.Text.RegularExpressions.Regex.Match(r.LastUserMessage, @"q-\d{3}").Value;

    public static int Num(SampleRequest r) => int.Parse(IdIn(r)[2..], System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>Reports synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
internal sealed class SyncProgress(Action<EvalProgress> action) : IProgress<EvalProgress>
{
    public void Report(EvalProgress value) => action(value);
}
