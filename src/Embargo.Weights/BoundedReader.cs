using System.Buffers.Binary;
using System.Text;

namespace Embargo.Weights;

/// <summary>Internal signal used inside a parser; converted to a <see cref="WeightsError"/> at the reader's
/// public entry point and never escapes this assembly.</summary>
internal sealed class ParseFailure(WeightsErrorKind kind, string message) : Exception(message)
{
    public WeightsErrorKind Kind { get; } = kind;
}

/// <summary>Little-endian reader over a seekable stream that checks every length against what is left of
/// the file before it allocates or skips anything.</summary>
internal sealed class BoundedReader
{
    private readonly Stream _stream;
    private readonly byte[] _scratch = new byte[8];

    public BoundedReader(Stream stream, long length)
    {
        _stream = stream;
        Length = length;
    }

    public long Length { get; }
    public long Position { get; private set; }
    public long Remaining => Length - Position;

    private void Fill(Span<byte> destination, string what)
    {
        if (destination.Length > Remaining)
        {
            throw new ParseFailure(WeightsErrorKind.Truncated,
                $"truncated: {what} needs {destination.Length} bytes at offset {Position} but only {Remaining} remain");
        }
        _stream.ReadExactly(destination);
        Position += destination.Length;
    }

    public byte U8(string what)
    {
        Fill(_scratch.AsSpan(0, 1), what);
        return _scratch[0];
    }

    public ushort U16(string what)
    {
        Fill(_scratch.AsSpan(0, 2), what);
        return BinaryPrimitives.ReadUInt16LittleEndian(_scratch);
    }

    public uint U32(string what)
    {
        Fill(_scratch.AsSpan(0, 4), what);
        return BinaryPrimitives.ReadUInt32LittleEndian(_scratch);
    }

    public ulong U64(string what)
    {
        Fill(_scratch.AsSpan(0, 8), what);
        return BinaryPrimitives.ReadUInt64LittleEndian(_scratch);
    }

    /// <summary>Reads <paramref name="count"/> bytes after checking the count against the remaining file and a cap.</summary>
    public byte[] Bytes(ulong count, long cap, string what)
    {
        if (count > (ulong)Remaining)
        {
            throw new ParseFailure(WeightsErrorKind.AbsurdLength,
                $"{what} claims {count} bytes at offset {Position} but only {Remaining} remain in the file");
        }
        if (count > (ulong)cap)
        {
            throw new ParseFailure(WeightsErrorKind.AbsurdLength,
                $"{what} claims {count} bytes, above the {cap} byte limit");
        }
        var buffer = new byte[(int)count];
        Fill(buffer, what);
        return buffer;
    }

    public void Skip(ulong count, string what)
    {
        if (count > (ulong)Remaining)
        {
            throw new ParseFailure(WeightsErrorKind.AbsurdLength,
                $"{what} claims {count} bytes at offset {Position} but only {Remaining} remain in the file");
        }
        _stream.Seek((long)count, SeekOrigin.Current);
        Position += (long)count;
    }

    public static string Utf8Lenient(byte[] bytes) => Encoding.UTF8.GetString(bytes);
}
