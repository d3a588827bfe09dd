using System.Globalization;
using System.Text;
using System.Text.Json;
using Embargo.Text;

namespace Embargo.Ledger;

/// <summary>
/// The public ledger export: one JSON object per line, <c>{"index":N,"leaf":"&lt;base64 of the exact leaf bytes&gt;"}</c>,
/// indices 0..n-1 in order, each line ending in "\n".
/// </summary>
public static class LedgerJsonl
{
    private static readonly JsonDocumentOptions Strict = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 2,
    };

    /// <summary>One export line, without the terminating newline.</summary>
    public static string FormatLine(long index, ReadOnlySpan<byte> leaf)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("index", index);
            writer.WriteBase64String("leaf", leaf);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// Parses a whole export strictly: every line one object with exactly "index" (the next integer, written
    /// plainly) and "leaf" (canonical base64); no blank lines or trailing text. Errors name the 1-based line.
    /// </summary>
    public static LedgerResult<IReadOnlyList<byte[]>> Parse(TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var leaves = new List<byte[]>();
        long lineNumber = 0;
        var line = new StringBuilder();
        while (true)
        {
            var terminated = ReadLine(reader, line);
            if (!terminated && line.Length == 0)
            {
                break;
            }

            lineNumber++;
            var leaf = terminated
                ? ParseLine(line.ToString(), lineNumber - 1)
                : Malformed("the last line does not end with a newline");
            if (!leaf.IsOk)
            {
                return LedgerResult<IReadOnlyList<byte[]>>.Fail(leaf.Error with
                {
                    Message = $"ledger line {lineNumber}: {leaf.Error.Message}",
                    Line = lineNumber,
                });
            }

            leaves.Add(leaf.Value);
        }

        return LedgerResult<IReadOnlyList<byte[]>>.Success(leaves);
    }

    /// <summary>Reads up to and excluding the next '\n' into <paramref name="line"/>; false at end of input without one.</summary>
    private static bool ReadLine(TextReader reader, StringBuilder line)
    {
        line.Clear();
        int c;
        while ((c = reader.Read()) >= 0)
        {
            if (c == '\n')
            {
                return true;
            }

            line.Append((char)c);
        }

        return false;
    }

    private static LedgerResult<byte[]> ParseLine(string line, long expectedIndex)
    {
        if (line.Length == 0)
        {
            return Malformed("empty line");
        }

        if (line.Contains('\r', StringComparison.Ordinal))
        {
            return Malformed("carriage return (lines end with \\n only)");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, Strict);
        }
        catch (JsonException e)
        {
            return Malformed($"not one JSON object ({JsonErrorText.Describe(e)})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Malformed("not a JSON object");
            }

            JsonElement? index = null, leaf = null;
            foreach (var member in root.EnumerateObject())
            {
                switch (member.Name)
                {
                    case "index" when index is null:
                        index = member.Value;
                        break;
                    case "leaf" when leaf is null:
                        leaf = member.Value;
                        break;
                    default:
                        return Malformed($"unexpected or repeated member '{member.Name}'");
                }
            }

            if (index is not { ValueKind: JsonValueKind.Number } indexValue)
            {
                return Malformed("missing number member 'index'");
            }

            var expectedText = expectedIndex.ToString(CultureInfo.InvariantCulture);
            if (indexValue.GetRawText() != expectedText)
            {
                return LedgerResult<byte[]>.Fail(LedgerErrorKind.IndexOutOfRange,
                    $"index is {indexValue.GetRawText()}, expected {expectedText}");
            }

            if (leaf is not { ValueKind: JsonValueKind.String } leafValue)
            {
                return Malformed("missing string member 'leaf'");
            }

            if (!Text.TryDecodeBase64(leafValue.GetString()!, out var bytes))
            {
                return Malformed("'leaf' is not canonical base64");
            }

            return LedgerResult<byte[]>.Success(bytes);
        }
    }

    private static LedgerResult<byte[]> Malformed(string message) => LedgerResult<byte[]>.Fail(LedgerErrorKind.Malformed, message);
}
