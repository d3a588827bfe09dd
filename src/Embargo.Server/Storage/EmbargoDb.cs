using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Embargo.Server.Storage;

/// <summary>The store. Provider-neutral model; each provider has its own migrations (see the subclasses).</summary>
public abstract class EmbargoDb(DbContextOptions options) : DbContext(options)
{
    public DbSet<OrganisationEntity> Organisations => Set<OrganisationEntity>();
    public DbSet<PrincipalEntity> Principals => Set<PrincipalEntity>();
    public DbSet<ModelEntity> Models => Set<ModelEntity>();
    public DbSet<ModelVersionEntity> ModelVersions => Set<ModelVersionEntity>();
    public DbSet<ReferenceModelEntity> ReferenceModels => Set<ReferenceModelEntity>();
    public DbSet<CaseEntity> Cases => Set<CaseEntity>();
    public DbSet<ThreatModelEntity> ThreatModels => Set<ThreatModelEntity>();
    public DbSet<CommitmentEntity> Commitments => Set<CommitmentEntity>();
    public DbSet<EvaluationEntity> Evaluations => Set<EvaluationEntity>();
    public DbSet<FindingEntity> Findings => Set<FindingEntity>();
    public DbSet<DisclosureEntity> Disclosures => Set<DisclosureEntity>();
    public DbSet<DisclosureRecipientEntity> DisclosureRecipients => Set<DisclosureRecipientEntity>();
    public DbSet<MitigationEntity> Mitigations => Set<MitigationEntity>();
    public DbSet<FineEntity> Fines => Set<FineEntity>();
    public DbSet<CertificateEntity> Certificates => Set<CertificateEntity>();
    public DbSet<ReleaseEntity> Releases => Set<ReleaseEntity>();
    public DbSet<ViolationEntity> Violations => Set<ViolationEntity>();
    public DbSet<LedgerLeafEntity> LedgerLeaves => Set<LedgerLeafEntity>();
    public DbSet<WeightsGrantEntity> WeightsGrants => Set<WeightsGrantEntity>();
    public DbSet<WrappedKeyEntity> WrappedKeys => Set<WrappedKeyEntity>();
    public DbSet<ConditionEntity> Conditions => Set<ConditionEntity>();
    public DbSet<SignedCheckpointEntity> SignedCheckpoints => Set<SignedCheckpointEntity>();
    public DbSet<ViolationDecisionEntity> ViolationDecisions => Set<ViolationDecisionEntity>();
    public DbSet<ViolationDisputeEntity> ViolationDisputes => Set<ViolationDisputeEntity>();
    public DbSet<GatewayGrantEntity> GatewayGrants => Set<GatewayGrantEntity>();
    public DbSet<GatewayScreenEntity> GatewayScreens => Set<GatewayScreenEntity>();
    public DbSet<EvaluationLogEntity> EvaluationLogs => Set<EvaluationLogEntity>();
    public DbSet<AdvisoryRevisionEntity> AdvisoryRevisions => Set<AdvisoryRevisionEntity>();
    public DbSet<IncidentEntity> Incidents => Set<IncidentEntity>();

