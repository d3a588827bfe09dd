using System.Text.Unicode;

namespace Embargo.Gateway;

/// <summary>
/// Whether the strings of a JSON text (one that parsed) are valid Unicode. <see cref="System.Text.Json.JsonDocument"/> parses
/// a lone surrogate (<c>"\ud800"</c>, or its bytes ED A0 80) without complaint and throws only when the string is read, so
/// a request, an answer or a chunk is checked once, before any of its strings is read.
/// </summary>
public static class JsonText
{
    /// <summary>True when <paramref name="json"/> is valid UTF-8 and every <c>\u</c> escape of a surrogate is one half of a
    /// well-formed pair. The text must already have parsed as JSON (so a backslash only ever starts an escape in a string).</summary>
    public static bool IsValidText(ReadOnlySpan<byte> json)
    {
        if (!Utf8.IsValid(json))
        {
            return false;
        }
        var i = json.IndexOf((byte)'\\');
        while (i >= 0)
        {
            if (i + 5 < json.Length && json[i + 1] == (byte)'u')
            {
                var unit = Hex(json.Slice(i + 2, 4));
                if (unit is >= 0xDC00 and <= 0xDFFF)
                {
                    return false; // a low half with no high half before it
                }
                if (unit is >= 0xD800 and <= 0xDBFF)
                {
                    if (!(i + 11 < json.Length && json[i + 6] == (byte)'\\' && json[i + 7] == (byte)'u' && Hex(json.Slice(i + 8, 4)) is >= 0xDC00 and <= 0xDFFF))
                    {
                        return false; // a high half not followed by a low one
                    }
                    i += 12;
                }
                else
                {
                    i += 6;
                }
            }
            else
            {
                i += 2; // \\, \", \n, …: the escaped character is never the start of another escape
            }
            if (i >= json.Length)
            {
                break;
            }
            var next = json[i..].IndexOf((byte)'\\');
            i = next < 0 ? -1 : i + next;
        }
        return true;
    }

    /// <summary>The bytes of every string value in <paramref name="element"/> as the JSON text spells them (an escape counts
    /// its own bytes, never fewer than the character it stands for), member names left out.</summary>
    public static long StringBytes(System.Text.Json.JsonElement element)
    {
        switch (element.ValueKind)
        {
            case System.Text.Json.JsonValueKind.String:
                return System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element).Length - 2;
            case System.Text.Json.JsonValueKind.Array:
                long inArray = 0;
                foreach (var item in element.EnumerateArray())
                {
                    inArray += StringBytes(item);
                }
                return inArray;
            case System.Text.Json.JsonValueKind.Object:
                long inObject = 0;
                foreach (var member in element.EnumerateObject())
                {
                    inObject += StringBytes(member.Value);
                }
                return inObject;
            default:
                return 0;
        }
    }

    private static int Hex(ReadOnlySpan<byte> four)
    {
        var value = 0;
        foreach (var b in four)
        {
            value = value * 16 + (b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10);
        }
        return value;
    }
}
