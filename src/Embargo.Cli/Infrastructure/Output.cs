using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Embargo.Cli.Infrastructure;

/// <summary>Human output by default (tables), JSON with --json. Progress and notes go to stderr.</summary>
public static class Output
{
    public static readonly JsonSerializerOptions Indented = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static bool IsTerminal => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    public static void Write(object value, bool json, string? title = null)
    {
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(value, value.GetType(), Indented));
            return;
        }
        var node = JsonSerializer.SerializeToNode(value, value.GetType(), EmbargoClient.Json);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("field").AddColumn("value");
        if (title is not null)
        {
            table.Title(Markup.Escape(title));
        }
        if (node is JsonArray rows && rows.All(r => r is JsonObject))
        {
            // A list: one row per item, one column per member.
            var columns = rows.SelectMany(r => r!.AsObject().Select(p => p.Key)).Distinct().ToList();
            var list = new Table().Border(TableBorder.Rounded);
            if (title is not null)
            {
                list.Title(Markup.Escape(title));
            }
            foreach (var column in columns.DefaultIfEmpty("(none)"))
            {
                list.AddColumn(Markup.Escape(column));
            }
            foreach (var row in rows)
            {
                list.AddRow(columns.Select(c => Markup.Escape(Summarise(row![c]))).ToArray());
            }
            AnsiConsole.Write(list);
            return;
        }
        if (node is JsonObject obj)
        {
            foreach (var (name, child) in obj)
            {
                table.AddRow(Markup.Escape(name), Markup.Escape(Summarise(child)));
            }
        }
        else
        {
            table.AddRow("value", Markup.Escape(Summarise(node)));
        }
        AnsiConsole.Write(table);
    }

    private static string Summarise(JsonNode? node) => node switch
    {
        null => "—",
        JsonValue v => v.ToString(),
        JsonArray a when a.All(x => x is JsonValue) => string.Join(", ", a.Select(x => x!.ToString())),
        JsonArray a => $"{a.Count} item(s)",
        JsonObject o => string.Join(", ", o.Where(p => p.Value is JsonValue).Select(p => $"{p.Key}={p.Value}")),
        _ => node.ToJsonString(),
    };

    public static void Note(string message) => Console.Error.WriteLine(message);
}
