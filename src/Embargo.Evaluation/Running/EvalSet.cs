using System.Text.Json;
using System.Text.Json.Serialization;
using Embargo.Text;

namespace Embargo.Evaluation.Running;

/// <summary>One task of an eval set and, once it started, its log.</summary>
public sealed record EvalSetEntry
{
    public required string Task { get; init; }
    public string? Log { get; init; }
}

/// <summary>
/// Several tasks run in one invocation: LOGDIR/SETID_set.json names each task and its run's log, so the set resumes
/// as a whole (finished runs are kept, interrupted or errored runs are resumed, unstarted ones are started).
/// </summary>
public sealed record EvalSetLog
{
    public const string SetKind = "eval-set";
    public int Version { get; init; } = 1;
    public string Kind { get; init; } = SetKind;
    public required string SetId { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required IReadOnlyList<EvalSetEntry> Tasks { get; init; }

    /// <summary>True when the file is a set (not a run's log).</summary>
    public static bool IsSet(string path)
    {
        if (!File.Exists(path) || path.EndsWith(".journal.jsonl", StringComparison.Ordinal))
        {
            return false;
        }
        try
        {
            using var stream = File.OpenRead(path);
            using var doc = JsonDocument.Parse(stream);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == SetKind;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    public static EvalSetLog Read(string path)
    {
        try
        {
            var set = JsonSerializer.Deserialize(File.ReadAllText(path), EvalSetJsonContext.Default.EvalSetLog)
                ?? throw new EvalInputException($"eval set {path} is empty");
            return set.Tasks.Count == 0 ? throw new EvalInputException($"eval set {path} names no task") : set;
        }
        catch (JsonException e)
        {
            throw new EvalInputException($"eval set {path} is not a valid set: {JsonErrorText.Describe(e)}", e);
        }
    }

    /// <summary>Written whole to a temporary file, then moved: an interruption leaves the old or the new set, never half.</summary>
    public void Write(string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, EvalSetJsonContext.Default.EvalSetLog));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Task files named on the command line; a folder stands for its *.yaml and *.yml files (sorted, not recursive).</summary>
    public static IReadOnlyList<string> ExpandTasks(IEnumerable<string> arguments)
    {
        var tasks = new List<string>();
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
            {
                var found = Directory.EnumerateFiles(argument, "*.yaml").Concat(Directory.EnumerateFiles(argument, "*.yml"))
                    .Select(Path.GetFullPath).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                {
                    throw new EvalInputException($"folder {argument} holds no task (*.yaml)");
                }
                tasks.AddRange(found);
            }
            else if (File.Exists(argument))
            {
                tasks.Add(Path.GetFullPath(argument));
            }
            else
            {
                throw new EvalInputException($"task file {argument} not found");
            }
        }
        var duplicate = tasks.GroupBy(t => t, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        return duplicate is null ? tasks : throw new EvalInputException($"task {duplicate.Key} is named twice");
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(EvalSetLog))]
internal sealed partial class EvalSetJsonContext : JsonSerializerContext;
