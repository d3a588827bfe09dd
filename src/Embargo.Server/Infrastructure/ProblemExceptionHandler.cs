using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;

namespace Embargo.Server.Infrastructure;

/// <summary>Bad request bodies become a one-line ProblemDetails; anything else a 500 without internals.</summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "Invalid request", OneLine(bad.InnerException is JsonException json ? $"the request body is not valid: {json.Message}" : bad.Message)),
            _ => (StatusCodes.Status500InternalServerError, "Server error", "the server failed to handle the request; nothing was changed"),
        };
        if (status >= 500)
        {
            LogUnhandled(logger, exception);
        }
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
            Exception = exception,
        });
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception")]
    private static partial void LogUnhandled(ILogger logger, Exception e);
}
