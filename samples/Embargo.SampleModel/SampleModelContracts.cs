using System.Text.Json;

namespace Embargo.SampleModel;

/// <summary>One chat message as the SAMPLE server received it.</summary>
public sealed record SampleMessage(string Role, string Content, string? ToolCallId = null);

/// <summary>A chat-completions request as the SAMPLE server parsed it (handed to scripted responders).</summary>
public sealed record SampleRequest
{
    public required string Model { get; init; }
    public required IReadOnlyList<SampleMessage> Messages { get; init; }
    public required IReadOnlyList<string> ToolNames { get; init; }
    public required bool Stream { get; init; }
    /// <summary>1-based arrival number across the server's lifetime.</summary>
    public required long Sequence { get; init; }

    public string LastUserMessage =>
        Messages.LastOrDefault(m => m.Role == "user")?.Content ?? string.Empty;

    public SampleMessage? LastMessage => Messages.Count == 0 ? null : Messages[^1];
}

/// <summary>A tool call the SAMPLE model asks the caller to make.</summary>
public sealed record SampleToolCall(string Name, string ArgumentsJson);

/// <summary>What the SAMPLE server answers: text, tool calls, or an HTTP error; optionally after a delay.</summary>
public sealed record SampleReply
{
    public string? Content { get; init; }
    public IReadOnlyList<SampleToolCall>? ToolCalls { get; init; }
    /// <summary>200 for an answer; anything else returns an OpenAI-shaped error with this status.</summary>
    public int StatusCode { get; init; } = 200;
    public TimeSpan Delay { get; init; }
    /// <summary>With an error status: sent as a Retry-After header (whole seconds).</summary>
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>When set, sent verbatim as a 200 application/json body (to test clients against malformed responses).</summary>
    public string? RawBody { get; init; }

    public static SampleReply Text(string content) => new() { Content = content };
    public static SampleReply Error(int status) => new() { StatusCode = status };
    public static SampleReply CallTool(string name, object arguments) =>
        new() { ToolCalls = [new SampleToolCall(name, JsonSerializer.Serialize(arguments))] };
}

/// <summary>Knobs for the SAMPLE server. Tests script answers with <see cref="Responder"/>.</summary>
public sealed record SampleModelOptions
{
    public string Url { get; init; } = "http://127.0.0.1:0";
    /// <summary>The capability profile; null = the bundled one.</summary>
    public CapabilityProfile? Profile { get; init; }
    /// <summary>Called first for every request; return null to fall back to the profile.</summary>
    public Func<SampleRequest, SampleReply?>? Responder { get; init; }
    /// <summary>Added to every response (e.g. 50 ms for the benchmark).</summary>
    public TimeSpan Latency { get; init; }
    /// <summary>Keep every request in <see cref="SampleModelServer.Requests"/> (off for benchmarks).</summary>
    public bool RecordRequests { get; init; } = true;
    /// <summary>The fine-tuning API's clock: a job's progress is computed from it (tests pass a fake one).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
    /// <summary>How long each fine-tuning stage and training step takes on <see cref="Time"/>; zero = a job is done when created.</summary>
    public TimeSpan FineTuneStep { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Largest training file accepted by POST /v1/files.</summary>
    public long MaxTrainingFileBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Most lines (examples) a training file may have.</summary>
    public int MaxTrainingLines { get; init; } = 10_000;
}
