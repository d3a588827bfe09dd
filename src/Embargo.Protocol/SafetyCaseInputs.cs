namespace Embargo.Protocol;

/// <summary>
/// What the server's own gateway vouches for about one model version, as the safety case's <c>control</c> claims read it:
/// the digest of the screen configuration it enforces for the version now (null when the version has no screens), and the
/// evaluation runs the server verified went through that gateway (evaluation id → digest of the screen configuration
/// the run went through).
/// </summary>
public sealed record GatewayControlFacts
{
    public static GatewayControlFacts None { get; } = new();

    public string? ScreensDigest { get; init; }
    public IReadOnlyDictionary<string, string> RunsThroughGateway { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>An incident reported against a released version. An <c>accepted</c> one challenges the claims on its capability.</summary>
public sealed record IncidentFact
{
    public required string Id { get; init; }
    public required string Capability { get; init; }
    /// <summary>reported, accepted or rejected.</summary>
    public required string Status { get; init; }
    /// <summary>The ledger index of its acceptance: evidence of safety recorded before it no longer carries a claim on its capability.</summary>
    public long? AcceptedIndex { get; init; }
}
