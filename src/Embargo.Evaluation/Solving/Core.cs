using Embargo.Evaluation.Data;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation.Solving;

/// <summary>Calls a model (with the engine's retries and timeouts). One per condition.</summary>
public interface IGenerate
{
    string ModelName { get; }
    Task<ChatResponse> GenerateAsync(IList<ChatMessage> messages, ChatOptions? options, CancellationToken ct);
}

/// <summary>The state a sample's solvers build up: the conversation so far and the final output.</summary>
public sealed class TaskState
{
    public TaskState(EvalSample sample, int epoch)
    {
        Sample = sample;
        Epoch = epoch;
        Messages = new List<ChatMessage>(sample.Input.Count + 2);
        foreach (var m in sample.Input)
        {
            Messages.Add(new ChatMessage(m.Role, m.Text));
        }
    }

    public EvalSample Sample { get; }
    public int Epoch { get; }
    public List<ChatMessage> Messages { get; }
    /// <summary>The model's final answer text (raw, as returned).</summary>
    public string Output { get; set; } = "";
    public int ModelCalls { get; set; }
    public ChatOptions? Options { get; set; }
}

public interface ISolver
{
    Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct);
}

/// <summary>Runs solvers in order.</summary>
public sealed class SolverChain(IReadOnlyList<ISolver> solvers) : ISolver
{
    public IReadOnlyList<ISolver> Solvers { get; } = solvers;

    public async Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct)
    {
        foreach (var s in Solvers)
        {
            await s.SolveAsync(state, generate, ct);
        }
    }
}
