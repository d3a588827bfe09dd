using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Disclosures;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Mitigations;
using Embargo.Server.Storage;
using Embargo.Server.Ui.Pages;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Ui;

/// <summary>
/// The web UI (static server-side rendered Razor components under /ui). People sign in with the same API token the CLI
/// uses; it is exchanged for a session cookie that is scoped to /ui (Path=/ui, HttpOnly, SameSite=Strict, Secure over
/// HTTPS), so the API under /api never sees it and keeps accepting Bearer tokens only. Every form carries an
/// anti-forgery token. Pages read through the API's own queries and the access table (<see cref="Access"/>), and the
/// forms call the API's own handlers, so the UI can do exactly what the API lets the same principal do.
/// </summary>
public static class UiEndpoints
{
    public const string Scheme = "EmbargoUi";
    public const string CookieName = "embargo_ui";

    /// <summary>Strict: own scripts and styles only (no inline code), no framing, forms post only here.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

    public static IServiceCollection AddUi(this IServiceCollection services)
    {
        services.AddAuthentication().AddCookie(Scheme, o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.Path = "/ui";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = TimeSpan.FromHours(8);
            o.SlidingExpiration = true;
            o.Events.OnValidatePrincipal = ValidateSessionAsync;
        });
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "embargo_ui_af";
            o.Cookie.Path = "/ui";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        services.AddRazorComponents();
        return services;
    }

    /// <summary>
    /// For /ui only: the session cookie becomes the request's user (the API never reads it), pages other than the
    /// public ones, the sign-in and the assets send an anonymous visitor to sign in, and responses carry the UI's CSP.
    /// Then anti-forgery validation for the forms.
    /// </summary>
    public static IApplicationBuilder UseUi(this IApplicationBuilder app)
    {
        app.UseWhen(c => c.Request.Path.StartsWithSegments("/ui"), ui => ui.Use(async (context, next) =>
        {
            context.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            // A page that answers 403/404 renders its own explanation; the API's ProblemDetails status pages are not for it.
            if (context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>() is { } statusPages)
            {
                statusPages.Enabled = false;
            }
            var session = await context.AuthenticateAsync(Scheme);
            if (session.Succeeded)
            {
                context.User = session.Principal;
            }
            else if (!IsOpen(context.Request.Path))
            {
                var back = context.Request.Path + context.Request.QueryString;
                context.Response.Redirect("/ui/sign-in?returnUrl=" + Uri.EscapeDataString(back));
                return;
            }
            await next(context);
        }));
        app.UseAntiforgery();
        return app;
    }

    private static bool IsOpen(PathString path) =>
        path.StartsWithSegments("/ui/public") || path.StartsWithSegments("/ui/assets") || path.StartsWithSegments("/ui/sign-in")
        || path.StartsWithSegments("/ui/session");

    public static IEndpointRouteBuilder MapUi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/ui/assets/{name}", Asset).ExcludeFromDescription();
        app.MapPost("/ui/session", SignIn).ExcludeFromDescription();
        app.MapPost("/ui/session/end", SignOut).ExcludeFromDescription();
        app.MapPost("/ui/actions/disclosures/{id}/acknowledge", Acknowledge).ExcludeFromDescription();
        app.MapPost("/ui/actions/mitigations/{id}/deadline", SetDeadline).ExcludeFromDescription();
        app.MapPost("/ui/actions/mitigations/{id}/report", ReportMitigation).ExcludeFromDescription();
        app.MapRazorComponents<App>();
        return app;
    }

    private static readonly Dictionary<string, string> AssetTypes = new(StringComparer.Ordinal)
    {
        ["site.css"] = "text/css; charset=utf-8",
        ["ledger.js"] = "text/javascript; charset=utf-8",
    };

    private static readonly Dictionary<string, (byte[] Bytes, string ETag)> Assets = AssetTypes.Keys.ToDictionary(k => k, k =>
    {
        using var stream = typeof(UiEndpoints).Assembly.GetManifestResourceStream("Embargo.Server.Ui.Assets." + k)
            ?? throw new InvalidOperationException($"the UI asset {k} is not embedded");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        var bytes = copy.ToArray();
        return (bytes, "\"" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..16] + "\"");
    }, StringComparer.Ordinal);

    /// <summary>The UI's CSS and scripts, embedded in the assembly (no CDN, no static-web-assets manifest to deploy).</summary>
    private static IResult Asset(string name, HttpContext http)
    {
        if (!Assets.TryGetValue(name, out var asset))
        {
            return TypedResults.NotFound();
        }
        http.Response.Headers.ETag = asset.ETag;
        http.Response.Headers.CacheControl = "no-cache";
        if (http.Request.Headers.IfNoneMatch == asset.ETag)
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }
        return TypedResults.Bytes(asset.Bytes, AssetTypes[name]);
    }

    /// <summary>Exchanges a principal's API token (the admin's too) for a session cookie; a wrong token counts towards the throttle.</summary>
    private static async Task<IResult> SignIn(HttpContext http, IFormCollection form, AdminCredential admin, EmbargoDb db, AuthThrottle throttle, CancellationToken ct)
    {
        var returnUrl = LocalPath(form["returnUrl"].ToString());
        var back = "&returnUrl=" + Uri.EscapeDataString(returnUrl);
        if (throttle.RetryAfter(http.Connection.RemoteIpAddress) is not null)
        {
            return SeeOther("/ui/sign-in?error=throttled" + back);
        }
        var token = form["token"].ToString().Trim();
        if (token.Length is 0 or > 512)
        {
            return SeeOther("/ui/sign-in?error=empty" + back);
        }
        var hash = Ids.HashToken(token);
        Claim[] claims;
        if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(hash), admin.TokenHash))
        {
            claims = Claims("admin", "embargo", Role.Admin, null);
        }
        else if (await db.Principals.AsNoTracking().FirstOrDefaultAsync(p => p.TokenHash == hash, ct) is { } principal)
        {
            claims = Claims(principal.Id, principal.OrganisationId, Roles.Parse(principal.Role).Value, principal.TokenHash);
        }
        else
        {
            throttle.RecordFailure(http.Connection.RemoteIpAddress);
            return SeeOther("/ui/sign-in?error=unknown" + back);
        }
        await http.SignInAsync(Scheme, new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme, Caller.PrincipalClaim, ClaimTypes.Role)));
        return SeeOther(returnUrl);
    }

    private static async Task<IResult> SignOut(HttpContext http, IFormCollection form)
    {
        _ = form;
        await http.SignOutAsync(Scheme);
        return SeeOther("/ui/sign-in?signedOut=1");
    }

    private static Claim[] Claims(string principal, string organisation, Role role, string? tokenHash) =>
    [
        new(Caller.PrincipalClaim, principal),
        new(Caller.OrganisationClaim, organisation),
        new(Caller.RoleClaim, role.Name()),
        new(ClaimTypes.Role, role.Name()),
        .. tokenHash is null ? Array.Empty<Claim>() : [new Claim(Caller.TokenHashClaim, tokenHash)],
    ];

    /// <summary>A session ends when its token is rotated or revoked (the principal no longer has that token hash).</summary>
    private static async Task ValidateSessionAsync(CookieValidatePrincipalContext context)
    {
        var user = context.Principal;
        var principal = user?.FindFirst(Caller.PrincipalClaim)?.Value;
        if (user is null || principal is null)
        {
            context.RejectPrincipal();
            return;
        }
        if (principal == "admin")
        {
            return;
        }
        var hash = user.FindFirst(Caller.TokenHashClaim)?.Value;
        var db = context.HttpContext.RequestServices.GetRequiredService<EmbargoDb>();
        if (hash is null || !await db.Principals.AsNoTracking().AnyAsync(p => p.Id == principal && p.TokenHash == hash, context.HttpContext.RequestAborted))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }

    /// <summary>The API's acknowledge handler, as the signed-in principal; back to the disclosure page with its outcome.</summary>
    private static async Task<IResult> Acknowledge(string id, HttpContext http, IFormCollection form, LedgerWriter writer, CancellationToken ct)
    {
        _ = form;
        var outcome = await DisclosureEndpoints.Acknowledge(id, http, writer, ct);
        return Outcome($"/ui/disclosures/{Uri.EscapeDataString(id)}", outcome.Result, "acknowledged");
    }

    private static async Task<IResult> SetDeadline(string id, HttpContext http, IFormCollection form, LedgerWriter writer, CancellationToken ct)
    {
        var back = LocalPath(form["returnUrl"].ToString());
        if (!DateTimeOffset.TryParse(form["dueAt"].ToString(), System.Globalization.CultureInfo.InvariantCulture,
                System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal, out var due))
        {
            return SeeOther(WithQuery(back, "refused", "dueAt: give a date and time, e.g. 2027-01-31T00:00"));
        }
        var outcome = await MitigationEndpoints.SetDeadline(id, new Contracts.SetDeadlineRequest { DueAt = due }, http, writer, ct);
        return Outcome(back, outcome.Result, "deadline-set");
    }

    private static async Task<IResult> ReportMitigation(string id, HttpContext http, IFormCollection form, LedgerWriter writer, CancellationToken ct)
    {
        var back = LocalPath(form["returnUrl"].ToString());
        var outcome = await MitigationEndpoints.Report(id, new Contracts.ReportMitigationRequest { Description = form["description"].ToString() }, http, writer, ct);
        return Outcome(back, outcome.Result, "reported");
    }

    /// <summary>Post/redirect/get: the page again, saying what happened or why it was refused (the rule's name included).</summary>
    private static IResult Outcome(string page, IResult result, string done) => result switch
    {
        ProblemHttpResult problem => SeeOther(WithQuery(page, "refused",
            (problem.ProblemDetails.Extensions.TryGetValue("rule", out var rule) && rule is not null ? $"{rule}: " : "") + (problem.ProblemDetails.Detail ?? problem.ProblemDetails.Title ?? "refused"))),
        _ => SeeOther(WithQuery(page, "done", done)),
    };

    private static string WithQuery(string path, string key, string value) =>
        path + (path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + key + "=" + Uri.EscapeDataString(value.Length > 300 ? value[..300] : value);

    /// <summary>Only a path under /ui of this site: never an absolute or protocol-relative URL (no open redirect).</summary>
    public static string LocalPath(string? url) =>
        url is { Length: > 0 and <= 2000 } u && u.StartsWith("/ui", StringComparison.Ordinal) && !u.StartsWith("//", StringComparison.Ordinal) && !u.Contains('\\', StringComparison.Ordinal)
            ? u
            : "/ui";

    private static IResult SeeOther(string location) => new SeeOtherResult(location);

    private sealed class SeeOtherResult(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
            httpContext.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}
