using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class WithdrawalCsafInbox : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_model_versions_ManifestDigest",
                table: "model_versions");

            migrationBuilder.DropIndex(
                name: "IX_model_versions_ModelId_Version",
                table: "model_versions");

            migrationBuilder.AddColumn<string>(
                name: "WithdrawalReason",
                table: "model_versions",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "WithdrawnAt",
                table: "model_versions",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Revision",
                table: "disclosures",
                type: "integer",
                nullable: false,
                defaultValue: 1);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RemindedAt",
                table: "disclosure_recipients",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "advisory_revisions",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    DisclosureId = table.Column<string>(type: "text", nullable: false),
                    Number = table.Column<int>(type: "integer", nullable: false),
                    At = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    Summary = table.Column<string>(type: "text", nullable: false),
                    LedgerIndex = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_advisory_revisions", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_model_versions_ManifestDigest",
                table: "model_versions",
                column: "ManifestDigest",
                unique: true,
                filter: "\"WithdrawnAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_model_versions_ModelId_Version",
                table: "model_versions",
                columns: new[] { "ModelId", "Version" },
                unique: true,
                filter: "\"WithdrawnAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_advisory_revisions_DisclosureId_Number",
                table: "advisory_revisions",
                columns: new[] { "DisclosureId", "Number" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "advisory_revisions");

            migrationBuilder.DropIndex(
                name: "IX_model_versions_ManifestDigest",
                table: "model_versions");

            migrationBuilder.DropIndex(
                name: "IX_model_versions_ModelId_Version",
                table: "model_versions");

            migrationBuilder.DropColumn(
                name: "WithdrawalReason",
                table: "model_versions");

            migrationBuilder.DropColumn(
                name: "WithdrawnAt",
                table: "model_versions");

            migrationBuilder.DropColumn(
                name: "Revision",
                table: "disclosures");

            migrationBuilder.DropColumn(
                name: "RemindedAt",
                table: "disclosure_recipients");

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
        }
    }
}
