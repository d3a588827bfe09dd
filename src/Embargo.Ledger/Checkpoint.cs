using System.Globalization;
using System.Text;

namespace Embargo.Ledger;

/// <summary>
/// A C2SP tlog-checkpoint: the note body "origin\nsize\nbase64(root)\n" followed by optional extension lines.
/// </summary>
public sealed record Checkpoint
{
    /// <summary>The log's unique identity (first line); non-empty.</summary>
    public required string Origin { get; init; }

    /// <summary>Number of leaves the root covers.</summary>
    public required long Size { get; init; }

    /// <summary>RFC 6962 root hash at <see cref="Size"/>, 32 bytes.</summary>
    public required byte[] RootHash { get; init; }

    /// <summary>Optional, opaque, non-empty lines after the root.</summary>
    public IReadOnlyList<string> Extensions { get; init; } = [];

    /// <summary>The note body, ending in a newline. Throws on a checkpoint that could never parse (a bug in the caller).</summary>
    public string ToNoteBody()
    {
        if (Validate() is { } problem)
        {
            throw new InvalidOperationException($"Invalid checkpoint: {problem}");
        }

        var body = new StringBuilder();
        body.Append(Origin).Append('\n')
            .Append(Size.ToString(CultureInfo.InvariantCulture)).Append('\n')
            .Append(Convert.ToBase64String(RootHash)).Append('\n');
        foreach (var line in Extensions)
        {
            body.Append(line).Append('\n');
        }

        return body.ToString();
    }

    /// <summary>Parses a note body strictly: exact size digits, canonical base64 of 32 bytes, final newline, no empty lines.</summary>
    public static LedgerResult<Checkpoint> Parse(string noteBody)
    {
        ArgumentNullException.ThrowIfNull(noteBody);
        if (!noteBody.EndsWith('\n'))
        {
            return Malformed("body must end with a newline");
        }

        if (!Text.IsValidNoteText(noteBody, out var problem))
        {
            return Malformed(problem);
        }

        var lines = noteBody[..^1].Split('\n');
        if (lines.Length < 3)
        {
            return Malformed($"needs at least 3 lines (origin, size, root), has {lines.Length}");
        }

        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                return Malformed($"line {i + 1} is empty");
            }
        }

        var sizeText = lines[1];
        if (!sizeText.All(char.IsAsciiDigit) || (sizeText.Length > 1 && sizeText[0] == '0')
            || !long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var size))
        {
            return Malformed($"size '{sizeText}' is not a decimal number without leading zeros");
        }

        if (!Text.TryDecodeBase64(lines[2], out var root) || root.Length != MerkleHash.Size)
        {
            return Malformed("root hash is not canonical base64 of 32 bytes");
        }

        return LedgerResult<Checkpoint>.Success(new Checkpoint
        {
            Origin = lines[0],
            Size = size,
            RootHash = root,
            Extensions = lines[3..],
        });
    }

    public bool Equals(Checkpoint? other) =>
        other is not null
        && Origin == other.Origin
        && Size == other.Size
        && RootHash.AsSpan().SequenceEqual(other.RootHash)
        && Extensions.SequenceEqual(other.Extensions);

    public override int GetHashCode() => HashCode.Combine(Origin, Size, Convert.ToHexString(RootHash ?? []));

    private string? Validate()
    {
        if (string.IsNullOrEmpty(Origin) || Origin.Contains('\n', StringComparison.Ordinal))
        {
            return "origin must be a non-empty single line";
        }

        if (Size < 0)
        {
            return "size must not be negative";
        }

        if (RootHash is null || RootHash.Length != MerkleHash.Size)
        {
            return "root hash must be 32 bytes";
        }

        if (Extensions.Any(line => string.IsNullOrEmpty(line) || line.Contains('\n', StringComparison.Ordinal)))
        {
            return "extension lines must be non-empty single lines";
        }

        return Text.IsValidNoteText(ToBodyUnchecked(), out var problem) ? null : problem;
    }

    private string ToBodyUnchecked() => string.Concat(Origin, "\n", string.Join('\n', Extensions), "\n");

    private static LedgerResult<Checkpoint> Malformed(string message) =>
        LedgerResult<Checkpoint>.Fail(LedgerErrorKind.Malformed, $"checkpoint: {message}");
}
