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

    /// <summary>How long a disclosure recipient has to acknowledge before the escalation sweep reminds it (on the ledger).</summary>
    public TimeSpan AcknowledgementWindow { get; set; } = Embargo.Protocol.Disclosures.Inbox.DefaultAcknowledgementWindow;

    /// <summary>How often overdue mitigations are escalated by the background service.</summary>
    public TimeSpan EscalationInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most state changes committed together in one transaction (group commit).</summary>
    [Range(1, 10_000)] public int LedgerBatchSize { get; set; } = 512;

    /// <summary>The largest request body accepted (Kestrel MaxRequestBodySize); larger bodies are refused with 413.</summary>
    [Range(1024, 1L << 30)] public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>The largest run log accepted by POST /api/cases/{id}/evaluation-logs (its own limit: logs hold every transcript).</summary>
    [Range(1024, 1L << 30)] public long MaxEvaluationLogBytes { get; set; } = 32 << 20;

    /// <summary>Failed authentications from one client address within <see cref="AuthFailureWindow"/> before it gets 429.</summary>
    [Range(1, 1_000_000)] public int AuthFailureLimit { get; set; } = 20;

    /// <summary>The window failed authentications are counted in; a throttled address waits until its window ends.</summary>
    public TimeSpan AuthFailureWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the gateway inside `embargo serve` appends its audit lines to the ledger (one leaf per batch).</summary>
    public TimeSpan GatewayAuditInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Most audit lines in one ledger leaf.</summary>
    [Range(1, 1_000_000)] public int GatewayAuditBatchLines { get; set; } = 256;

    /// <summary>Witnesses asked to cosign every new checkpoint (Embargo:Witnesses:N:Url, Embargo:Witnesses:N:Key).</summary>
    public List<WitnessEndpointOptions> Witnesses { get; set; } = [];

    /// <summary>How many witness cosignatures a checkpoint should carry; fewer is logged and shown at /api/ledger/witnesses.</summary>
    [Range(0, 100)] public int WitnessQuorum { get; set; }

    /// <summary>How long one add-checkpoint request to a witness may take before it counts as unreachable.</summary>
    public TimeSpan WitnessTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>One witness: its add-checkpoint prefix URL and its cosignature/v1 verifier key (name+hash+base64(0x04||key)).</summary>
public sealed class WitnessEndpointOptions
{
    [Required] public string Url { get; set; } = "";
    [Required] public string Key { get; set; } = "";
}
