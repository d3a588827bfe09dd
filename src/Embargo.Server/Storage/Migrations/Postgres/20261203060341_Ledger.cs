using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Ledger : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "LedgerIndex",
                table: "releases",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.CreateTable(
                name: "signed_checkpoints",
                columns: table => new
                {
                    size = table.Column<long>(type: "bigint", nullable: false),
                    root = table.Column<byte[]>(type: "bytea", nullable: false),
                    note = table.Column<string>(type: "text", nullable: false),
                    signed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_signed_checkpoints", x => x.size);
                });

            migrationBuilder.CreateIndex(
                name: "IX_releases_ModelVersionId_Tier",
                table: "releases",
                columns: new[] { "ModelVersionId", "Tier" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "signed_checkpoints");

            migrationBuilder.DropIndex(
                name: "IX_releases_ModelVersionId_Tier",
                table: "releases");

            migrationBuilder.DropColumn(
                name: "LedgerIndex",
                table: "releases");
        }
    }
}
