using System.Security.Claims;
using Embargo.Protocol;

namespace Embargo.Server.Auth;

/// <summary>The authenticated principal making a request.</summary>
public sealed record Caller(string PrincipalId, string OrganisationId, Role Role)
{
    public const string PrincipalClaim = "embargo:principal";
    public const string OrganisationClaim = "embargo:organisation";
    public const string RoleClaim = "embargo:role";
    public const string TokenHashClaim = "embargo:token-hash";

    /// <summary>The hash of the token the request authenticated with; the writer re-checks it at commit (null for the admin and the system).</summary>
    [System.Text.Json.Serialization.JsonIgnore] public string? TokenHash { get; init; }

    public Actor Actor => new(PrincipalId, OrganisationId, Role);

    public static Caller From(ClaimsPrincipal user) => new(
        user.FindFirstValue(PrincipalClaim) ?? throw new InvalidOperationException("unauthenticated caller"),
        user.FindFirstValue(OrganisationClaim) ?? throw new InvalidOperationException("unauthenticated caller"),
        Roles.Parse(user.FindFirstValue(RoleClaim)).Value) { TokenHash = user.FindFirstValue(TokenHashClaim) };

    public ProtocolError? Require(params Role[] roles) =>
        roles.Contains(Role)
            ? null
            : ProtocolError.Forbidden($"this needs the role {string.Join(" or ", roles.Select(r => r.Name()))}; the caller is {("aeiou".Contains(Role.Name()[0], StringComparison.Ordinal) ? "an" : "a")} {Role.Name()}", "separation-of-duties");

    /// <summary>The system itself (background escalation); never authenticates over HTTP.</summary>
    public static readonly Caller System = new("system", "embargo", Role.Admin);
}
