using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Embargo.SampleModel;

/// <summary>A model the SAMPLE server hosts.</summary>
public sealed record ProfileModel
{
    public required string Id { get; init; }
    public string Description { get; init; } = "";
}

/// <summary>How each hosted model answers one known question.</summary>
public sealed record ProfileQuestion
{
    /// <summary>The right answer (a choice letter, or free text).</summary>
    public required string Correct { get; init; }
    /// <summary>The plausible wrong answer given by models not in <see cref="CorrectFor"/>.</summary>
    public required string Wrong { get; init; }
    /// <summary>Models that answer this question correctly.</summary>
    public IReadOnlyList<string> CorrectFor { get; init; } = [];
}

/// <summary>How fine-tuning on a capability's training items raises it (SAMPLE rule, not a real training run).</summary>
public sealed record ProfileCapability
{
    /// <summary>The capability's evaluation questions are those whose id starts with this (e.g. "bio-").</summary>
    public required string QuestionPrefix { get; init; }
    /// <summary>Correctly labelled training items needed for the full effect.</summary>
    public int ExamplesForFullEffect { get; init; } = 50;
    /// <summary>Share of the capability's questions a variant answers correctly at full effect.</summary>
    public double Ceiling { get; init; } = 0.9;
}

/// <summary>A training item the SAMPLE model learns from when fine-tuned (matched by its id, e.g. "biotrain-007").</summary>
public sealed record ProfileTrainingItem
{
    public required string Capability { get; init; }
    /// <summary>The right answer; an example labelled otherwise teaches nothing.</summary>
    public required string Correct { get; init; }
}

/// <summary>A fine-tuned variant of a profile model: it answers as its base model, plus the questions it learned.</summary>
public sealed record FineTunedVariant(string Name, string BaseModel, IReadOnlySet<string> Learned);

/// <summary>
/// The SAMPLE model's capability profile: per model and per question, the deterministic answer.
/// A question is matched by a sample id embedded in any user message (e.g. "phish-007"), else by
/// "sha256:" + hex SHA-256 of the last user message. Unknown questions get a plausible but wrong answer.
/// </summary>
public sealed partial record CapabilityProfile
{
    public string Notice { get; init; } = "SAMPLE capability profile: not a real model.";
    public required IReadOnlyList<ProfileModel> Models { get; init; }
    public IReadOnlyDictionary<string, ProfileQuestion> Questions { get; init; } = new Dictionary<string, ProfileQuestion>();
    public IReadOnlyList<string> ThreatModelSteps { get; init; } = [];
    public IReadOnlyList<string> PlanSteps { get; init; } = [];
    public IReadOnlyDictionary<string, ProfileCapability> Capabilities { get; init; } = new Dictionary<string, ProfileCapability>();
    public IReadOnlyDictionary<string, ProfileTrainingItem> Training { get; init; } = new Dictionary<string, ProfileTrainingItem>();
    public string UnknownAnswer { get; init; } = "I believe the answer is 42.";
    public string AnswerFormat { get; init; } = "ANSWER: {0}";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The profile bundled with the sample (embedded resource profile/capability-profile.json).</summary>
    public static CapabilityProfile LoadBundled()
    {
        var asm = typeof(CapabilityProfile).Assembly;
        var name = asm.GetManifestResourceNames().Single(n => n.EndsWith("capability-profile.json", StringComparison.Ordinal));
        using var stream = asm.GetManifestResourceStream(name)!;
        return JsonSerializer.Deserialize<CapabilityProfile>(stream, Json)
            ?? throw new InvalidDataException("empty bundled capability profile");
    }

