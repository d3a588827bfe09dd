using System.Text.Json;
using Embargo.Text;
using Microsoft.AspNetCore.Diagnostics;

namespace Embargo.Server.Infrastructure;

/// <summary>Bad request bodies become a one-line ProblemDetails (naming the member when known); anything else a 500 without internals.</summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        string? member = null;
        var status = StatusCodes.Status500InternalServerError;
        var title = "Server error";
        var detail = "the server failed to handle the request; nothing was changed";
        if (exception is BadHttpRequestException bad)
        {
            (status, title, detail) = (bad.StatusCode, "Invalid request", bad.Message);
            if (bad.InnerException is RequestMemberException m)
            {
                member = Join(PathMember(m.Path), m.Member);
                detail = member is null ? m.Problem : $"{member} {m.Problem}";
            }
            else if (bad.InnerException is JsonException json)
            {
                member = PathMember(json.Path);
                detail = $"the request body is not valid: {JsonErrorText.Describe(json)}";
            }
        }
        if (status >= 500)
        {
            LogUnhandled(logger, exception);
        }
        httpContext.Response.StatusCode = status;
        var context = new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = status, Title = title, Detail = OneLine(detail) },
            Exception = exception,
        };
        if (member is not null)
        {
            context.ProblemDetails.Extensions["member"] = member;
        }
        return await problems.TryWriteAsync(context);
    }

    /// <summary>"$.sealed[0].ciphertext" → "sealed[0].ciphertext"; the root ("$") names no member.</summary>
    private static string? PathMember(string? path) =>
        path is null or "$" ? null : path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');

    private static string? Join(string? path, string? member) =>
        path is null ? member : member is null ? path : $"{path}.{member}";

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception")]
    private static partial void LogUnhandled(ILogger logger, Exception e);
}
