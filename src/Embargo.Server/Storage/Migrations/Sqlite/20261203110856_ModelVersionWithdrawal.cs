using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ModelVersionWithdrawal : Migration
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
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "WithdrawnAt",
                table: "model_versions",
                type: "TEXT",
                nullable: true);

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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
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
