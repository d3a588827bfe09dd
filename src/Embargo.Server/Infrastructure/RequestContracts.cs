using System.Collections;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Embargo.Contracts;

namespace Embargo.Server.Infrastructure;

/// <summary>A request body member the API refuses; becomes a 400 ProblemDetails whose <c>member</c> names it.</summary>
public sealed class RequestMemberException(string? member, string problem) : JsonException(member is null ? problem : $"{member} {problem}")
{
    /// <summary>The member relative to the object being read (the JSON path of that object is prefixed by the handler).</summary>
    public string? Member { get; } = member;
    public string Problem { get; } = problem;
}

/// <summary>
/// The one validation pass for every request body (the policy is written in <see cref="ContractLimits"/>): a
/// System.Text.Json contract modifier gives every Embargo object type an OnDeserialized check of its own members and
/// refuses unknown members, so a contract added later is bounded without further code. Nested objects check
/// themselves as they are read; the JSON path of the object is added by <see cref="ProblemExceptionHandler"/>.
/// </summary>
public static class RequestContracts
{
    /// <summary>The API's resolver with <see cref="Modify"/> added.</summary>
    public static IJsonTypeInfoResolver Resolver(IJsonTypeInfoResolver? resolver) =>
        (resolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(Modify);

    public static void Modify(JsonTypeInfo info)
    {
        // The HTTP contract's types (the Embargo.Contracts project).
        if (info.Kind != JsonTypeInfoKind.Object || info.Type.Namespace is not { } ns || !ns.StartsWith("Embargo.", StringComparison.Ordinal)
            || !ns.Split('.').Contains("Contracts"))
        {
            return;
        }
        info.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        var members = info.Properties
            .Where(p => p.Set is not null && p.Get is not null && p.AttributeProvider is PropertyInfo)
            .Select(p => MemberRule.For(p, (PropertyInfo)p.AttributeProvider!))
            .ToList();
        if (members.Count == 0)
        {
            return;
        }
        var previous = info.OnDeserialized;
        info.OnDeserialized = value =>
        {
            previous?.Invoke(value);
            foreach (var member in members)
            {
                member.Check(value);
            }
        };
    }

    /// <summary>Null when the text is acceptable, else why not (naming the character by code point).</summary>
    public static string? TextProblem(string text, bool multiline)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
            {
                return $"contains a lone surrogate (U+{(int)c:X4}) at position {i}";
            }
            if (multiline && (c is '\n' or '\t' || (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')))
            {
                continue;
            }
            if (char.IsControl(c))
            {
                return $"contains a control character (U+{(int)c:X4}) at position {i}{(multiline ? "; only line breaks and tabs are allowed" : "")}";
            }
            if (c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069'))
            {
                return $"contains a bidirectional-text control (U+{(int)c:X4}) at position {i}";
            }
        }
        return null;
    }

    private sealed class MemberRule
    {
        private string Name { get; init; } = "";
        private Func<object, object?> Get { get; init; } = _ => null;
        private bool Nullable { get; init; }
        private bool ItemsNullable { get; init; }
        private bool IsList { get; init; }
        private int MaxLength { get; init; }
        private int ItemMaxLength { get; init; }
        private bool Multiline { get; init; }
        private RegularExpressionAttribute? Pattern { get; init; }

        public static MemberRule For(JsonPropertyInfo json, PropertyInfo property)
        {
            var nullability = new NullabilityInfoContext().Create(property);
            var isList = property.PropertyType != typeof(string) && typeof(IEnumerable).IsAssignableFrom(property.PropertyType);
            var items = isList ? nullability.ElementType ?? nullability.GenericTypeArguments.FirstOrDefault() : null;
            return new MemberRule
            {
                Name = json.Name,
                Get = json.Get!,
                Nullable = nullability.WriteState != NullabilityState.NotNull,
                IsList = isList,
                ItemsNullable = items is not null && items.ReadState != NullabilityState.NotNull,
                MaxLength = property.GetCustomAttribute<MaxLengthAttribute>()?.Length ?? (isList ? ContractLimits.DefaultMaxItems : ContractLimits.DefaultMaxLength),
                ItemMaxLength = property.GetCustomAttribute<ItemMaxLengthAttribute>()?.Length ?? ContractLimits.DefaultMaxLength,
                Multiline = property.GetCustomAttribute<DataTypeAttribute>()?.DataType == DataType.MultilineText,
                Pattern = property.GetCustomAttribute<RegularExpressionAttribute>(),
            };
        }

        public void Check(object owner)
        {
            switch (Get(owner))
            {
                case null when !Nullable:
                    throw new RequestMemberException(Name, "is required and must not be null");
                case string text:
                    CheckText(Name, text, MaxLength);
                    if (Pattern is not null && !Regex.IsMatch(text, Pattern.Pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1)))
                    {
                        throw new RequestMemberException(Name, $"must match {Pattern.Pattern}");
                    }
                    break;
                case IEnumerable list when IsList:
                    var index = 0;
                    foreach (var item in list)
                    {
                        if (index == MaxLength)
                        {
                            throw new RequestMemberException(Name, $"has more than {MaxLength} items");
                        }
                        var name = string.Create(CultureInfo.InvariantCulture, $"{Name}[{index}]");
                        if (item is null && !ItemsNullable)
                        {
                            throw new RequestMemberException(name, "must not be null");
                        }
                        if (item is string text)
                        {
                            CheckText(name, text, ItemMaxLength);
                        }
                        index++;
                    }
                    break;
            }
        }

        private void CheckText(string name, string text, int max)
        {
            if (text.Length > max)
            {
                throw new RequestMemberException(name, $"is longer than {max} characters");
            }
            if (TextProblem(text, Multiline) is { } problem)
            {
                throw new RequestMemberException(name, problem);
            }
        }
    }
}

/// <summary>Instants in requests carry an explicit offset or Z (ISO 8601); a bare local time is refused, never guessed.</summary>
public sealed partial class InstantConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new RequestMemberException(null, "must be an ISO 8601 instant string with an offset or Z, e.g. 2027-01-31T00:00:00Z");
        }
        var text = reader.GetString()!;
        if (text.Length > 40 || !Iso8601WithOffset().IsMatch(text)
            || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value))
        {
            throw new RequestMemberException(null, "must be an ISO 8601 instant with an explicit offset or Z, e.g. 2027-01-31T00:00:00Z");
        }
        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso8601WithOffset();
}
