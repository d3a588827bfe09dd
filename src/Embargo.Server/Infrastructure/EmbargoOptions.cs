using System.ComponentModel.DataAnnotations;

namespace Embargo.Server.Infrastructure;

/// <summary>Configuration section "Embargo". Environment: Embargo__Storage__Provider etc.</summary>
public sealed class EmbargoOptions
{
    public const string Section = "Embargo";

    /// <summary>Where the SQLite file and the ledger key live when not given explicitly.</summary>
    [Required] public string DataDirectory { get; set; } = "embargo-data";

    /// <summary>"sqlite" (default) or "postgres".</summary>
    [Required, RegularExpression("^(sqlite|postgres)$")] public string StorageProvider { get; set; } = "sqlite";

    /// <summary>Connection string; for SQLite defaults to a file in DataDirectory.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The admin bootstrap token (creates organisations and principals). Required.</summary>
    [Required, MinLength(16)] public string AdminToken { get; set; } = "";

    /// <summary>The checkpoint origin line, e.g. "embargo.example/ledger".</summary>
    [Required] public string LedgerOrigin { get; set; } = "embargo.local/ledger";

    /// <summary>Signed-note secret key ("PRIVATE+KEY+…"); when empty a key is created in DataDirectory/ledger.key.</summary>
    public string? LedgerSigningKey { get; set; }

    /// <summary>How often overdue mitigations are escalated by the background service.</summary>
    public TimeSpan EscalationInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most state changes committed together in one transaction (group commit).</summary>
    [Range(1, 10_000)] public int LedgerBatchSize { get; set; } = 512;
}
