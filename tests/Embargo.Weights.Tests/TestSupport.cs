using System.Buffers.Binary;
using System.Text;

namespace Embargo.Weights.Tests;

/// <summary>A fresh directory under /tmp, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "embargo-weights-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string relative, byte[] content)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllBytes(full, content);
        return full;
    }

    public string Sub(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Fixtures
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "fixtures");

    public static string PathOf(string relative) => Path.Combine(Dir, relative);

    /// <summary>8-byte length + the header text as given (no padding) + <paramref name="dataBytes"/> zero bytes.</summary>
    public static byte[] Safetensors(string header, int dataBytes) => Safetensors(Encoding.UTF8.GetBytes(header), dataBytes);

    public static byte[] Safetensors(byte[] header, int dataBytes)
    {
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }
}

/// <summary>A hand-rolled GGUF writer for hostile cases (the valid fixtures come from make_fixtures.py).</summary>
internal sealed class GgufBuilder
{
    private readonly List<byte> _s = [];

    public GgufBuilder Raw(ReadOnlySpan<byte> b)
    {
        _s.AddRange(b);
        return this;
    }

    public GgufBuilder U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        return Raw(b);
    }

    public GgufBuilder U64(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return Raw(b);
    }

    public GgufBuilder Str(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        return U64((ulong)b.Length).Raw(b);
    }

    /// <summary>Magic, version, tensor count, kv count.</summary>
    public static GgufBuilder Header(uint version, ulong tensors, ulong kvs) =>
        new GgufBuilder().Raw("GGUF"u8).U32(version).U64(tensors).U64(kvs);

    public GgufBuilder Pad(int alignment)
    {
        while (_s.Count % alignment != 0) _s.Add(0);
        return this;
    }

    public GgufBuilder Zeros(int n)
    {
        _s.AddRange(new byte[n]);
        return this;
    }

    public byte[] Bytes() => _s.ToArray();
}
