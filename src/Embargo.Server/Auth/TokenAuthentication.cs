using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Embargo.Protocol;
using Embargo.Server.Infrastructure;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Auth;

/// <summary>Bearer API tokens. Only SHA-256 hashes of tokens are stored; the admin token comes from configuration.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AdminCredential admin,
    IDbContextFactory<EmbargoDb> dbFactory,
    AuthThrottle throttle) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "EmbargoToken";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (string.IsNullOrEmpty(header))
        {
            return AuthenticateResult.NoResult();
        }
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            throttle.RecordFailure(Context.Connection.RemoteIpAddress);
            return AuthenticateResult.Fail("the Authorization header must be 'Bearer <token>'");
        }
        var token = header["Bearer ".Length..].Trim();
        var hash = Ids.HashToken(token);
        if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(hash), admin.TokenHash))
        {
            return Success("admin", "embargo", Role.Admin);
        }
        await using var db = await dbFactory.CreateDbContextAsync(Context.RequestAborted);
        var principal = await db.Principals.AsNoTracking().FirstOrDefaultAsync(p => p.TokenHash == hash, Context.RequestAborted);
        if (principal is null)
        {
            throttle.RecordFailure(Context.Connection.RemoteIpAddress);
            return AuthenticateResult.Fail("the API token is not known");
        }
        return Success(principal.Id, principal.OrganisationId, Roles.Parse(principal.Role).Value, principal.TokenHash);
    }

    private AuthenticateResult Success(string principal, string organisation, Role role, string? tokenHash = null)
    {
        var identity = new ClaimsIdentity(
        [
            new Claim(Caller.PrincipalClaim, principal),
            new Claim(Caller.OrganisationClaim, organisation),
            new Claim(Caller.RoleClaim, role.Name()),
            new Claim(ClaimTypes.Role, role.Name()),
        ], SchemeName);
        if (tokenHash is not null)
        {
            identity.AddClaim(new Claim(Caller.TokenHashClaim, tokenHash));
        }
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure?.Message;
        await Results.Problem(failure ?? "this needs an API token: send 'Authorization: Bearer <token>'",
            statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized").ExecuteAsync(Context);
    }
}

/// <summary>The configured admin token's hash, computed once rather than on every request.</summary>
public sealed class AdminCredential(IOptions<EmbargoOptions> options)
{
    public byte[] TokenHash { get; } = Encoding.ASCII.GetBytes(Ids.HashToken(options.Value.AdminToken));
}
