using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class SafetyCasesIncidentsFingerprints : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "FingerprintsJson",
                table: "model_versions",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ThroughGatewayScreensDigest",
                table: "evaluations",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ControlScreensDigest",
                table: "certificates",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SafetyCaseDigest",
                table: "certificates",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SafetyCaseJson",
                table: "certificates",
                type: "text",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "incidents",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    Capability = table.Column<string>(type: "text", nullable: false),
                    Summary = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    ReportedBy = table.Column<string>(type: "text", nullable: false),
                    ReporterOrganisationId = table.Column<string>(type: "text", nullable: false),
                    SealedJson = table.Column<string>(type: "text", nullable: false),
                    SealedSha256 = table.Column<string>(type: "text", nullable: false),
                    LedgerIndex = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    TriagedBy = table.Column<string>(type: "text", nullable: true),
                    TriageReason = table.Column<string>(type: "text", nullable: true),
                    TriagedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    TriageLedgerIndex = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_incidents", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_incidents_ModelVersionId",
                table: "incidents",
                column: "ModelVersionId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "incidents");

            migrationBuilder.DropColumn(
                name: "FingerprintsJson",
                table: "model_versions");

            migrationBuilder.DropColumn(
                name: "ThroughGatewayScreensDigest",
                table: "evaluations");

            migrationBuilder.DropColumn(
                name: "ControlScreensDigest",
                table: "certificates");

            migrationBuilder.DropColumn(
                name: "SafetyCaseDigest",
                table: "certificates");

            migrationBuilder.DropColumn(
                name: "SafetyCaseJson",
                table: "certificates");
        }
    }
}
