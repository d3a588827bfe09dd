using Embargo.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Embargo.Server.Infrastructure;

/// <summary>The HTTP edge: protocol errors become ProblemDetails here and nowhere else.</summary>
public static class ApiResults
{
    public static ProblemHttpResult Problem(ProtocolError error)
    {
        var (status, title) = error.Kind switch
        {
            ErrorKind.Validation => (StatusCodes.Status400BadRequest, "Invalid request"),
            ErrorKind.NotFound => (StatusCodes.Status404NotFound, "Not found"),
            ErrorKind.Forbidden => (StatusCodes.Status403Forbidden, "Forbidden"),
            ErrorKind.Unavailable => (StatusCodes.Status503ServiceUnavailable, "Ledger integrity failure"),
            _ => (StatusCodes.Status409Conflict, "Refused by a protocol rule"),
        };
        var extensions = new Dictionary<string, object?> { ["code"] = error.Code };
        if (error.Rule is not null)
        {
            extensions["rule"] = error.Rule;
        }
        if (error.LedgerIndex is not null)
        {
            extensions["ledgerIndex"] = error.LedgerIndex;
        }
        if (error.Member is not null)
        {
            extensions["member"] = error.Member;
        }
        return TypedResults.Problem(error.Message, statusCode: status, title: title, extensions: extensions);
    }

    public static Results<Ok<T>, ProblemHttpResult> From<T>(Result<T> result) =>
        result.IsOk ? TypedResults.Ok(result.Value) : Problem(result.Error!);

    public static Results<Created<T>, ProblemHttpResult> Created<T>(Result<T> result, Func<T, string> location) =>
        result.IsOk ? TypedResults.Created(location(result.Value), result.Value) : Problem(result.Error!);

    /// <summary>Non-empty standard base64 (ciphertexts and keys arrive this way).</summary>
    public static bool IsBase64(string? s) => !string.IsNullOrEmpty(s) && Convert.TryFromBase64String(s, new byte[s.Length], out _);
}
