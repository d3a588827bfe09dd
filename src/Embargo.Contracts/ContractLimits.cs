namespace Embargo.Contracts;

/// <summary>
/// How the server bounds every request body (enforced by Embargo.Server's RequestContracts for every object it
/// deserialises, so a new contract is covered without further code):
/// <list type="bullet">
/// <item>a string member is at most <c>[MaxLength(n)]</c> characters, else <see cref="DefaultMaxLength"/>;</item>
/// <item>a list member holds at most <c>[MaxLength(n)]</c> items, else <see cref="DefaultMaxItems"/>; its strings are at most
/// <see cref="ItemMaxLengthAttribute"/> characters, else <see cref="DefaultMaxLength"/>;</item>
/// <item>no string holds a control character (C0, DEL, C1), a bidirectional-text control (U+061C, U+200E/F,
/// U+202A–E, U+2066–9) or a lone surrogate; <c>[DataType(DataType.MultilineText)]</c> marks free text that may also
/// hold line breaks (LF, CR LF) and tabs;</item>
/// <item><c>[RegularExpression]</c> restricts a string's charset (version strings);</item>
/// <item><c>null</c> for a member (or a list item) whose type is not nullable, and any unknown member, are refused;</item>
/// <item>an instant (DateTimeOffset) carries an explicit offset or Z.</item>
/// </list>
/// Every refusal is a 400 ProblemDetails whose <c>member</c> names the offending member (e.g. <c>sealed[0].ciphertext</c>).
/// </summary>
public static class ContractLimits
{
    public const int DefaultMaxLength = 200;
    public const int DefaultMaxItems = 100;
    /// <summary>Free text: descriptions, summaries, reasons.</summary>
    public const int FreeText = 4000;
    /// <summary>Version strings: letters, digits and . _ + - (no spaces, no control characters), at most 64.</summary>
    public const string VersionPattern = "^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$";
    /// <summary>Tensor fingerprints in one registration or sighting (about 1.4 KB each: 512 fit in the 1 MiB body limit).</summary>
    public const int MaxFingerprints = 512;
}

/// <summary>The longest string item of a list member, in characters (the list's own [MaxLength] counts items).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ItemMaxLengthAttribute(int length) : Attribute
{
    public int Length { get; } = length;
}
