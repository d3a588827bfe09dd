using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class EvidenceLogs : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "evaluation_logs",
                columns: table => new
                {
                    Sha256 = table.Column<string>(type: "text", nullable: false),
                    CaseId = table.Column<string>(type: "text", nullable: false),
                    Content = table.Column<byte[]>(type: "bytea", nullable: false),
                    Bytes = table.Column<long>(type: "bigint", nullable: false),
                    Task = table.Column<string>(type: "text", nullable: false),
                    Capability = table.Column<string>(type: "text", nullable: false),
                    SubjectModel = table.Column<string>(type: "text", nullable: false),
                    EvaluationId = table.Column<string>(type: "text", nullable: true),
                    UploadedBy = table.Column<string>(type: "text", nullable: false),
                    UploadedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_evaluation_logs", x => x.Sha256);
                });

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_logs_CaseId",
                table: "evaluation_logs",
                column: "CaseId");

            migrationBuilder.CreateIndex(
                name: "IX_evaluation_logs_EvaluationId",
                table: "evaluation_logs",
                column: "EvaluationId",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "evaluation_logs");
        }
    }
}
