namespace Embargo.Protocol;

/// <summary>Checks on the free text that carries meaning in the protocol: reasons and descriptions that others rely on.</summary>
public static class Explanations
{
    public const int MaxReasonLength = 4000;

    /// <summary>
    /// A real explanation: at least three words of letters or digits (so "." or "ok" is refused), at most
    /// <see cref="MaxReasonLength"/> characters. The error names <paramref name="member"/>.
    /// </summary>
    public static ProtocolError? Reason(string? text, string member)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return ProtocolError.Validation($"{member} is required");
        }
        if (text.Length > MaxReasonLength)
        {
            return ProtocolError.Validation($"{member} is longer than {MaxReasonLength} characters");
        }
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Count(w => w.Count(char.IsLetterOrDigit) >= 2);
        return words < 3
            ? ProtocolError.Validation($"{member} must be a real explanation of at least three words; '{(text.Length > 40 ? text[..40] + "…" : text)}' is not")
            : null;
    }
}
