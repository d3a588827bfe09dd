// One source file compiled into every Embargo assembly that reads JSON a person wrote or a file carried (linked from each
// .csproj): Embargo.Ledger, .Weights, .Evaluation and .Contracts reference nothing else of Embargo's, so it cannot live in one of
// them. Internal in each, so the copies never meet.
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Embargo.Text;

/// <summary>
/// What was wrong with a JSON text, in one line and in the terms of the JSON (a member, a line and column, "a string"), never in
/// .NET's: System.Text.Json says "The JSON value could not be converted to System.Collections.Generic.List`1[System.String]" or
/// "…missing required properties including: 'payload'" for 'Embargo.Protocol.Certificates.DsseEnvelope'. The person who reads
/// the message wrote the file, not the type.
/// </summary>
internal static partial class JsonErrorText
{
    /// <summary>"at signatures[0].sig (line 1, column 24): expected a string, found a number"; "not JSON (line 1, column 2):
    /// 'nope' is an invalid JSON literal"; "missing required member 'payload'".</summary>
    public static string Describe(JsonException e)
    {
        var member = e.Path is null or "$" ? null : e.Path.StartsWith("$.", StringComparison.Ordinal) ? e.Path[2..] : e.Path.TrimStart('$');
        var at = e.LineNumber is { } line && e.BytePositionInLine is { } column ? $"line {line + 1}, column {column + 1}" : null;
        // The object a member was in: "unknown member 'zz' in i" (its own name is already in the message).
        var parent = member is null ? null : member.LastIndexOf('.') is var dot and > 0 ? member[..dot] : null;
        var inParent = (parent is null ? "" : $" in {parent}") + (at is null ? "" : $" ({at})");
        var place = (member ?? "the document") + (at is null ? "" : $" ({at})");
        var message = e.Message;
        // The reader's own syntax errors (JsonDocument throws them as they are; the serializer wraps them).
        if ((IsReaderError(e) ? e : e.InnerException is { } inner && IsReaderError(inner) ? inner : null) is { } reader)
        {
            var syntax = Sentence(WithoutPosition(reader.Message));
            return syntax.StartsWith("The input does not contain any JSON tokens", StringComparison.Ordinal) ? "not JSON: the text is empty"
                : syntax.StartsWith("Expected depth to be zero", StringComparison.Ordinal) || syntax.Contains("reached end of data", StringComparison.Ordinal)
                    ? $"not JSON{(at is null ? "" : $" ({at})")}: the text ends before its objects and lists are closed"
                : $"not JSON{(at is null ? "" : $" ({at})")}: {syntax}";
        }
        if (MissingRequired().Match(message) is { Success: true } missing)
        {
            var names = Quoted().Matches(missing.Groups[1].Value).Select(m => m.Value).ToList();
            return $"missing required member{(names.Count == 1 ? "" : "s")} {string.Join(", ", names)}{(member is null ? "" : $" in {member}")}";
        }
        if (Unmapped().Match(message) is { Success: true } unknown)
        {
            return $"unknown member '{unknown.Groups[1].Value}'{inParent}";
        }
        if (Duplicate().Match(message) is { Success: true } twice)
        {
            return $"member '{twice.Groups[1].Value}' appears twice{inParent}";
        }
        if (NullNotAllowed().IsMatch(message))
        {
            return $"{place}: null is not allowed";
        }
        if (NotConverted().Match(message) is { Success: true } converted)
        {
            return $"{place}: {WhatWasExpected(converted.Groups[1].Value, e.InnerException)}";
        }
        // Anything else System.Text.Json says: its own words without .NET type names and without its position suffix.
        return $"{place}: {Sentence(DotNetName().Replace(WithoutPosition(message), "a value of another kind"))}";
    }

    private static bool IsReaderError(Exception e) => e.GetType().Name == "JsonReaderException";

