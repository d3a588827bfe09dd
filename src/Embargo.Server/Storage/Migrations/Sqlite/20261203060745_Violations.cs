using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Violations : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "EvidenceJson",
                table: "violations",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "EvidenceSha256",
                table: "violations",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "LedgerIndex",
                table: "violations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "Match",
                table: "violations",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "MatchedFiles",
                table: "violations",
                type: "INTEGER",
                nullable: false,
                defaultValue: 0);

            // Violations recorded before due process were marked at once: they count as confirmed.
            migrationBuilder.AddColumn<string>(
                name: "Status",
                table: "violations",
                type: "TEXT",
                nullable: false,
                defaultValue: "confirmed");

            migrationBuilder.CreateTable(
                name: "violation_decisions",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    ViolationId = table.Column<string>(type: "TEXT", nullable: false),
                    Kind = table.Column<string>(type: "TEXT", nullable: false),
                    Reason = table.Column<string>(type: "TEXT", nullable: false),
                    OrganisationId = table.Column<string>(type: "TEXT", nullable: false),
                    PrincipalId = table.Column<string>(type: "TEXT", nullable: false),
                    LedgerIndex = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_violation_decisions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "violation_disputes",
                columns: table => new
                {
                    Id = table.Column<string>(type: "TEXT", nullable: false),
                    ViolationId = table.Column<string>(type: "TEXT", nullable: false),
                    Statement = table.Column<string>(type: "TEXT", nullable: false),
                    OrganisationId = table.Column<string>(type: "TEXT", nullable: false),
                    PrincipalId = table.Column<string>(type: "TEXT", nullable: false),
                    LedgerIndex = table.Column<long>(type: "INTEGER", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    Outcome = table.Column<string>(type: "TEXT", nullable: true),
                    DecisionReason = table.Column<string>(type: "TEXT", nullable: true),
                    DecidedBy = table.Column<string>(type: "TEXT", nullable: true),
                    DecidedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    DecisionLedgerIndex = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_violation_disputes", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_violations_OrganisationId",
                table: "violations",
                column: "OrganisationId");

            migrationBuilder.CreateIndex(
                name: "IX_violation_decisions_ViolationId",
                table: "violation_decisions",
                column: "ViolationId");

            migrationBuilder.CreateIndex(
                name: "IX_violation_disputes_ViolationId",
                table: "violation_disputes",
                column: "ViolationId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "violation_decisions");

            migrationBuilder.DropTable(
                name: "violation_disputes");

            migrationBuilder.DropIndex(
                name: "IX_violations_OrganisationId",
                table: "violations");

            migrationBuilder.DropColumn(
                name: "EvidenceJson",
                table: "violations");

            migrationBuilder.DropColumn(
                name: "EvidenceSha256",
                table: "violations");

            migrationBuilder.DropColumn(
                name: "LedgerIndex",
                table: "violations");

            migrationBuilder.DropColumn(
                name: "Match",
                table: "violations");

            migrationBuilder.DropColumn(
                name: "MatchedFiles",
                table: "violations");

            migrationBuilder.DropColumn(
                name: "Status",
                table: "violations");
        }
    }
}
