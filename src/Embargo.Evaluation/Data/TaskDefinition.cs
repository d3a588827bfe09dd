using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Embargo.Evaluation.Data;

/// <summary>The task YAML file (see README.md). Paths are relative to the YAML file.</summary>
public sealed class TaskSpec
{
    public string? Name { get; init; }
    public string? Capability { get; init; }
    public string? Description { get; init; }
    public string? Dataset { get; init; }
    public SolverSpec Solver { get; init; } = new();
    public ScorerSpec Scorer { get; init; } = new();
    public BaselineSpec? Baseline { get; init; }
}

public sealed class SolverSpec
{
    public string? System { get; init; }
    /// <summary>Template for the last user message: {input}, {choices}, {id}, {metadata.KEY}.</summary>
    public string? Template { get; init; }
    public bool MultipleChoice { get; init; }
    public bool ChainOfThought { get; init; }
    /// <summary>Follow-up user turns after the first answer (multi-turn elicitation).</summary>
    public List<string> Turns { get; init; } = [];
    /// <summary>Sandboxed tools: "calculator", "documents".</summary>
    public List<string> Tools { get; init; } = [];
    /// <summary>Folder (relative to the task file) the read-only document tool may read.</summary>
    public string? Documents { get; init; }
    /// <summary>Reference model plans, subject executes (needs a reference endpoint).</summary>
    public bool Assisted { get; init; }
}

public sealed class ScorerSpec
{
    /// <summary>exact | includes | regex | choice | numeric | model_graded</summary>
    public string Type { get; init; } = "exact";
    public string? Pattern { get; init; }
    public double Tolerance { get; init; }
    public bool Relative { get; init; }
    public string? Rubric { get; init; }
    public bool IgnoreCase { get; init; } = true;
}

public sealed class BaselineSpec
{
    /// <summary>An "internet-only" proxy condition: recorded answers (JSONL of {id, output}) from people
    /// with internet access only, scored by the task's scorer.</summary>
    public InternetOnlySpec? InternetOnly { get; init; }
}

public sealed class InternetOnlySpec
{
    public string? Answers { get; init; }
    public string? Description { get; init; }
}

/// <summary>A loaded task: its spec, its dataset and where it lives.</summary>
public sealed record EvalTaskDefinition
{
    public required string Name { get; init; }
    public required string Capability { get; init; }
    public required string Path { get; init; }
    public required TaskSpec Spec { get; init; }
    public required IReadOnlyList<EvalSample> Samples { get; init; }
    public string Directory => System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;

    public string Resolve(string relative) => System.IO.Path.GetFullPath(System.IO.Path.Combine(Directory, relative));
}

public static class TaskLoader
{
    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    private static readonly IDeserializer Untyped = new DeserializerBuilder().Build();

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();

    private static readonly string[] ScorerTypes = ["exact", "includes", "regex", "choice", "numeric", "model_graded"];
    private static readonly string[] ToolNames = ["calculator", "documents"];

