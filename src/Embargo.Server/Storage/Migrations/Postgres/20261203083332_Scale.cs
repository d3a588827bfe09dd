using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Scale : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "IX_threat_models_CaseId_Status",
                table: "threat_models",
                columns: new[] { "CaseId", "Status" });

            migrationBuilder.CreateIndex(
                name: "IX_evaluations_CaseId_Capability_LedgerIndex",
                table: "evaluations",
                columns: new[] { "CaseId", "Capability", "LedgerIndex" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_threat_models_CaseId_Status",
                table: "threat_models");

            migrationBuilder.DropIndex(
                name: "IX_evaluations_CaseId_Capability_LedgerIndex",
                table: "evaluations");
        }
    }
}
