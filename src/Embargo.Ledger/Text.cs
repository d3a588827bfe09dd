using System.Buffers.Text;

namespace Embargo.Ledger;

/// <summary>Strict decoding shared by the note, key, checkpoint and jsonl parsers.</summary>
internal static class Text
{
    /// <summary>Standard padded base64 (RFC 4648 §4), canonical only: no whitespace, no stray bits.</summary>
    public static bool TryDecodeBase64(string text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length % 4 != 0)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!(c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '+' or '/' or '='))
            {
                return false;
            }
        }

        var buffer = new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)];
        if (!Convert.TryFromBase64String(text, buffer, out var written))
        {
            return false;
        }

        bytes = buffer.AsSpan(0, written).ToArray();
        return Convert.ToBase64String(bytes) == text;
    }

    /// <summary>Note key names: non-empty, no Unicode whitespace, no '+', no control characters.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c == '+' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return false;
            }
        }

        return IsWellFormedUtf16(name);
    }

    /// <summary>No ASCII control characters other than newline, and no lone surrogates (so it encodes as valid UTF-8).</summary>
    public static bool IsValidNoteText(string text, out string problem)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c < 0x20 && c != '\n')
            {
                problem = $"control character U+{(int)c:X4} at offset {i}";
                return false;
            }
        }

        if (!IsWellFormedUtf16(text))
        {
            problem = "text is not valid Unicode (lone surrogate)";
            return false;
        }

        problem = "";
        return true;
    }

    private static bool IsWellFormedUtf16(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }

                i++;
            }
            else if (char.IsLowSurrogate(text[i]))
            {
                return false;
            }
        }

        return true;
    }
}
