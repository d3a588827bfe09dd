using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class ServerGateway : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "gateway_grants",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    PrincipalId = table.Column<string>(type: "text", nullable: false),
                    KeySha256 = table.Column<string>(type: "text", nullable: false),
                    RequestsPerMinute = table.Column<int>(type: "integer", nullable: false),
                    TokensPerDay = table.Column<long>(type: "bigint", nullable: true),
                    LedgerIndex = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gateway_grants", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "gateway_screens",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ModelVersionId = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    RulesJson = table.Column<string>(type: "text", nullable: false),
                    RulesSha256 = table.Column<string>(type: "text", nullable: false),
                    MitigationId = table.Column<string>(type: "text", nullable: true),
                    AttachedBy = table.Column<string>(type: "text", nullable: false),
                    LedgerIndex = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_gateway_screens", x => x.Id);
                });

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
                name: "gateway_grants");

            migrationBuilder.DropTable(
                name: "gateway_screens");
        }
    }
}
