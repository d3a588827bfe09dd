using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class EvidenceVerdictsScaleGateway : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "Margin",
                table: "threat_models",
                type: "REAL",
                nullable: false,
                defaultValue: 0.050000000000000003);

            migrationBuilder.AddColumn<double>(
                name: "UpliftUpper",
                table: "evaluations",
                type: "REAL",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "evaluation_logs",
                columns: table => new
                {
                    Sha256 = table.Column<string>(type: "TEXT", nullable: false),
                    CaseId = table.Column<string>(type: "TEXT", nullable: false),
                    Content = table.Column<byte[]>(type: "BLOB", nullable: false),
                    Bytes = table.Column<long>(type: "INTEGER", nullable: false),
                    Task = table.Column<string>(type: "TEXT", nullable: false),
                    Capability = table.Column<string>(type: "TEXT", nullable: false),
                    SubjectModel = table.Column<string>(type: "TEXT", nullable: false),
                    EvaluationId = table.Column<string>(type: "TEXT", nullable: true),
                    UploadedBy = table.Column<string>(type: "TEXT", nullable: false),
                    UploadedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluation_logs", x => x.Sha256);
                });

            migrationBuilder.CreateTable(
                name: "gateway_grants",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    ModelVersionId = table.Column<string>(type: "TEXT", nullable: false),
                    PrincipalId = table.Column<string>(type: "TEXT", nullable: false),
                    KeySha256 = table.Column<string>(type: "TEXT", nullable: false),
                    RequestsPerMinute = table.Column<int>(type: "INTEGER", nullable: false),
                    TokensPerDay = table.Column<long>(type: "INTEGER", nullable: true),
                    LedgerIndex = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gateway_grants", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "gateway_screens",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    ModelVersionId = table.Column<string>(type: "TEXT", nullable: false),
                    Name = table.Column<string>(type: "TEXT", nullable: false),
                    RulesJson = table.Column<string>(type: "TEXT", nullable: false),
                    RulesSha256 = table.Column<string>(type: "TEXT", nullable: false),
                    MitigationId = table.Column<string>(type: "TEXT", nullable: true),
                    AttachedBy = table.Column<string>(type: "TEXT", nullable: false),
                    LedgerIndex = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gateway_screens", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_threat_models_CaseId_Status",
                table: "threat_models",
                columns: new[] { "CaseId", "Status" });

            migrationBuilder.CreateIndex(
                name: "IX_evaluations_CaseId_Capability_LedgerIndex",
                table: "evaluations",
                columns: new[] { "CaseId", "Capability", "LedgerIndex" });

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_logs_CaseId",
                table: "evaluation_logs",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_logs_EvaluationId",
                table: "evaluation_logs",
                column: "EvaluationId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_gateway_grants_KeySha256",
                table: "gateway_grants",
                column: "KeySha256",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_gateway_grants_ModelVersionId",
                table: "gateway_grants",
                column: "ModelVersionId");

            migrationBuilder.CreateIndex(
                name: "IX_gateway_screens_ModelVersionId",
                table: "gateway_screens",
                column: "ModelVersionId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "evaluation_logs");

            migrationBuilder.DropTable(
                name: "gateway_grants");

            migrationBuilder.DropTable(
                name: "gateway_screens");

            migrationBuilder.DropIndex(
                name: "IX_threat_models_CaseId_Status",
                table: "threat_models");

            migrationBuilder.DropIndex(
                name: "IX_evaluations_CaseId_Capability_LedgerIndex",
                table: "evaluations");

            migrationBuilder.DropColumn(
                name: "Margin",
                table: "threat_models");

            migrationBuilder.DropColumn(
                name: "UpliftUpper",
                table: "evaluations");
        }
    }
}