    private static string WhatWasExpected(string type, Exception? inner)
    {
        if (inner is InvalidOperationException && TokenAs().Match(inner.Message) is { Success: true } token)
        {
            return $"expected {Kind(token.Groups[2].Value)}, found {Found(token.Groups[1].Value)}";
        }
        if (inner is InvalidOperationException && inner.Message.Contains("surrogate", StringComparison.Ordinal))
        {
            return "the string is not valid Unicode (a lone surrogate)";
        }
        if (inner is FormatException format)
        {
            var text = format.Message;
            return text.Contains("Base64", StringComparison.OrdinalIgnoreCase) ? "not valid base64"
                : text.Contains("DateTime", StringComparison.Ordinal) ? "not a date and time (e.g. 2027-01-31T00:00:00Z)"
                : text.Contains("Guid", StringComparison.Ordinal) ? "not a GUID"
                : text.Contains("TimeSpan", StringComparison.Ordinal) ? "not a duration (e.g. 00:05:00)"
                : Integer().IsMatch(text) ? "not a whole number in range"
                : "not a number in range";
        }
        return type switch
        {
            _ when type.EndsWith("[]", StringComparison.Ordinal) || ListType().IsMatch(type) => "expected a list",
            _ when type.Contains("Dictionary", StringComparison.Ordinal) => "expected an object",
            "System.String" => "expected a string",
            "System.Boolean" => "expected true or false",
            _ when Integer().IsMatch(type) => "expected a whole number",
            "System.Double" or "System.Single" or "System.Decimal" => "expected a number",
            _ => "not the kind of value expected here",
        };
    }

    private static string Kind(string dotnet) => dotnet.ToLowerInvariant() switch
    {
        "string" => "a string",
        "boolean" => "true or false",
        "number" or "double" or "single" or "decimal" => "a number",
        _ when Integer().IsMatch(dotnet) => "a whole number",
        var other => $"a {other}",
    };

    private static string Found(string token) => token switch
    {
        "String" or "PropertyName" => "a string",
        "Number" => "a number",
        "True" or "False" => "true or false",
        "Null" => "null",
        "StartObject" => "an object",
        "StartArray" => "a list",
        var other => other,
    };

    private static string WithoutPosition(string message) => PositionSuffix().Replace(message.ReplaceLineEndings(" "), "").Trim();

    private static string Sentence(string s) => s.TrimEnd('.', ' ');

    [GeneratedRegex(@"\s*(?:Path: .*?)?(?:\|\s*)?LineNumber: \d+ \| BytePositionInLine: \d+\.?\s*$")]
    private static partial Regex PositionSuffix();

    [GeneratedRegex(@"was missing required properties,? including: (.*?)\.?$")]
    private static partial Regex MissingRequired();

    [GeneratedRegex(@"'[^']*'")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^The JSON property '(.*)' could not be mapped to any \.NET member")]
    private static partial Regex Unmapped();

    [GeneratedRegex(@"^Duplicate property '(.*)' encountered")]
    private static partial Regex Duplicate();

    [GeneratedRegex(@"doesn't allow (?:setting )?null values")]
    private static partial Regex NullNotAllowed();

    [GeneratedRegex(@"^The JSON value could not be converted to (.+?)\. Path:")]
    private static partial Regex NotConverted();

    [GeneratedRegex(@"Cannot get the value of a token type '(\w+)' as an? (\w+)")]
    private static partial Regex TokenAs();

    [GeneratedRegex(@"U?Int(16|32|64|128)|S?Byte\b")]
    private static partial Regex Integer();

    [GeneratedRegex(@"(List|IList|IReadOnlyList|IEnumerable|ICollection|IReadOnlyCollection|ImmutableArray|HashSet|ISet)`1")]
    private static partial Regex ListType();

    [GeneratedRegex(@"'?(?:System|Embargo|Microsoft)\.[\w.`\[\], ]+'?")]
    private static partial Regex DotNetName();
}
