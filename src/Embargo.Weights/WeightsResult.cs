using System.Diagnostics.CodeAnalysis;

namespace Embargo.Weights;

/// <summary>What went wrong, as a kind a caller can switch on.</summary>
public enum WeightsErrorKind
{
    NotFound,
    Io,
    Truncated,
    HeaderTooLarge,
    HeaderPastEndOfFile,
    InvalidUtf8,
    InvalidJson,
    DuplicateKey,
    InvalidHeader,
    UnsupportedDtype,
    OffsetOutOfRange,
    OffsetsOverlap,
    OffsetsLeaveGap,
    BadMagic,
    UnsupportedVersion,
    AbsurdLength,
    UnsupportedPath,
    InvalidKeyFile,
    NoKeyForIdentity,
    KeyUnwrapFailed,
    Tampered,
    OutputExists,
    InvalidSealedManifest,
}

/// <summary>An expected failure: the file it concerns and a one-line message.</summary>
public sealed record WeightsError(WeightsErrorKind Kind, string File, string Message)
{
    /// <summary>One line: "FILE: message".</summary>
    public override string ToString() => $"{File}: {Message}";
}

/// <summary>Either a value or a <see cref="WeightsError"/>. Expected failures are values, not exceptions.</summary>
public readonly record struct WeightsResult<T>
{
    private readonly T? _value;

    private WeightsResult(T? value, WeightsError? error)
    {
        _value = value;
        Error = error;
    }

    public WeightsError? Error { get; }

    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsOk => Error is null;

    public T Value => Error is null ? _value! : throw new InvalidOperationException($"No value: {Error}");

    public static WeightsResult<T> Ok(T value) => new(value, null);

    public static WeightsResult<T> Fail(WeightsError error) => new(default, error);

    public static implicit operator WeightsResult<T>(WeightsError error) => Fail(error);

    public bool TryGetValue([MaybeNullWhen(false)] out T value, [MaybeNullWhen(true)] out WeightsError error)
    {
        value = _value!;
        error = Error;
        return Error is null;
    }
}
