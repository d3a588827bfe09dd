using FsCheck;
using FsCheck.Xunit;

namespace Embargo.Weights.Tests;

/// <summary>Random mutations and truncations of valid files: the readers return a header or a typed error, never
/// throw, and never allocate more than a small multiple of the input.</summary>
public class FuzzTests
{
    private static readonly string[] Files = ["tiny.safetensors", "v3.gguf", "v2.gguf", "sharded/model-00001-of-00002.safetensors"];
    private static readonly byte[][] Originals = Files.Select(f => File.ReadAllBytes(Fixtures.PathOf(f))).ToArray();

    private static readonly byte[] Interesting = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0x09, 0x08, (byte)'"', (byte)'{', (byte)'}', (byte)',', (byte)'['];

    /// <summary>Parses <paramref name="bytes"/> as the format of fixture <paramref name="which"/>; checks the contract.</summary>
    private static bool ParsesOrFailsCleanly(int which, byte[] bytes)
    {
        var name = Files[which];
        using var stream = new MemoryStream(bytes, writable: false);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = name.EndsWith(".gguf", StringComparison.Ordinal)
            ? GgufReader.Read(stream, name)
            : SafetensorsReader.Read(stream, name);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (allocated > 4_000_000)
        {
            throw new InvalidOperationException($"allocated {allocated} bytes for a {bytes.Length}-byte input");
        }
        if (result.IsOk)
        {
            // Anything accepted must describe tensors that lie inside the file.
            return result.Value.Tensors.All(t => t.DataOffset >= 0 && t.ByteLength >= 0 && t.DataOffset + t.ByteLength <= bytes.Length);
        }
        return result.Error.File == name && !result.Error.Message.Contains('\n', StringComparison.Ordinal) && result.Error.Message.Length > 0;
    }

    [Property(MaxTest = 400)]
    public bool RandomByteMutationsNeverThrow(NonNegativeInt file, NonNegativeInt position, byte value, NonNegativeInt count, int seed)
    {
        var which = file.Get % Files.Length;
        var bytes = (byte[])Originals[which].Clone();
        var random = new Random(seed);
        var n = 1 + (count.Get % 8);
        for (var i = 0; i < n; i++)
        {
            // Bias towards the header, where the structure is.
            var at = (i == 0 ? position.Get : random.Next()) % Math.Min(bytes.Length, i % 2 == 0 ? 256 : bytes.Length);
            bytes[at] = i == 0 ? value : random.Next(3) == 0 ? Interesting[random.Next(Interesting.Length)] : (byte)random.Next(256);
        }
        return ParsesOrFailsCleanly(which, bytes);
    }

    [Property(MaxTest = 300)]
    public bool TruncationsNeverThrow(NonNegativeInt file, NonNegativeInt length)
    {
        var which = file.Get % Files.Length;
        var bytes = Originals[which][..(length.Get % Originals[which].Length)];
        var ok = ParsesOrFailsCleanly(which, bytes);
        using var stream = new MemoryStream(bytes);
        var result = Files[which].EndsWith(".gguf", StringComparison.Ordinal) ? GgufReader.Read(stream, "x") : SafetensorsReader.Read(stream, "x");
        return ok && !result.IsOk; // every strict prefix of a valid file is invalid
    }

    [Property(MaxTest = 300)]
    public bool LengthFieldsSetToExtremeValuesNeverThrow(NonNegativeInt file, NonNegativeInt position, ulong value)
    {
        var which = file.Get % Files.Length;
        var bytes = (byte[])Originals[which].Clone();
        // Overwrite an 8-byte-aligned-or-not window with an attacker-chosen 64-bit value (string lengths, counts, dims, offsets).
        var at = position.Get % Math.Max(1, Math.Min(bytes.Length - 8, 400));
        BitConverter.GetBytes(value % 3 == 0 ? ulong.MaxValue - value : value).CopyTo(bytes, at);
        return ParsesOrFailsCleanly(which, bytes);
    }

    [Property(MaxTest = 200)]
    public bool ArbitraryBytesNeverThrow(byte[] bytes, bool asGguf)
    {
        var prefixed = asGguf ? [.. "GGUF"u8, 3, 0, 0, 0, .. bytes] : bytes;
        return ParsesOrFailsCleanly(asGguf ? 1 : 0, prefixed);
    }

    [Property(MaxTest = 200)]
    public bool SpliceOfTwoFilesNeverThrows(NonNegativeInt a, NonNegativeInt b, NonNegativeInt cut)
    {
        var first = Originals[a.Get % Files.Length];
        var second = Originals[b.Get % Files.Length];
        var at = cut.Get % first.Length;
        byte[] spliced = [.. first[..at], .. second[Math.Min(at, second.Length)..]];
        return ParsesOrFailsCleanly(a.Get % Files.Length, spliced);
    }
}