    public static string HashKey(string text) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.Trim())));

    [GeneratedRegex(@"\b[a-z]+-\d{3}\b")]
    private static partial Regex SampleIdPattern();

    /// <summary>Answers a request deterministically from this profile; a fine-tuned variant also knows what it learned.</summary>
    public SampleReply Answer(SampleRequest request, FineTunedVariant? variant = null)
    {
        var last = request.LastMessage;
        if (last is { Role: "tool" })
        {
            return SampleReply.Text(string.Format(System.Globalization.CultureInfo.InvariantCulture, AnswerFormat, last.Content.Trim()));
        }
        var user = request.LastUserMessage;
        if (request.ToolNames.Contains("calculator") && user.Contains("Compute:", StringComparison.Ordinal))
        {
            var expr = user[(user.IndexOf("Compute:", StringComparison.Ordinal) + 8)..].Split('\n')[0].Trim();
            return SampleReply.CallTool("calculator", new { expression = expr });
        }
        if (user.Contains("threat model", StringComparison.OrdinalIgnoreCase) || user.Contains("misused", StringComparison.OrdinalIgnoreCase))
        {
            return SampleReply.Text(Numbered(ThreatModelSteps));
        }
        if (user.StartsWith("Write a short plan", StringComparison.Ordinal))
        {
            return SampleReply.Text(Numbered(PlanSteps));
        }
        var (id, question) = Find(request);
        if (question is null)
        {
            return SampleReply.Text(UnknownAnswer);
        }
        var knows = question.CorrectFor.Contains(variant?.BaseModel ?? request.Model) || (variant is not null && variant.Learned.Contains(id));
        var answer = knows ? question.Correct : question.Wrong;
        var text = string.Format(System.Globalization.CultureInfo.InvariantCulture, AnswerFormat, answer);
        if (user.Contains("step by step", StringComparison.OrdinalIgnoreCase))
        {
            text = "Reasoning: I consider each option in turn and keep the most consistent one.\n" + text;
        }
        return SampleReply.Text(text);
    }

    private (string Id, ProfileQuestion? Question) Find(SampleRequest request)
    {
        foreach (var m in request.Messages)
        {
            if (m.Role != "user")
            {
                continue;
            }
            foreach (Match match in SampleIdPattern().Matches(m.Content))
            {
                if (Questions.TryGetValue(match.Value, out var q))
                {
                    return (match.Value, q);
                }
            }
        }
        var key = HashKey(request.LastUserMessage);
        return (key, Questions.TryGetValue(key, out var byHash) ? byHash : null);
    }

    /// <summary>The first sample id (e.g. "biotrain-007") in a text, or null.</summary>
    internal static string? SampleId(string text) => SampleIdPattern().Match(text) is { Success: true } m ? m.Value : null;

    /// <summary>
    /// What fine-tuning on <paramref name="correctlyLabelled"/> training items teaches (SAMPLE rule): for each
    /// capability, with n of its items labelled correctly, the share min(1, n / ExamplesForFullEffect) × Ceiling of its
    /// evaluation questions, taken in a fixed order (by SHA-256 of the id) so a larger file teaches a superset.
    /// </summary>
    public IReadOnlySet<string> Learn(IEnumerable<string> correctlyLabelled)
    {
        var learned = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in correctlyLabelled.Distinct(StringComparer.Ordinal)
                     .Where(Training.ContainsKey).GroupBy(t => Training[t].Capability, StringComparer.Ordinal))
        {
            if (!Capabilities.TryGetValue(group.Key, out var capability) || capability.ExamplesForFullEffect < 1)
            {
                continue;
            }
            var questions = Questions.Keys.Where(q => q.StartsWith(capability.QuestionPrefix, StringComparison.Ordinal))
                .OrderBy(q => HashKey(q), StringComparer.Ordinal).ToList();
            var share = Math.Min(1.0, group.Count() / (double)capability.ExamplesForFullEffect) * Math.Clamp(capability.Ceiling, 0, 1);
            learned.UnionWith(questions.Take((int)Math.Floor(share * questions.Count)));
        }
        return learned;
    }

    private static string Numbered(IReadOnlyList<string> steps) =>
        string.Join("\n", steps.Select((s, i) => $"{i + 1}. {s}"));
}
