using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Embargo.Gateway;

/// <summary>Errors in the OpenAI shape: {"error": {"message", "type", "code", "param"}}. Messages never echo content.</summary>
public static class OpenAiErrors
{
    public static async Task WriteAsync(HttpContext ctx, int status, string code, string message, string? param = null, int? retryAfterSeconds = null)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        if (retryAfterSeconds is { } seconds)
        {
            ctx.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var type = status switch
        {
            401 => "authentication_error",
            403 => "permission_error",
            429 => "rate_limit_error",
            >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        using var buffer = new PooledBuffer();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            w.WriteString("code", code);
            w.WriteString("param", param);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        ctx.Response.ContentLength = buffer.WrittenCount;
        await ctx.Response.Body.WriteAsync(buffer.WrittenMemory, ctx.RequestAborted);
    }
}

/// <summary>An IBufferWriter over ArrayPool arrays: the hot path's scratch space.</summary>
public sealed class PooledBuffer(int initial = 4096) : System.Buffers.IBufferWriter<byte>, IDisposable
{
    private byte[] _array = System.Buffers.ArrayPool<byte>.Shared.Rent(initial);
    private int _written;

    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _written);
    public ReadOnlySpan<byte> WrittenSpan => _array.AsSpan(0, _written);
    public int WrittenCount => _written;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_written);
    }

    public void Clear() => _written = 0;

    private void Ensure(int sizeHint)
    {
        PooledArrays.Ensure(ref _array, _written, Math.Max(sizeHint, 256));
    }

    public void Dispose() => PooledArrays.Return(ref _array);
}

/// <summary>
/// Text gathered from JSON string values into one ArrayPool buffer: a prompt's or a completion's text is unescaped straight
/// from the parsed document, without a string per value or a StringBuilder's chunks (the hot path's largest allocations).
/// </summary>
public sealed class PooledText(int initial = 1024) : IDisposable
{
    private char[] _chars = System.Buffers.ArrayPool<char>.Shared.Rent(initial);

    public int Length { get; private set; }
    public ReadOnlySpan<char> Span => _chars.AsSpan(0, Length);
    /// <summary>The text so far; valid until more is appended or this is disposed.</summary>
    public ReadOnlyMemory<char> Memory => _chars.AsMemory(0, Length);

    /// <summary>Appends a JSON string's unescaped text (the element must be a string).</summary>
    public void Append(System.Text.Json.JsonElement value)
    {
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(value);
        Ensure(raw.Length); // an unescaped string never has more UTF-16 characters than its JSON text has bytes
        var reader = new System.Text.Json.Utf8JsonReader(raw);
        reader.Read();
        Length += reader.CopyString(_chars.AsSpan(Length));
    }

    public void Append(char c)
    {
        Ensure(1);
        _chars[Length++] = c;
    }

    public void Append(ReadOnlySpan<char> chars)
    {
        Ensure(chars.Length);
        chars.CopyTo(_chars.AsSpan(Length));
        Length += chars.Length;
    }

    /// <summary>Empties the text, keeping its buffer.</summary>
    public void Clear() => Length = 0;

    public override string ToString() => new(Span);
    public string ToString(int start, int length) => new(_chars, start, length);

    private void Ensure(int more) => PooledArrays.Ensure(ref _chars, Length, more);

    public void Dispose() => PooledArrays.Return(ref _chars);
}

/// <summary>One <see cref="System.Text.Json.Utf8JsonWriter"/> per thread, reset onto each output: for hot paths that write a
/// JSON text synchronously (nothing awaited between <see cref="Over"/> and the writer's Flush), so no writer is allocated
/// per request.</summary>
internal static class ThreadJsonWriter
{
    [ThreadStatic] private static System.Text.Json.Utf8JsonWriter? t_writer;

    public static System.Text.Json.Utf8JsonWriter Over(System.Buffers.IBufferWriter<byte> output)
    {
        var w = t_writer;
        if (w is null)
        {
            t_writer = w = new System.Text.Json.Utf8JsonWriter(output);
        }
        else
        {
            w.Reset(output);
        }
        return w;
    }
}

/// <summary>Growing and returning an ArrayPool array: <see cref="PooledBuffer"/>'s bytes and <see cref="PooledText"/>'s
/// characters.</summary>
internal static class PooledArrays
{
    /// <summary>Makes room for <paramref name="more"/> items after the first <paramref name="used"/>, moving them to a bigger
    /// rented array (the old one goes back to the pool).</summary>
    public static void Ensure<T>(ref T[] array, int used, int more)
    {
        if (array.Length - used >= more)
        {
            return;
        }
        var bigger = System.Buffers.ArrayPool<T>.Shared.Rent(Math.Max(array.Length * 2, used + more));
        array.AsSpan(0, used).CopyTo(bigger);
        System.Buffers.ArrayPool<T>.Shared.Return(array);
        array = bigger;
    }

    public static void Return<T>(ref T[] array)
    {
        if (array.Length > 0)
        {
            System.Buffers.ArrayPool<T>.Shared.Return(array);
            array = [];
        }
    }
}
