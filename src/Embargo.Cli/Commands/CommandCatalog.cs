using System.CommandLine;

namespace Embargo.Cli.Commands;

/// <summary>Every top-level verb. Each capability owns one file under Commands/ that builds its verbs.</summary>
public static class CommandCatalog
{
    public static IEnumerable<Command> All()
    {
        yield break;
    }
}
