using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation;

/// <summary>A threat model drafted by the reference model. Always a draft: an evaluator accepts or edits it.</summary>
public sealed record ThreatModelDraft
{
    public required string Capability { get; init; }
    public required string Description { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }
    /// <summary>The reference model's raw answer.</summary>
    public required string RawText { get; init; }
    public required string ReferenceModel { get; init; }
    /// <summary>Always "draft" when produced here; never accepted automatically.</summary>
    public string Status { get; init; } = "draft";
    public required DateTimeOffset DraftedAt { get; init; }
}

public static partial class ThreatModelDrafter
{
    [GeneratedRegex(@"^\s*(?:\d+[.)]|[-*•])\s+(.+?)\s*$", RegexOptions.Multiline)]
    private static partial Regex StepLine();

    public static string Prompt(string capability, string description) => $"""
        You are helping an AI-release review draft a threat model (at the level of a public advisory; no operational detail).
        Capability: {capability}
        Description: {description}
        List the ways this capability could be misused, as numbered steps from the actor's goal to the harm, one per line.
        """;

    public static Task<ThreatModelDraft> DraftAsync(IChatClient reference, string capability, string description, CancellationToken ct) =>
        DraftAsync(reference, capability, description, TimeProvider.System, ct);

    public static async Task<ThreatModelDraft> DraftAsync(IChatClient reference, string capability, string description, TimeProvider time, CancellationToken ct)
    {
        ChatResponse response;
        try
        {
            response = await reference.GetResponseAsync([new ChatMessage(ChatRole.User, Prompt(capability, description))], cancellationToken: ct);
        }
        catch (Exception e) when (e is System.ClientModel.ClientResultException or HttpRequestException or System.Text.Json.JsonException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // The reference model failed: one line naming its URL and name, never "a bug".
            var metadata = reference.GetService<ChatClientMetadata>();
            var url = metadata?.ProviderUri ?? new Uri("about:reference-model");
            var status = e is System.ClientModel.ClientResultException { Status: > 0 } cre ? $"HTTP {cre.Status}: " : "";
            var message = e.Message.ReplaceLineEndings(" ");
            var line = status + (message.Length > 200 ? message[..200] + "…" : message);
            throw ((System.ClientModel.ClientResultException?)(e as System.ClientModel.ClientResultException))?.Status is 404 or 401 or 403
                ? new ModelNotAvailableException(url, metadata?.DefaultModelId ?? "reference", "reference model: " + line, e)
                : new ModelEndpointException(url, metadata?.DefaultModelId ?? "reference", "reference model: " + line, e);
        }
        var text = response.Text;
        var steps = StepLine().Matches(text).Select(m => m.Groups[1].Value).ToList();
        if (steps.Count == 0 && !string.IsNullOrWhiteSpace(text))
        {
            steps = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        }
        var model = response.ModelId ?? reference.GetService<ChatClientMetadata>()?.DefaultModelId ?? "reference";
        return new ThreatModelDraft
        {
            Capability = capability,
            Description = description,
            Steps = steps,
            RawText = text,
            ReferenceModel = model,
            DraftedAt = time.GetUtcNow(),
        };
    }
}
