using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Contracts;
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
        if (node is JsonArray rows && rows.All(r => r is JsonObject))
        {
            AnsiConsole.Write(ListTable(rows, title));
            return;
        }
        var table = new Table().Border(TableBorder.Rounded).AddColumn("field").AddColumn("value");
        if (title is not null)
        {
            table.Title(Markup.Escape(Safe(title)));
        }
        if (node is JsonObject obj)
        {
            foreach (var (name, child) in obj)
            {
                table.AddRow(Markup.Escape(Safe(name)), Markup.Escape(Safe(Summarise(child))));
            }
        }
        else
        {
            table.AddRow("value", Markup.Escape(Safe(Summarise(node))));
        }
        AnsiConsole.Write(table);
        // Lists of records (a case's findings, mitigations, …) follow as tables of their own.
        if (node is JsonObject parent)
        {
            foreach (var (name, child) in parent)
            {
                if (child is JsonArray { Count: > 0 } items && items.All(i => i is JsonObject))
                {
                    AnsiConsole.Write(ListTable(items, name));
                }
            }
        }
    }

    private static Table ListTable(JsonArray rows, string? title)
    {
        var columns = rows.SelectMany(r => r!.AsObject().Where(p => p.Value is not JsonArray and not JsonObject || p.Value is JsonArray a && a.All(x => x is JsonValue)).Select(p => p.Key)).Distinct().ToList();
        var list = new Table().Border(TableBorder.Rounded);
        if (title is not null)
        {
            list.Title(Markup.Escape(Safe(title)));
        }
        // Ids are what a user copies into the next command: their columns never wrap (the other columns wrap instead).
        var ids = columns.Where(c => IsIdColumn(c, rows)).ToHashSet(StringComparer.Ordinal);
        foreach (var column in columns.DefaultIfEmpty("(none)"))
        {
            var header = new TableColumn(Markup.Escape(Safe(column)));
            list.AddColumn(ids.Contains(column) ? header.NoWrap() : header);
        }
        foreach (var row in rows)
        {
            // Long text is cut in list cells (--json has everything); ids and digests never are.
            list.AddRow(columns.Select(c => Safe(Summarise(row![c])) is var text && text.Length > 40 && !ids.Contains(c) && !IsDigest(text) ? text[..39] + "…" : text)
                .Select(Markup.Escape).ToArray());
        }
        return list;
    }

    /// <summary>An id like <c>case_0123456789ab</c> (or a list of them).</summary>
    private static readonly System.Text.RegularExpressions.Regex IdPattern = new("^[a-z]{2,8}_[0-9a-z]{8,40}(, [a-z]{2,8}_[0-9a-z]{8,40})*$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    private static bool IsIdColumn(string column, JsonArray rows) =>
        column == "id" || column.EndsWith("Id", StringComparison.Ordinal)
        || rows.Select(r => r![column]).Where(v => v is JsonValue && v.ToString() != "—").Select(v => v!.ToString()).ToList() is { Count: > 0 } values && values.All(v => IdPattern.IsMatch(v));

    private static bool IsDigest(string text) => text.StartsWith("sha256:", StringComparison.Ordinal) && text.Length == 71;

    private static string Summarise(JsonNode? node) => node switch
    {
        null => "—",
        JsonValue v => v.ToString(),
        JsonArray a when a.All(x => x is JsonValue) => string.Join(", ", a.Select(x => x!.ToString())),
        JsonArray a => $"{a.Count} item(s)",
        JsonObject o => string.Join(", ", o.Where(p => p.Value is JsonValue).Select(p => $"{p.Key}={p.Value}")),
        _ => node.ToJsonString(),
    };

    /// <summary>Returned by a verb that printed its own human output (plain lines rather than a table).</summary>
    public sealed class AlreadyPrinted
    {
        public static readonly AlreadyPrinted Instance = new();

        private AlreadyPrinted()
        {
        }
    }

    public static void Note(string message) => Console.Error.WriteLine(Safe(message));

    /// <summary>
    /// The one place text from outside (the server, a certificate, a ledger, a file) is made safe to print: every
    /// control character (C0 including ESC and CR, DEL, C1), bidirectional-text control (U+061C, U+200E/F, U+202A–E,
    /// U+2066–9) and lone surrogate is written as a visible \uXXXX, so it cannot move the cursor, recolour, overwrite a
    /// line or reorder what is shown. With <paramref name="multiline"/> line feeds (and tabs) pass through.
    /// </summary>
    public static string Safe(string? text, bool multiline = false)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(c => NeedsEscape(c, multiline) || char.IsSurrogate(c)))
        {
            return text ?? "";
        }
        var safe = new System.Text.StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                safe.Append(c).Append(text[++i]);
            }
            else if (char.IsSurrogate(c) || NeedsEscape(c, multiline))
            {
                safe.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                safe.Append(c);
            }
        }
        return safe.ToString();
    }

    private static bool NeedsEscape(char c, bool multiline) =>
        (char.IsControl(c) && !(multiline && c is '\n' or '\t'))
        || c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');
}
