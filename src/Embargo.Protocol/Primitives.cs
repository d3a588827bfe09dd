using System.Security.Cryptography;

namespace Embargo.Protocol;

/// <summary>The access gradient, lowest to highest. The numeric order is the order of openness.</summary>
public enum Tier
{
    Closed = 0,
    Internal = 1,
    Staged = 2,
    Hosted = 3,
    Api = 4,
    Downloadable = 5,
    Open = 6,
}

public static class Tiers
{
    public static readonly IReadOnlyList<Tier> All = Enum.GetValues<Tier>();

    public static string Name(this Tier tier) => tier.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out Tier tier)
    {
        tier = Tier.Closed;
        if (string.IsNullOrWhiteSpace(text) || !text.All(char.IsAsciiLetterLower))
        {
            return false;
        }
        return Enum.TryParse(text, ignoreCase: true, out tier) && Enum.IsDefined(tier);
    }

    public static Result<Tier> Parse(string? text, string field = "tier") =>
        TryParse(text, out var tier)
            ? tier
            : ProtocolError.Validation($"{field} '{text}' is not a tier; expected one of {string.Join(", ", All.Select(t => t.Name()))}");
}

public enum Role
{
    Admin,
    Developer,
    Evaluator,
    Regulator,
    AffectedParty,
    Certifier,
}

public static class Roles
{
    public static string Name(this Role role) => role switch
    {
        Role.AffectedParty => "affected-party",
        _ => role.ToString().ToLowerInvariant(),
    };

    public static Result<Role> Parse(string? text)
    {
        foreach (var role in Enum.GetValues<Role>())
        {
            if (string.Equals(role.Name(), text, StringComparison.Ordinal))
            {
                return role;
            }
        }
        return ProtocolError.Validation($"role '{text}' is not known; expected one of {string.Join(", ", Enum.GetValues<Role>().Select(r => r.Name()))}");
    }
}

/// <summary>The phases of a release case.</summary>
public enum CaseState
{
    Scoping,
    Mapping,
    Testing,
    Reflection,
    Disclosure,
    Certification,
    Released,
    Denied,
}

public static class CaseStates
{
    public static string Name(this CaseState state) => state.ToString().ToLowerInvariant();

    public static Result<CaseState> Parse(string? text) =>
        Enum.TryParse<CaseState>(text, ignoreCase: true, out var s) && Enum.IsDefined(s) && text!.All(char.IsAsciiLetterLower)
            ? s
            : ProtocolError.Validation($"state '{text}' is not a case state; expected one of {string.Join(", ", Enum.GetValues<CaseState>().Select(x => x.Name()))}");
}

/// <summary>A SHA-256 digest, written "sha256:&lt;64 lowercase hex&gt;" at the edges.</summary>
public readonly record struct Sha256Digest
{
    private readonly string _hex;

    private Sha256Digest(string hex) => _hex = hex;

    public string Hex => _hex ?? throw new InvalidOperationException("default Sha256Digest");

    public override string ToString() => "sha256:" + Hex;

    public static Sha256Digest Of(ReadOnlySpan<byte> data) => new(Convert.ToHexStringLower(SHA256.HashData(data)));

    public static Sha256Digest FromBytes(ReadOnlySpan<byte> hash) =>
        hash.Length == 32 ? new(Convert.ToHexStringLower(hash)) : throw new ArgumentException("a SHA-256 digest has 32 bytes", nameof(hash));

    /// <summary>Accepts "sha256:hex" or bare hex (64 lowercase or uppercase hex digits).</summary>
    public static Result<Sha256Digest> Parse(string? text, string field = "digest")
    {
        var hex = text ?? "";
        if (hex.StartsWith("sha256:", StringComparison.Ordinal))
        {
            hex = hex["sha256:".Length..];
        }
        if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
        {
            return ProtocolError.Validation($"{field} '{Truncate(text)}' is not a SHA-256 digest (expected sha256:<64 hex digits>)");
        }
        return new Sha256Digest(hex.ToLowerInvariant());
    }

    private static string Truncate(string? s) => s is null ? "" : s.Length <= 80 ? s : s[..80] + "…";
}
