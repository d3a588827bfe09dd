using System.CommandLine;

namespace Embargo.Cli.Commands;

/// <summary>Every top-level verb. Each capability owns one file under Commands/ that builds its verbs.</summary>
public static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield return ServeCommand.Create();
        yield return DemoCommand.Create();
        yield return KeyCommands.Create();
        foreach (var command in ProtocolCommands.Create())
        {
            yield return command;
        }
        yield return IncidentCommands.Create();
        yield return LedgerCommands.Create();
        yield return VerifyCommand.Create();
        yield return ScanCommand.Create();
        yield return WeightsCommands.Create();
        yield return EvalCommands.Create();
        yield return FinetuneCommands.Create();
        yield return SampleModelCommands.Create();
        yield return GatewayCommand.Create();
        yield return WitnessCommands.Create();
        yield return CompletionCommand.Create();
    }
}