    public static EvalTaskDefinition Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new EvalInputException($"task file {path} not found");
        }
        var text = File.ReadAllText(path);
        object? tree;
        try
        {
            // First the YAML alone (syntax), then its shape against the task's fields, so an error names the field
            // and what it should hold: never a .NET type.
            tree = Untyped.Deserialize<object?>(text);
        }
        catch (YamlException e)
        {
            throw new EvalInputException($"task file {path} line {e.Start.Line}, column {e.Start.Column}: {OneLine(e.Message)}", e);
        }
        if (tree is null)
        {
            throw new EvalInputException($"task file {path} is empty");
        }
        if (TaskShape.Check(tree, typeof(TaskSpec), "") is { } wrong)
        {
            throw new EvalInputException($"task file {path}: {wrong}");
        }
        TaskSpec spec;
        try
        {
            spec = Yaml.Deserialize<TaskSpec>(text) ?? throw new EvalInputException($"task file {path} is empty");
        }
        catch (YamlException e)
        {
            throw new EvalInputException($"task file {path} line {e.Start.Line}, column {e.Start.Column}: this value cannot be read as its field expects (see samples/tasks/README.md)", e);
        }
        var name = spec.Name ?? System.IO.Path.GetFileNameWithoutExtension(path);
        if (string.IsNullOrWhiteSpace(spec.Dataset))
        {
            throw new EvalInputException($"task file {path}: 'dataset' is required");
        }
        if (!ScorerTypes.Contains(spec.Scorer.Type))
        {
            throw new EvalInputException($"task file {path}: unknown scorer '{spec.Scorer.Type}' (one of {string.Join(", ", ScorerTypes)})");
        }
        if (spec.Scorer.Type == "regex" && string.IsNullOrEmpty(spec.Scorer.Pattern))
        {
            throw new EvalInputException($"task file {path}: the regex scorer needs 'pattern'");
        }
        foreach (var tool in spec.Solver.Tools.Where(t => !ToolNames.Contains(t)))
        {
            throw new EvalInputException($"task file {path}: unknown tool '{tool}' (one of {string.Join(", ", ToolNames)})");
        }
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var samples = DatasetLoader.Load(System.IO.Path.Combine(dir, spec.Dataset));
        return new EvalTaskDefinition
        {
            Name = name,
            Capability = spec.Capability ?? name,
            Path = System.IO.Path.GetFullPath(path),
            Spec = spec,
            Samples = samples,
        };
    }
}

/// <summary>
/// Checks a parsed YAML tree (mappings, sequences, scalars) against the task's fields before it is bound: unknown fields
/// and values of the wrong kind are named by their path (e.g. <c>solver.tools[1]</c>) in the task file's own words.
/// The depth is bounded by the task's own shape (a value deeper than a field allows is of the wrong kind).
/// </summary>
internal static class TaskShape
{
    public static string? Check(object? node, Type type, string path)
    {
        var at = path.Length == 0 ? "the file" : path;
        if (type == typeof(string))
        {
            return node is string or null ? null : $"{at}: expected text, found {Kind(node)}";
        }
        if (type == typeof(bool))
        {
            return node is string b && bool.TryParse(b, out _) ? null : $"{at}: expected true or false, found {Kind(node)}";
        }
        if (type == typeof(double))
        {
            return node is string d && double.TryParse(d, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _)
                ? null : $"{at}: expected a number, found {Kind(node)}";
        }
        if (type == typeof(List<string>))
        {
            if (node is not List<object?> items)
            {
                return $"{at}: expected a list of text items, found {Kind(node)}";
            }
            return items.Select((item, i) => Check(item, typeof(string), $"{path}[{i}]")).FirstOrDefault(e => e is not null);
        }
        var fields = type.GetProperties().ToDictionary(p => UnderscoredNamingConvention.Instance.Apply(p.Name), p => p.PropertyType, StringComparer.Ordinal);
        if (node is not Dictionary<object, object?> map)
        {
            return $"{at}: expected fields ({string.Join(", ", fields.Keys)}), found {Kind(node)}";
        }
        foreach (var (key, value) in map)
        {
            var name = key as string ?? "";
            var member = path.Length == 0 ? name : $"{path}.{name}";
            if (!fields.TryGetValue(name, out var fieldType))
            {
                return $"{member}: unknown field{(path.Length == 0 ? "" : $" of {path}")} (known: {string.Join(", ", fields.Keys)})";
            }
            if (value is null && fieldType != typeof(string))
            {
                return $"{member}: a value is required (or leave the field out)";
            }
            if (Check(value, fieldType, member) is { } wrong)
            {
                return wrong;
            }
        }
        return null;
    }

    private static string Kind(object? node) => node switch
    {
        null => "nothing",
        string s => $"'{(s.Length > 40 ? s[..40] + "…" : s)}'",
        List<object?> => "a list",
        Dictionary<object, object?> => "a set of fields",
        _ => "a value of another kind",
    };
}
