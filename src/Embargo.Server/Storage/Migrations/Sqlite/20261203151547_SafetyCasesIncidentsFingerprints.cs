using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Sqlite
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
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ThroughGatewayScreensDigest",
                table: "evaluations",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ControlScreensDigest",
                table: "certificates",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SafetyCaseDigest",
                table: "certificates",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SafetyCaseJson",
                table: "certificates",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "incidents",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    ModelVersionId = table.Column<string>(type: "TEXT", nullable: false),
                    Capability = table.Column<string>(type: "TEXT", nullable: false),
                    Summary = table.Column<string>(type: "TEXT", nullable: false),
                    Status = table.Column<string>(type: "TEXT", nullable: false),
                    ReportedBy = table.Column<string>(type: "TEXT", nullable: false),
                    ReporterOrganisationId = table.Column<string>(type: "TEXT", nullable: false),
                    SealedJson = table.Column<string>(type: "TEXT", nullable: false),
                    SealedSha256 = table.Column<string>(type: "TEXT", nullable: false),
                    LedgerIndex = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    TriagedBy = table.Column<string>(type: "TEXT", nullable: true),
                    TriageReason = table.Column<string>(type: "TEXT", nullable: true),
                    TriagedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    TriageLedgerIndex = table.Column<long>(type: "INTEGER", nullable: true)
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