    /// <summary>Every instant is stored in UTC, whatever offset it arrived with (PostgreSQL's timestamptz requires it).</summary>
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<UtcConverter>();
    }

    private sealed class UtcConverter() : Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTimeOffset, DateTimeOffset>(
        v => v.ToUniversalTime(), v => v.ToUniversalTime());

    /// <summary>A withdrawn version keeps its row (the ledger names it) but frees its label and weights: the unique indexes cover live versions only.</summary>
    private const string LiveVersion = "\"WithdrawnAt\" IS NULL";

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<OrganisationEntity>(e => { e.ToTable("organisations"); e.HasIndex(x => x.Name).IsUnique(); });
        modelBuilder.Entity<PrincipalEntity>(e => { e.ToTable("principals"); e.HasIndex(x => x.TokenHash).IsUnique(); e.HasIndex(x => x.OrganisationId); });
        modelBuilder.Entity<ModelEntity>(e => { e.ToTable("models"); e.HasIndex(x => new { x.OrganisationId, x.Name }).IsUnique(); });
        modelBuilder.Entity<ModelVersionEntity>(e => { e.ToTable("model_versions"); e.HasIndex(x => x.ManifestDigest).IsUnique().HasFilter(LiveVersion); e.HasIndex(x => new { x.ModelId, x.Version }).IsUnique().HasFilter(LiveVersion); });
        modelBuilder.Entity<ReferenceModelEntity>(e => { e.ToTable("reference_models"); e.HasIndex(x => x.Name).IsUnique(); });
        modelBuilder.Entity<CaseEntity>(e => { e.ToTable("cases"); e.HasIndex(x => x.ModelVersionId); });
        modelBuilder.Entity<ThreatModelEntity>(e => { e.ToTable("threat_models"); e.HasIndex(x => x.CaseId); });
        // Threat models recorded before margins existed are judged against the default δ.
        modelBuilder.Entity<ThreatModelEntity>().Property(x => x.Margin).HasDefaultValue(0.05);
        modelBuilder.Entity<CommitmentEntity>(e => { e.ToTable("commitments"); e.HasIndex(x => x.CaseId); });
        modelBuilder.Entity<EvaluationEntity>(e => { e.ToTable("evaluations"); e.HasIndex(x => x.CaseId); });
        modelBuilder.Entity<FindingEntity>(e => { e.ToTable("findings"); e.HasIndex(x => x.CaseId); });
        modelBuilder.Entity<DisclosureEntity>(e => { e.ToTable("disclosures"); e.HasIndex(x => x.FindingId); });
        modelBuilder.Entity<DisclosureRecipientEntity>(e => { e.ToTable("disclosure_recipients"); e.HasIndex(x => new { x.DisclosureId, x.OrganisationId, x.PrincipalId }).IsUnique(); });
        modelBuilder.Entity<MitigationEntity>(e => { e.ToTable("mitigations"); e.HasIndex(x => x.FindingId); e.HasIndex(x => x.Status); });
        modelBuilder.Entity<FineEntity>(e => { e.ToTable("fines"); e.Property(x => x.Amount).HasPrecision(18, 2); });
        modelBuilder.Entity<CertificateEntity>(e => { e.ToTable("certificates"); e.HasIndex(x => x.ManifestDigest); e.HasIndex(x => x.CaseId); });
        modelBuilder.Entity<ReleaseEntity>(e => { e.ToTable("releases"); e.HasIndex(x => x.ModelVersionId); e.HasIndex(x => new { x.ModelVersionId, x.Tier }).IsUnique(); });
        modelBuilder.Entity<ViolationEntity>(e => { e.ToTable("violations"); e.HasIndex(x => x.ManifestDigest); e.HasIndex(x => x.OrganisationId); });
        modelBuilder.Entity<WeightsGrantEntity>(e => { e.ToTable("weights_grants"); e.HasIndex(x => new { x.ModelVersionId, x.PrincipalId }).IsUnique(); });
        modelBuilder.Entity<WrappedKeyEntity>(e => { e.ToTable("wrapped_keys"); e.HasIndex(x => new { x.ModelVersionId, x.KeyId }); });
        modelBuilder.Entity<GatewayGrantEntity>(e => { e.ToTable("gateway_grants"); e.HasIndex(x => x.KeySha256).IsUnique(); e.HasIndex(x => x.ModelVersionId); });
        modelBuilder.Entity<GatewayScreenEntity>(e => { e.ToTable("gateway_screens"); e.HasIndex(x => x.ModelVersionId); });
        modelBuilder.Entity<ConditionEntity>(e => { e.ToTable("conditions"); e.HasIndex(x => new { x.ModelVersionId, x.Name }).IsUnique(); });
        modelBuilder.Entity<ViolationDecisionEntity>(e => { e.ToTable("violation_decisions"); e.HasIndex(x => x.ViolationId); });
        modelBuilder.Entity<ViolationDisputeEntity>(e => { e.ToTable("violation_disputes"); e.HasIndex(x => x.ViolationId); });
        // Scale: a write reads a case's drafts by status and its evaluations by capability, never the whole case.
        modelBuilder.Entity<ThreatModelEntity>().HasIndex(x => new { x.CaseId, x.Status });
        modelBuilder.Entity<EvaluationEntity>().HasIndex(x => new { x.CaseId, x.Capability, x.LedgerIndex });
        modelBuilder.Entity<EvaluationLogEntity>(e => { e.ToTable("evaluation_logs"); e.HasKey(x => x.Sha256); e.HasIndex(x => x.CaseId); e.HasIndex(x => x.EvaluationId).IsUnique(); });
        modelBuilder.Entity<DisclosureEntity>().Property(x => x.Revision).HasDefaultValue(1);
        modelBuilder.Entity<AdvisoryRevisionEntity>(e => { e.ToTable("advisory_revisions"); e.HasIndex(x => new { x.DisclosureId, x.Number }).IsUnique(); });
        modelBuilder.Entity<IncidentEntity>(e => { e.ToTable("incidents"); e.HasIndex(x => x.ModelVersionId); });
        modelBuilder.Entity<LedgerLeafEntity>(e =>
        {
            e.ToTable("ledger_leaves");
            e.HasKey(x => x.Index);
            e.Property(x => x.Index).ValueGeneratedNever();
        });
        modelBuilder.Entity<SignedCheckpointEntity>(e =>
        {
            // Plain column names: the signer inserts with INSERT … ON CONFLICT DO NOTHING (replicas may sign the same size).
            e.ToTable("signed_checkpoints");
            e.HasKey(x => x.Size);
            e.Property(x => x.Size).HasColumnName("size").ValueGeneratedNever();
            e.Property(x => x.Root).HasColumnName("root");
            e.Property(x => x.Note).HasColumnName("note");
            e.Property(x => x.SignedAt).HasColumnName("signed_at");
        });
    }
}

public sealed class SqliteEmbargoDb(DbContextOptions<SqliteEmbargoDb> options) : EmbargoDb(options);

public sealed class PostgresEmbargoDb(DbContextOptions<PostgresEmbargoDb> options) : EmbargoDb(options);

public enum StorageProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Creates the provider's context from a provider name and connection string.</summary>
public sealed class EmbargoDbFactory(StorageProvider provider, string connectionString) : IDbContextFactory<EmbargoDb>
{
    public StorageProvider Provider { get; } = provider;

    public EmbargoDb CreateDbContext() => Provider switch
    {
        StorageProvider.Sqlite => new SqliteEmbargoDb(new DbContextOptionsBuilder<SqliteEmbargoDb>()
            .UseSqlite(connectionString).Options),
        _ => new PostgresEmbargoDb(new DbContextOptionsBuilder<PostgresEmbargoDb>()
            .UseNpgsql(connectionString).Options),
    };
}

// Design-time factories for `dotnet ef migrations add … --context SqliteEmbargoDb|PostgresEmbargoDb`.
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteEmbargoDb>
{
    public SqliteEmbargoDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteEmbargoDb>().UseSqlite("Data Source=design.db").Options);
}

public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresEmbargoDb>
{
    public PostgresEmbargoDb CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresEmbargoDb>().UseNpgsql("Host=127.0.0.1;Database=design;Username=postgres").Options);
}
