namespace Embargo.Protocol;

public enum ErrorKind
{
    /// <summary>The request is malformed or names something invalid (HTTP 400, CLI exit 2).</summary>
    Validation,
    /// <summary>The thing named does not exist (404).</summary>
    NotFound,
    /// <summary>The caller's role or organisation may not do this (403).</summary>
    Forbidden,
    /// <summary>A protocol rule forbids this move now (409).</summary>
    RuleViolation,
    /// <summary>The server cannot take this now: its ledger failed the integrity check (503).</summary>
    Unavailable,
}

/// <summary>An expected failure: which rule (if any) stopped the move and a one-line reason.</summary>
public sealed record ProtocolError
{
    public required ErrorKind Kind { get; init; }
    public required string Code { get; init; }
    public required string Message { get; init; }
    /// <summary>The rule of DESIGN.md that forbids the move ("rule-1" … "rule-8", "separation-of-duties", "case-phase").</summary>
    public string? Rule { get; init; }
    /// <summary>The ledger index the error is about (the first leaf that differs from the signed history).</summary>
    public long? LedgerIndex { get; init; }
    /// <summary>The request member a validation error is about (e.g. "uplift.estimate"); the HTTP edge names it as "member".</summary>
    public string? Member { get; init; }

    public static ProtocolError Validation(string message) => new() { Kind = ErrorKind.Validation, Code = "invalid", Message = message };
    public static ProtocolError NotFound(string what) => new() { Kind = ErrorKind.NotFound, Code = "not-found", Message = $"{what} was not found" };
    public static ProtocolError Forbidden(string message, string? rule = null) => new() { Kind = ErrorKind.Forbidden, Code = "forbidden", Message = message, Rule = rule };
    public static ProtocolError Violation(string rule, string message) => new() { Kind = ErrorKind.RuleViolation, Code = "rule-violation", Message = message, Rule = rule };
}

public readonly struct Result<T>
{
    private readonly T? _value;

    private Result(T value) { _value = value; Error = null; }
    private Result(ProtocolError error) { _value = default; Error = error; }

    public ProtocolError? Error { get; }
    public bool IsOk => Error is null;
    public T Value => IsOk ? _value! : throw new InvalidOperationException($"no value: {Error!.Message}");

    public static implicit operator Result<T>(T value) => new(value);
    public static implicit operator Result<T>(ProtocolError error) => new(error);

    public Result<TOut> Then<TOut>(Func<T, Result<TOut>> next) => IsOk ? next(Value) : Error!;
}
