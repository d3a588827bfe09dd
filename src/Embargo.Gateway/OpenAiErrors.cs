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
        sizeHint = Math.Max(sizeHint, 256);
        if (_array.Length - _written >= sizeHint)
        {
            return;
        }
        var bigger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, _written + sizeHint));
        _array.AsSpan(0, _written).CopyTo(bigger);
        System.Buffers.ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }

    public void Dispose()
    {
        if (_array.Length > 0)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(_array);
            _array = [];
        }
    }
}
