using System.Diagnostics.CodeAnalysis;

namespace Embargo.Ledger;

/// <summary>What kind of expected failure a ledger operation hit.</summary>
public enum LedgerErrorKind
{
    /// <summary>Input text or bytes do not follow the format (note, key, checkpoint, jsonl line, hash length).</summary>
    Malformed,
    /// <summary>A leaf index or tree size is outside the range the operation allows.</summary>
    IndexOutOfRange,
    /// <summary>A proof has more or fewer hashes than the (index, size) or (old, new) pair requires.</summary>
    BadProofLength,
    /// <summary>A root recomputed from the data does not equal the root it was checked against.</summary>
    RootMismatch,
    /// <summary>The number of leaves does not equal the size a checkpoint commits to.</summary>
    SizeMismatch,
    /// <summary>A key string could not be used (bad encoding, wrong algorithm, key id not matching).</summary>
    BadKey,
    /// <summary>A signature line by the verifier's key (name and key id) did not verify.</summary>
    BadSignature,
    /// <summary>The note carries no signature line by the verifier's key (name and key id).</summary>
    NoMatchingSignature,
}

/// <summary>An expected failure: a kind, a one-line message and, for mismatches, both values as hex.</summary>
public sealed record LedgerError(LedgerErrorKind Kind, string Message)
{
    /// <summary>For <see cref="LedgerErrorKind.RootMismatch"/>: the root the caller trusted, lowercase hex.</summary>
    public string? Expected { get; init; }

    /// <summary>For <see cref="LedgerErrorKind.RootMismatch"/>: the root recomputed from the data, lowercase hex.</summary>
    public string? Computed { get; init; }

    /// <summary>For line-oriented inputs: the 1-based line the error is on.</summary>
    public long? Line { get; init; }

    public override string ToString() => $"{Kind}: {Message}";

    internal static LedgerError Mismatch(string what, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> computed) =>
        new(LedgerErrorKind.RootMismatch,
            $"{what}: computed {Convert.ToHexStringLower(computed)}, expected {Convert.ToHexStringLower(expected)}")
        {
            Expected = Convert.ToHexStringLower(expected),
            Computed = Convert.ToHexStringLower(computed),
        };
}

/// <summary>Success, or a <see cref="LedgerError"/>.</summary>
public sealed class LedgerResult
{
    public static readonly LedgerResult Ok = new(null);

    private LedgerResult(LedgerError? error) => Error = error;

    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsOk => Error is null;

    public LedgerError? Error { get; }

    public static LedgerResult Fail(LedgerError error) => new(error ?? throw new ArgumentNullException(nameof(error)));

    public static LedgerResult Fail(LedgerErrorKind kind, string message) => new(new LedgerError(kind, message));

    public static implicit operator LedgerResult(LedgerError error) => Fail(error);

    public override string ToString() => IsOk ? "Ok" : Error.ToString();
}

/// <summary>A value, or a <see cref="LedgerError"/>.</summary>
public sealed class LedgerResult<T>
{
    private readonly T? _value;

    private LedgerResult(T? value, LedgerError? error)
    {
        _value = value;
        Error = error;
    }

    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsOk => Error is null;

    public LedgerError? Error { get; }

    /// <summary>The value; reading it from a failed result is a bug and throws.</summary>
    public T Value => IsOk ? _value! : throw new InvalidOperationException($"No value: {Error}");

    public static LedgerResult<T> Success(T value) => new(value, null);

    public static LedgerResult<T> Fail(LedgerError error) => new(default, error ?? throw new ArgumentNullException(nameof(error)));

    public static LedgerResult<T> Fail(LedgerErrorKind kind, string message) => Fail(new LedgerError(kind, message));

    public static implicit operator LedgerResult<T>(LedgerError error) => Fail(error);

    public override string ToString() => IsOk ? $"Ok({_value})" : Error.ToString();
}
