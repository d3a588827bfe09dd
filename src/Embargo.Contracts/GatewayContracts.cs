using System.ComponentModel.DataAnnotations;

namespace Embargo.Contracts;

// The server side of the gateway: certificate status for standalone gateways, audit batches, grants and screens.

/// <summary>GET /api/public/certificates/{statementSha256}/status: the certificate whose DSSE payload has that sha256.</summary>
public sealed record CertificateStatusDto
{
    public required string Certificate { get; init; }
    /// <summary>valid | flagged | revoked | superseded.</summary>
    public required string Status { get; init; }
}

/// <summary>POST /api/gateway/audit-batches: a batch of a gateway's audit file, as its RFC 6962 Merkle root.</summary>
public sealed record AuditBatchRequest
{
    [MaxLength(100)]
    public required string Gateway { get; init; }
    /// <summary>The 0-based line number of the batch's first line in the audit file.</summary>
    public required long FirstLine { get; init; }
    public required int Lines { get; init; }
    /// <summary>Hex RFC 6962 Merkle tree hash over the batch's lines (each line's bytes without its newline is one leaf).</summary>
    [MaxLength(64)]
    public required string Root { get; init; }
}

public sealed record AuditBatchDto { public required long LedgerIndex { get; init; } }

/// <summary>POST /api/model-versions/{id}/gateway-grants: a gateway key for a principal, shown once.</summary>
public sealed record GatewayGrantRequest
{
    public required string PrincipalId { get; init; }
    public required int RequestsPerMinute { get; init; }
    public long? TokensPerDay { get; init; }
}

public sealed record GatewayGrantDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string PrincipalId { get; init; }
    public required string Tier { get; init; }
    public required int RequestsPerMinute { get; init; }
    public long? TokensPerDay { get; init; }
    /// <summary>The bearer key for /v1; only in the answer that issued it (the server keeps its sha256 only).</summary>
    public string? Key { get; init; }
    /// <summary>The model name clients ask /v1 for.</summary>
    public required string Model { get; init; }
    public required long LedgerIndex { get; init; }
}

/// <summary>POST /api/model-versions/{id}/gateway-screens: a screen enforced by the server's gateway from then on.</summary>
public sealed record GatewayScreenRequest
{
    [MaxLength(100)]
    public required string Name { get; init; }
    [MaxLength(2)]
    public required IReadOnlyList<string> ApplyTo { get; init; }
    [MaxLength(64)]
    public IReadOnlyList<string> Keywords { get; init; } = [];
    [MaxLength(32)]
    public IReadOnlyList<string> Regex { get; init; } = [];
    public int? MaxMatch { get; init; }
    public GatewayClassifierDto? Classifier { get; init; }
    /// <summary>The mitigation this screen implements (a mitigation of a finding on one of the version's cases).</summary>
    public string? MitigationId { get; init; }
}

public sealed record GatewayClassifierDto
{
    [MaxLength(2000)]
    public required string Url { get; init; }
    public required string Model { get; init; }
    public required string Kind { get; init; }
    public int TimeoutMs { get; init; } = 500;
}

public sealed record GatewayScreenDto
{
    public required string Id { get; init; }
    public required string ModelVersionId { get; init; }
    public required string Name { get; init; }
    public required IReadOnlyList<string> ApplyTo { get; init; }
    public required IReadOnlyList<string> Keywords { get; init; }
    public required IReadOnlyList<string> Regex { get; init; }
    public int? MaxMatch { get; init; }
    public GatewayClassifierDto? Classifier { get; init; }
    public string? MitigationId { get; init; }
    /// <summary>sha256 of the screen's canonical rules: the ledger carries this, never the rules themselves.</summary>
    public required string RulesSha256 { get; init; }
    public required long LedgerIndex { get; init; }
}
