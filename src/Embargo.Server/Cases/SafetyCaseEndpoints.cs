using System.Text;
using System.Text.Json;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Infrastructure;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Cases;

/// <summary>
/// The safety case, exported: a case's as it stands now (for a tier), and the exact one a certificate was issued on (its
/// digest is in the certificate's predicate). As canonical JSON (the bytes the digest is of), GSN-style SVG, or Markdown.
/// </summary>
public static class SafetyCaseEndpoints
{
    public const string Svg = "image/svg+xml";
    public const string Markdown = "text/markdown; charset=utf-8";

    public static IEndpointRouteBuilder MapSafetyCases(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/cases/{id}/safety-case", ForCase).WithTags("Cases").RequireAuthorization();
        // Public like the certificate itself: whoever verifies a certificate checks the argument it names.
        app.MapGet("/api/certificates/{id}/safety-case", ForCertificate).WithTags("Certificates").AllowAnonymous();
        return app;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ForCase(string id, string? tier, string? format, EmbargoDb db, HttpContext http, CancellationToken ct)
    {
        if (FormatError(format) is { } badFormat)
        {
            return ApiResults.Problem(badFormat);
        }
        var snapshot = await CaseSnapshot.LoadAsync(db, id, ct);
        if (snapshot is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"case {id}"));
        }
        if (snapshot.Decide(ProtocolAction.ReadCase, Caller.From(http.User)) is { } refused)
        {
            return ApiResults.Problem(refused);
        }
        var parsed = tier is null ? snapshot.RequestedTier : Tiers.Parse(tier);
        if (!parsed.IsOk)
        {
            return ApiResults.Problem(parsed.Error!);
        }
        var safetyCase = snapshot.SafetyCase(parsed.Value);
        return Render(safetyCase, SafetyCases.Serialize(safetyCase), format);
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ForCertificate(string id, string? format, EmbargoDb db, CancellationToken ct)
    {
        if (FormatError(format) is { } badFormat)
        {
            return ApiResults.Problem(badFormat);
        }
        var json = await db.Certificates.AsNoTracking().Where(c => c.Id == id).Select(c => new { c.SafetyCaseJson }).FirstOrDefaultAsync(ct);
        if (json is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"certificate {id}"));
        }
        if (json.SafetyCaseJson is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"a safety case for certificate {id} (it was approved before certificates carried one)"));
        }
        var bytes = Encoding.UTF8.GetBytes(json.SafetyCaseJson);
        return Render(JsonSerializer.Deserialize<SafetyCase>(bytes, CanonicalJson.Options)!, bytes, format);
    }

    private static ProtocolError? FormatError(string? format) =>
        format is null or "json" or "svg" or "md"
            ? null
            : ProtocolError.Validation($"format: '{(format.Length > 20 ? format[..20] + "…" : format)}' is not a safety-case format; expected json, svg or md");

    private static FileContentHttpResult Render(SafetyCase safetyCase, byte[] json, string? format) => format switch
    {
        "svg" => TypedResults.Bytes(Encoding.UTF8.GetBytes(SafetyCaseRendering.ToSvg(safetyCase)), Svg),
        "md" => TypedResults.Bytes(Encoding.UTF8.GetBytes(SafetyCaseRendering.ToMarkdown(safetyCase)), Markdown),
        _ => TypedResults.Bytes(json, SafetyCase.MediaType),
    };
}
