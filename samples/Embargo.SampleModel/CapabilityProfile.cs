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

    /// <summary>Answers a request deterministically from this profile.</summary>
    public SampleReply Answer(SampleRequest request)
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
        var question = Find(request);
        if (question is null)
        {
            return SampleReply.Text(UnknownAnswer);
        }
        var answer = question.CorrectFor.Contains(request.Model) ? question.Correct : question.Wrong;
        var text = string.Format(System.Globalization.CultureInfo.InvariantCulture, AnswerFormat, answer);
        if (user.Contains("step by step", StringComparison.OrdinalIgnoreCase))
        {
            text = "Reasoning: I consider each option in turn and keep the most consistent one.\n" + text;
        }
        return SampleReply.Text(text);
    }

    private ProfileQuestion? Find(SampleRequest request)
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
                    return q;
                }
            }
        }
        return Questions.TryGetValue(HashKey(request.LastUserMessage), out var byHash) ? byHash : null;
    }

    private static string Numbered(IReadOnlyList<string> steps) =>
        string.Join("\n", steps.Select((s, i) => $"{i + 1}. {s}"));
}
