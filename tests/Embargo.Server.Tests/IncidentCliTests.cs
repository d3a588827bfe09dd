using System.Text.Json.Nodes;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>`embargo incident report|list|open|triage` against a real server: the CLI seals the detail to the regulator itself.</summary>
[Collection(CliCollection.Name)]
public sealed class IncidentCliTests(ServerFixture fixture) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("embargo-incident-cli-");

    private EmbargoHost Host => fixture.Host;

    public void Dispose() => _dir.Delete(recursive: true);

    private string P(string name) => Path.Combine(_dir.FullName, name);

    private async Task<CliRun> As(ProtocolWorld w, EmbargoClient who, params string[] args)
    {
        var variable = "EMBARGO_TEST_TOKEN_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, w.Tokens[who]);
        try
        {
            return await CliRunner.RunAsync([.. args, "--server", Host.Url.ToString(), "--token-env", variable]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task AnIncidentReportedListedAndRejectedThroughTheCliKeepsItsDetailSealedToTheRegulator()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        await w.ReleaseAsync("hosted");
        await File.WriteAllTextAsync(P("detail.txt"), "SECRET-CLI-DETAIL: prompt 4 of the lure set");
        await File.WriteAllTextAsync(P("regulator.key"), Embargo.Weights.KeyFiles.Armor(Embargo.Weights.KeyFiles.PrivateLabel,
            w.RecipientKeys.Single(k => k.OrganisationId == w.RegulatorOrg).PrivateKey));
        var size = await LedgerSizeAsync(Host);

        var reported = await As(w, w.MailParty, "incident", "report", w.Version.Id, "--capability", "cyber-phishing",
            "--summary", "lures written by the model seen in the wild", "--detail-file", P("detail.txt"), "--json");
        Assert.True(reported.Code == CliApp.Ok, reported.Error);
        var id = JsonNode.Parse(reported.Out)!["id"]!.GetValue<string>();
        var listed = await As(w, w.Regulator, "incident", "list", "--version", w.Version.Id, "--json");
        Assert.Equal([id], JsonNode.Parse(listed.Out)!.AsArray().Select(i => i!["id"]!.GetValue<string>()));
        var table = await As(w, w.Regulator, "incident", "list", "--version", w.Version.Id);
        Assert.True(table.Code == CliApp.Ok, table.Error);
        Assert.Contains(table.Out.Split('\n'), line => line.Contains(id, StringComparison.Ordinal) && line.Contains("cyber-phishing", StringComparison.Ordinal));
        var opened = await As(w, w.Regulator, "incident", "open", id, "--identity", P("regulator.key"));
        Assert.True(opened.Code == CliApp.Ok, opened.Error);
        Assert.Equal("SECRET-CLI-DETAIL: prompt 4 of the lure set", opened.Out);
        var triaged = await As(w, w.Regulator, "incident", "triage", id, "--reject", "--reason", "not this model", "--json");

        Assert.True(triaged.Code == CliApp.Ok, triaged.Error);
        Assert.Equal("rejected", JsonNode.Parse(triaged.Out)!["status"]!.GetValue<string>());
        Assert.Equal(["incident.reported", "incident.rejected"], (await LeavesAsync(Host, size)).Select(l => l.Type));
        Assert.DoesNotContain("SECRET-CLI-DETAIL", await LeavesTextAsync(Host, size), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadIncidentInputExitsWith2AndOneLineAndChangesNothing()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);

        var missing = await As(w, w.MailParty, "incident", "report", w.Version.Id, "--capability", "cyber-phishing", "--summary", "s", "--detail-file", P("absent.txt"));
        var both = await As(w, w.Regulator, "incident", "triage", "inc_x", "--accept", "--reject", "--reason", "r");

        Assert.Equal((CliApp.BadInput, 1), (missing.Code, missing.Error.Trim().Split('\n').Length));
        Assert.Contains("--detail-file", missing.Error, StringComparison.Ordinal);
        Assert.Equal((CliApp.BadInput, 1), (both.Code, both.Error.Trim().Split('\n').Length));
        Assert.Contains("exactly one of --accept and --reject", both.Error, StringComparison.Ordinal);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }
}
