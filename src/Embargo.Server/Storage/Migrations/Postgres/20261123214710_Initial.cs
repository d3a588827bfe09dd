using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "cases",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    DeveloperOrganisationId = table.Column<string>(type: "text", nullable: false),
                    RegulatorOrganisationId = table.Column<string>(type: "text", nullable: false),
                    RequestedTier = table.Column<string>(type: "text", nullable: false),
                    State = table.Column<string>(type: "text", nullable: false),
                    ReferenceModelId = table.Column<string>(type: "text", nullable: false),
                    EvaluatorOrganisationsJson = table.Column<string>(type: "text", nullable: false),
                    ReevaluationFlag = table.Column<bool>(type: "boolean", nullable: false),
                    ReevaluationReason = table.Column<string>(type: "text", nullable: true),
                    DenialReason = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_cases", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "certificates",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    CaseId = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    ManifestDigest = table.Column<string>(type: "text", nullable: false),
                    Tier = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    StatementBase64 = table.Column<string>(type: "text", nullable: false),
                    EnvelopeJson = table.Column<string>(type: "text", nullable: true),
                    CertificationIndex = table.Column<long>(type: "bigint", nullable: false),
                    IssuedIndex = table.Column<long>(type: "bigint", nullable: true),
                    CertifierPrincipalId = table.Column<string>(type: "text", nullable: false),
                    FlagReason = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_certificates", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "commitments",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    CaseId = table.Column<string>(type: "text", nullable: false),
                    Expression = table.Column<string>(type: "text", nullable: false),
                    CreatedBy = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_commitments", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "conditions",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    Kind = table.Column<string>(type: "text", nullable: false),
                    ModelName = table.Column<string>(type: "text", nullable: false),
                    Endpoint = table.Column<string>(type: "text", nullable: false),
                    Description = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_conditions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "disclosure_recipients",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    DisclosureId = table.Column<string>(type: "text", nullable: false),
                    OrganisationId = table.Column<string>(type: "text", nullable: false),
                    SealedDetail = table.Column<string>(type: "text", nullable: true),
                    AcknowledgedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_disclosure_recipients", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "disclosures",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    FindingId = table.Column<string>(type: "text", nullable: false),
                    AdvisoryTitle = table.Column<string>(type: "text", nullable: false),
                    AdvisorySummary = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_disclosures", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "evaluations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    CaseId = table.Column<string>(type: "text", nullable: false),
                    Capability = table.Column<string>(type: "text", nullable: false),
                    Task = table.Column<string>(type: "text", nullable: false),
                    Purpose = table.Column<string>(type: "text", nullable: false),
                    MitigationId = table.Column<string>(type: "text", nullable: true),
                    SubjectModel = table.Column<string>(type: "text", nullable: false),
                    SubjectCondition = table.Column<string>(type: "text", nullable: true),
                    Samples = table.Column<int>(type: "integer", nullable: false),
                    SubjectCorrect = table.Column<int>(type: "integer", nullable: false),
                    SubjectTotal = table.Column<int>(type: "integer", nullable: false),
                    SubjectAccuracy = table.Column<double>(type: "double precision", nullable: false),
                    SubjectCiLow = table.Column<double>(type: "double precision", nullable: false),
                    SubjectCiHigh = table.Column<double>(type: "double precision", nullable: false),
                    BaselineModel = table.Column<string>(type: "text", nullable: true),
                    BaselineCorrect = table.Column<int>(type: "integer", nullable: true),
                    BaselineTotal = table.Column<int>(type: "integer", nullable: true),
                    BaselineAccuracy = table.Column<double>(type: "double precision", nullable: true),
                    BaselineCiLow = table.Column<double>(type: "double precision", nullable: true),
                    BaselineCiHigh = table.Column<double>(type: "double precision", nullable: true),
                    Uplift = table.Column<double>(type: "double precision", nullable: true),
                    UpliftCiLow = table.Column<double>(type: "double precision", nullable: true),
                    UpliftCiHigh = table.Column<double>(type: "double precision", nullable: true),
                    P = table.Column<double>(type: "double precision", nullable: true),
                    Test = table.Column<string>(type: "text", nullable: true),
                    LogSha256 = table.Column<string>(type: "text", nullable: true),
                    SubmittedBy = table.Column<string>(type: "text", nullable: false),
                    LedgerIndex = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "findings",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    CaseId = table.Column<string>(type: "text", nullable: false),
                    ThreatModelId = table.Column<string>(type: "text", nullable: false),
                    Capability = table.Column<string>(type: "text", nullable: false),
                    Title = table.Column<string>(type: "text", nullable: false),
                    Novel = table.Column<bool>(type: "boolean", nullable: false),
                    EvaluationId = table.Column<string>(type: "text", nullable: false),
                    Source = table.Column<string>(type: "text", nullable: false),
                    CommitmentId = table.Column<string>(type: "text", nullable: true),
                    CapTier = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_findings", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "fines",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    MitigationId = table.Column<string>(type: "text", nullable: false),
                    OrganisationId = table.Column<string>(type: "text", nullable: false),
                    Amount = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false),
                    Currency = table.Column<string>(type: "text", nullable: false),
                    Reason = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_fines", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ledger_leaves",
                columns: table => new
                {
                    Index = table.Column<long>(type: "bigint", nullable: false),
                    Data = table.Column<byte[]>(type: "bytea", nullable: false),
                    Hash = table.Column<byte[]>(type: "bytea", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ledger_leaves", x => x.Index);
                });

            migrationBuilder.CreateTable(
                name: "mitigations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    FindingId = table.Column<string>(type: "text", nullable: false),
                    PartyOrganisationId = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    DueAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    Description = table.Column<string>(type: "text", nullable: true),
                    ReportedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    VerifiedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    VerificationEvaluationId = table.Column<string>(type: "text", nullable: true),
                    Escalations = table.Column<int>(type: "integer", nullable: false),
                    EscalatedDueAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_mitigations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "model_versions",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelId = table.Column<string>(type: "text", nullable: false),
                    Version = table.Column<string>(type: "text", nullable: false),
                    ManifestDigest = table.Column<string>(type: "text", nullable: false),
                    FilesJson = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_model_versions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "models",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    OrganisationId = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_models", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "organisations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    BadActor = table.Column<bool>(type: "boolean", nullable: false),
                    BadActorReason = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_organisations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "principals",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    OrganisationId = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    Role = table.Column<string>(type: "text", nullable: false),
                    TokenHash = table.Column<string>(type: "text", nullable: false),
                    SigningKeyPem = table.Column<string>(type: "text", nullable: true),
                    EncryptionKey = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_principals", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "reference_models",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    Strength = table.Column<double>(type: "double precision", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_reference_models", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "releases",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    Tier = table.Column<string>(type: "text", nullable: false),
                    CertificateId = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_releases", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "threat_models",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    CaseId = table.Column<string>(type: "text", nullable: false),
                    Capability = table.Column<string>(type: "text", nullable: false),
                    Description = table.Column<string>(type: "text", nullable: false),
                    StepsJson = table.Column<string>(type: "text", nullable: false),
                    AffectedPartiesJson = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    DraftedWith = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_threat_models", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "violations",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ManifestDigest = table.Column<string>(type: "text", nullable: false),
                    ObservedTier = table.Column<string>(type: "text", nullable: false),
                    CertifiedTier = table.Column<string>(type: "text", nullable: true),
                    ModelVersionId = table.Column<string>(type: "text", nullable: true),
                    OrganisationId = table.Column<string>(type: "text", nullable: true),
                    Source = table.Column<string>(type: "text", nullable: false),
                    ReportedBy = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_violations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "weights_grants",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    PrincipalId = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_weights_grants", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "wrapped_keys",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    SealId = table.Column<string>(type: "text", nullable: false),
                    KeyId = table.Column<string>(type: "text", nullable: false),
                    EphemeralPublicKey = table.Column<string>(type: "text", nullable: false),
                    WrappedDataKey = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_wrapped_keys", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_cases_ModelVersionId",
                table: "cases",
                column: "ModelVersionId");

            migrationBuilder.CreateIndex(
                name: "IX_certificates_CaseId",
                table: "certificates",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_certificates_ManifestDigest",
                table: "certificates",
                column: "ManifestDigest");

            migrationBuilder.CreateIndex(
                name: "IX_commitments_CaseId",
                table: "commitments",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_conditions_ModelVersionId_Name",
                table: "conditions",
                columns: new[] { "ModelVersionId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_disclosure_recipients_DisclosureId_OrganisationId",
                table: "disclosure_recipients",
                columns: new[] { "DisclosureId", "OrganisationId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_disclosures_FindingId",
                table: "disclosures",
                column: "FindingId");

            migrationBuilder.CreateIndex(
                name: "IX_evaluations_CaseId",
                table: "evaluations",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_findings_CaseId",
                table: "findings",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_mitigations_FindingId",
                table: "mitigations",
                column: "FindingId");

            migrationBuilder.CreateIndex(
                name: "IX_mitigations_Status",
                table: "mitigations",
                column: "Status");

            migrationBuilder.CreateIndex(
                name: "IX_model_versions_ManifestDigest",
                table: "model_versions",
                column: "ManifestDigest",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_model_versions_ModelId_Version",
                table: "model_versions",
                columns: new[] { "ModelId", "Version" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_models_OrganisationId_Name",
                table: "models",
                columns: new[] { "OrganisationId", "Name" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_organisations_Name",
                table: "organisations",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_principals_OrganisationId",
                table: "principals",
                column: "OrganisationId");

            migrationBuilder.CreateIndex(
                name: "IX_principals_TokenHash",
                table: "principals",
                column: "TokenHash",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_reference_models_Name",
                table: "reference_models",
                column: "Name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_releases_ModelVersionId",
                table: "releases",
                column: "ModelVersionId");

            migrationBuilder.CreateIndex(
                name: "IX_threat_models_CaseId",
                table: "threat_models",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_violations_ManifestDigest",
                table: "violations",
                column: "ManifestDigest");

            migrationBuilder.CreateIndex(
                name: "IX_weights_grants_ModelVersionId_PrincipalId",
                table: "weights_grants",
                columns: new[] { "ModelVersionId", "PrincipalId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_wrapped_keys_ModelVersionId_KeyId",
                table: "wrapped_keys",
                columns: new[] { "ModelVersionId", "KeyId" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cases");

            migrationBuilder.DropTable(
                name: "certificates");

            migrationBuilder.DropTable(
                name: "commitments");

            migrationBuilder.DropTable(
                name: "conditions");

            migrationBuilder.DropTable(
                name: "disclosure_recipients");

            migrationBuilder.DropTable(
                name: "disclosures");

            migrationBuilder.DropTable(
                name: "evaluations");

            migrationBuilder.DropTable(
                name: "findings");

            migrationBuilder.DropTable(
                name: "fines");

            migrationBuilder.DropTable(
                name: "ledger_leaves");

            migrationBuilder.DropTable(
                name: "mitigations");

            migrationBuilder.DropTable(
                name: "model_versions");

            migrationBuilder.DropTable(
                name: "models");

            migrationBuilder.DropTable(
                name: "organisations");

            migrationBuilder.DropTable(
                name: "principals");

            migrationBuilder.DropTable(
                name: "reference_models");

            migrationBuilder.DropTable(
                name: "releases");

            migrationBuilder.DropTable(
                name: "threat_models");

            migrationBuilder.DropTable(
                name: "violations");

            migrationBuilder.DropTable(
                name: "weights_grants");

            migrationBuilder.DropTable(
                name: "wrapped_keys");
        }
    }
}
