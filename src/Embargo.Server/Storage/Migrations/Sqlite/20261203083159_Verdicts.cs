using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Embargo.Server.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Verdicts : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<double>(
                name: "Margin",
                table: "threat_models",
                type: "REAL",
                nullable: false,
                defaultValue: 0.050000000000000003);

            migrationBuilder.AddColumn<double>(
                name: "UpliftUpper",
                table: "evaluations",
                type: "REAL",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Margin",
                table: "threat_models");

            migrationBuilder.DropColumn(
                name: "UpliftUpper",
                table: "evaluations");
        }
    }
}
