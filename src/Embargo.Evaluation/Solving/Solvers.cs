using System.Text;
using Embargo.Evaluation.Data;
using Embargo.Evaluation.Tools;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation.Solving;

/// <summary>Prepends a system message.</summary>
public sealed class SystemMessageSolver(string text) : ISolver
{
    public Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct)
    {
        state.Messages.Insert(0, new ChatMessage(ChatRole.System, text));
        return Task.CompletedTask;
    }
}

/// <summary>Rewrites the last user message through a template ({input}, {choices}, {id}, {metadata.KEY}),
/// adding the multiple-choice options and the chain-of-thought instruction when asked.</summary>
public sealed class PromptTemplateSolver(string? template, bool multipleChoice, bool chainOfThought) : ISolver
{
    public const string MultipleChoiceInstruction = "Answer with the letter of the correct option, in the form 'ANSWER: X'.";
    public const string ChainOfThoughtInstruction = "Think step by step, then give your final answer on its own line in the form 'ANSWER: ...'.";

    public Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct)
    {
        var index = state.Messages.FindLastIndex(m => m.Role == ChatRole.User);
        if (index < 0)
        {
            return Task.CompletedTask;
        }
        var input = state.Messages[index].Text;
        var choices = FormatChoices(state.Sample.Choices);
        var text = (template ?? "{input}")
            .Replace("{input}", input, StringComparison.Ordinal)
            .Replace("{choices}", choices, StringComparison.Ordinal)
            .Replace("{id}", state.Sample.Id, StringComparison.Ordinal);
        foreach (var (k, v) in state.Sample.Metadata)
        {
            text = text.Replace("{metadata." + k + "}", v, StringComparison.Ordinal);
        }
        if (!multipleChoice && !chainOfThought)
        {
            // Nothing to append: the substituted text is the message (no builder, no copy).
            state.Messages[index] = new ChatMessage(ChatRole.User, text);
            return Task.CompletedTask;
        }
        var sb = new StringBuilder(text);
        if (multipleChoice && template?.Contains("{choices}", StringComparison.Ordinal) != true && choices.Length > 0)
        {
            sb.Append("\n\n").Append(choices);
        }
        if (chainOfThought)
        {
            sb.Append("\n\n").Append(ChainOfThoughtInstruction);
        }
        else if (multipleChoice)
        {
            sb.Append("\n\n").Append(MultipleChoiceInstruction);
        }
        state.Messages[index] = new ChatMessage(ChatRole.User, sb.ToString());
        return Task.CompletedTask;
    }

    public static string FormatChoices(IReadOnlyList<string>? choices)
    {
        if (choices is null || choices.Count == 0)
        {
            return "";
        }
        return string.Join("\n", choices.Select((c, i) => $"{(char)('A' + i)}) {c}"));
    }
}

/// <summary>"Assisted" elicitation: the reference model writes a plan, the subject executes it.</summary>
public sealed class AssistedSolver(IGenerate reference) : ISolver
{
    public async Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct)
    {
        var index = state.Messages.FindLastIndex(m => m.Role == ChatRole.User);
        if (index < 0)
        {
            return;
        }
        var question = state.Messages[index].Text;
        var ask = new List<ChatMessage>
        {
            new(ChatRole.User, "Write a short plan (numbered steps) for answering the following question. Do not answer it.\n\n" + question),
        };
        var plan = await reference.GenerateAsync(ask, null, ct);
        state.ModelCalls++;
        state.Messages[index] = new ChatMessage(ChatRole.User,
            $"A more capable assistant ({reference.ModelName}) suggests this plan:\n{plan.Text}\n\n{question}");
    }
}

/// <summary>Calls the model; with tools, runs the tool-call loop (chat-completions tools API) until a final answer.</summary>
public sealed class GenerateSolver(ToolBox? tools, int maxToolRounds) : ISolver
{
    public async Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct)
    {
        var options = state.Options ?? (tools is null ? null : new ChatOptions { Tools = [.. tools.Declarations] });
        for (var round = 0; ; round++)
        {
            var response = await generate.GenerateAsync(state.Messages, options, ct);
            state.ModelCalls++;
            state.Messages.AddRange(response.Messages);
            // Without tools the calls are never run: no need to collect them.
            var calls = tools is null ? [] : response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            if (calls.Count == 0 || tools is null || round >= maxToolRounds)
            {
                state.Output = response.Text;
                return;
            }
            var results = new List<AIContent>();
            foreach (var call in calls)
            {
                var result = tools.Invoke(call.Name, call.Arguments);
                results.Add(new FunctionResultContent(call.CallId, result));
            }
            state.Messages.Add(new ChatMessage(ChatRole.Tool, results));
        }
    }
}

/// <summary>Multi-turn: after the first answer, each follow-up user turn is asked in the same conversation.</summary>
public sealed class FollowUpSolver(IReadOnlyList<string> turns, GenerateSolver generateSolver) : ISolver
{
    public async Task SolveAsync(TaskState state, IGenerate generate, CancellationToken ct)
    {
        foreach (var turn in turns)
        {
            state.Messages.Add(new ChatMessage(ChatRole.User, turn.Replace("{id}", state.Sample.Id, StringComparison.Ordinal)));
            await generateSolver.SolveAsync(state, generate, ct);
        }
    }
}

public static class SolverFactory
{
    /// <summary>Wires the task's solver spec: system → assisted plan → template → generate (+tools) → follow-ups.</summary>
    public static ISolver Build(EvalTaskDefinition task, IGenerate? reference, int maxToolRounds)
    {
        var spec = task.Spec.Solver;
        var chain = new List<ISolver>();
        if (!string.IsNullOrEmpty(spec.System))
        {
            chain.Add(new SystemMessageSolver(spec.System));
        }
        chain.Add(new PromptTemplateSolver(spec.Template, spec.MultipleChoice, spec.ChainOfThought));
        if (spec.Assisted)
        {
            chain.Add(new AssistedSolver(reference ?? throw new EvalInputException(
                $"task {task.Name} uses the assisted solver: give a reference model endpoint")));
        }
        ToolBox? tools = spec.Tools.Count == 0 ? null
            : new ToolBox(spec.Tools, spec.Documents is null ? null : task.Resolve(spec.Documents));
        var generate = new GenerateSolver(tools, maxToolRounds);
        chain.Add(generate);
        if (spec.Turns.Count > 0)
        {
            chain.Add(new FollowUpSolver(spec.Turns, generate));
        }
        return new SolverChain(chain);
    }
}
