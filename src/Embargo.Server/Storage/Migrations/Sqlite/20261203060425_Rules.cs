using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Rules : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "ReportedIndex",
                table: "mitigations",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ReferenceModelId",
                table: "evaluations",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PrincipalId",
                table: "disclosure_recipients",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "DenialLiftReason",
                table: "cases",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "DenialLiftedAt",
                table: "cases",
                type: "TEXT",
                nullable: true);

            migrationBuilder.DropIndex(
                name: "IX_disclosure_recipients_DisclosureId_OrganisationId",
                table: "disclosure_recipients");

            migrationBuilder.CreateIndex(
                name: "IX_disclosure_recipients_DisclosureId_OrganisationId_PrincipalId",
                table: "disclosure_recipients",
                columns: new[] { "DisclosureId", "OrganisationId", "PrincipalId" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_disclosure_recipients_DisclosureId_OrganisationId_PrincipalId",
                table: "disclosure_recipients");

            migrationBuilder.CreateIndex(
                name: "IX_disclosure_recipients_DisclosureId_OrganisationId",
                table: "disclosure_recipients",
                columns: new[] { "DisclosureId", "OrganisationId" },
                unique: true);
            migrationBuilder.DropColumn(
                name: "ReportedIndex",
                table: "mitigations");

            migrationBuilder.DropColumn(
                name: "ReferenceModelId",
                table: "evaluations");

            migrationBuilder.DropColumn(
                name: "PrincipalId",
                table: "disclosure_recipients");

            migrationBuilder.DropColumn(
                name: "DenialLiftReason",
                table: "cases");

            migrationBuilder.DropColumn(
                name: "DenialLiftedAt",
                table: "cases");
        }
    }
}
