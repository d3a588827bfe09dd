using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Cli.Commands;
using Embargo.Contracts;
using Embargo.Protocol;
using Embargo.Protocol.Disclosures;
using Embargo.SampleModel;
using Embargo.Server.Incidents;
using Embargo.Server.Storage;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Incidents against a released version over real HTTP: an affected party reports one with its detail sealed to the regulator,
/// only a regulator of the version's cases triages it, an accepted one flags the certificate (the server's gateway stops
/// serving at /v1), a rejected one changes nothing, and the ledger never holds the detail in clear.
/// </summary>
public sealed class IncidentTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Detail = "SECRET-REPRO: the lure template was produced by prompt 17 with temperature 0.2";

    private EmbargoHost Host => fixture.Host;

    /// <summary>A certified world released at hosted whose base condition is the SAMPLE model (so /v1 serves it).</summary>
    private async Task<ProtocolWorld> ReleasedWorldAsync(SampleModelServer? sample = null)
    {
        var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        if (sample is not null)
        {
            await w.Developer.Models.RegisterConditionAsync(w.Version.Id, new RegisterModelConditionRequest
            {
                Name = "base", Kind = "base", ModelName = "sample-camelid-7b", Endpoint = sample.BaseUrl.ToString(),
            }, default);
        }
        await w.ReleaseAsync("hosted");
        return w;
    }

    private async Task<(HttpStatusCode Status, string Body)> ChatAsync(string key, string model)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, "/v1/chat/completions"))
        {
            Content = new StringContent(JsonSerializer.Serialize(new { model, messages = new[] { new { role = "user", content = "hello" } } }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await Host.Http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private async Task<IReadOnlyList<IncidentFact>> FactsAsync(string versionId)
    {
        using var scope = Host.Services.CreateScope();
        return await IncidentFacts.ForVersionAsync(scope.ServiceProvider.GetRequiredService<EmbargoDb>(), versionId, default);
    }

    [Fact]
    public async Task AnAffectedPartyReportsAnIncidentWhoseDetailOnlyTheRegulatorCanOpen()
    {
        using var w = await ReleasedWorldAsync();
        var size = await LedgerSizeAsync(Host);

        var incident = await w.MailParty.Incidents.ReportAsync(w.IncidentBody(detail: Detail), default);

        Assert.Equal(IncidentStatus.Reported, incident.Status);
        Assert.Equal(w.MailOrg, incident.ReporterOrganisationId);
        Assert.Null(incident.Sealed);
        var leaf = Assert.Single(await LeavesAsync(Host, size));
        Assert.Equal("incident.reported", leaf.Type);
        Assert.Equal(incident.Id, leaf.Data["incident"]!.GetValue<string>());
        Assert.Equal(incident.SealedSha256, leaf.Data["sealedSha256"]!.GetValue<string>());
        Assert.Equal(ProtocolWorld.Phishing, leaf.Data["capability"]!.GetValue<string>());
        // The regulator's key holder gets its own envelope and opens it; the reporter and the public see only the summary.
        var seen = await w.Regulator.Incidents.GetAsync(incident.Id, default);
        var key = w.RecipientKeys.Single(k => k.OrganisationId == w.RegulatorOrg);
        var opened = SealedEnvelope.Open(seen.Sealed!.Ciphertext, key.PrivateKey, IncidentRules.SealingContext(w.Version.Id, w.RegulatorOrg));
        Assert.Equal(Detail, Encoding.UTF8.GetString(opened.Value!));
        Assert.Null((await Host.Anonymous.Incidents.GetAsync(incident.Id, default)).Sealed);
        Assert.Equal([incident.Id], (await Host.Anonymous.Incidents.ListAsync(w.Version.Id, default)).Select(i => i.Id));
        Assert.Equal([new IncidentFact { Id = incident.Id, Capability = ProtocolWorld.Phishing, Status = IncidentStatus.Reported }], await FactsAsync(w.Version.Id));
        Assert.DoesNotContain("SECRET-REPRO", await LeavesTextAsync(Host, size), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ADeveloperOrAnotherRegulatorCannotTriageAnIncidentAndNothingChanges()
    {
        using var w = await ReleasedWorldAsync();
        var incident = await w.MailParty.Incidents.ReportAsync(w.IncidentBody(), default);
        var accept = new TriageIncidentRequest { Decision = "accept", Reason = "the developer vouches for it" };

        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.Developer.Incidents.TriageAsync(incident.Id, accept, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherRegulator.Incidents.TriageAsync(incident.Id, accept, default));

        Assert.Equal(IncidentStatus.Reported, (await w.Regulator.Incidents.GetAsync(incident.Id, default)).Status);
        Assert.Equal("issued", (await w.Admin.Certificates.GetAsync(w.Certificate!.Id, default)).Status);
    }

    [Fact]
    public async Task TheDeveloperCannotReportAnIncidentAgainstItsOwnVersion()
    {
        using var w = await ReleasedWorldAsync();

        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.Developer.Incidents.ReportAsync(w.IncidentBody(), default));

        Assert.Empty(await Host.Anonymous.Incidents.ListAsync(w.Version.Id, default));
    }

    [Fact]
    public async Task AnIncidentAgainstAnUnreleasedVersionIsRefusedNamingTheVersion()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);

        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.MailParty.Incidents.ReportAsync(w.IncidentBody(), default));

        Assert.StartsWith("modelVersionId:", e.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReportWhoseDetailIsNotSealedToTheRegulatorIsRefusedNamingSealed()
    {
        using var w = await ReleasedWorldAsync();
        var plain = w.IncidentBody() with
        {
            Sealed = [new SealedDetailDto { OrganisationId = w.RegulatorOrg, PrincipalId = w.PrincipalIds[w.Regulator], Ciphertext = Convert.ToBase64String(Encoding.UTF8.GetBytes(Detail)) }],
        };

        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.MailParty.Incidents.ReportAsync(plain, default));

        Assert.StartsWith("sealed[0].ciphertext", e.Detail, StringComparison.Ordinal);
        Assert.Empty(await Host.Anonymous.Incidents.ListAsync(w.Version.Id, default));
    }

    [Fact]
    public async Task AnAcceptedIncidentFlagsTheCertificateAndTheServersGatewayStopsServing()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ReleasedWorldAsync(sample);
        var grant = await w.Developer.Gateway.GrantAsync(w.Version.Id, new GatewayGrantRequest { PrincipalId = w.PrincipalIds[w.Evaluator], RequestsPerMinute = 60 }, default);
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(grant.Key!, w.Version.Id)).Status);
        var incident = await w.Evaluator.Incidents.ReportAsync(w.IncidentBody(detail: Detail), default);
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(grant.Key!, w.Version.Id)).Status);
        var size = await LedgerSizeAsync(Host);

        var accepted = await w.Regulator.Incidents.TriageAsync(incident.Id, new TriageIncidentRequest { Decision = "accept", Reason = "reproduced from the sealed transcript" }, default);

        Assert.Equal(IncidentStatus.Accepted, accepted.Status);
        Assert.Equal([w.Certificate!.Id], accepted.FlaggedCertificates);
        var certificate = await w.Admin.Certificates.GetAsync(w.Certificate.Id, default);
        Assert.Equal("flagged", certificate.Status);
        Assert.Contains($"incident {incident.Id}", certificate.FlagReason, StringComparison.Ordinal);
        var leaves = await LeavesAsync(Host, size);
        Assert.Equal(["incident.accepted", "certificate.flagged-for-reevaluation", "case.reevaluation-started"], leaves.Select(l => l.Type));
        Assert.Equal(incident.Id, leaves[1].Data["incident"]!.GetValue<string>());
        Assert.Equal(w.Certificate.Id, leaves[1].Data["certificate"]!.GetValue<string>());
        var (status, body) = await ChatAsync(grant.Key!, w.Version.Id);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error");
        Assert.Equal("tier_not_certified", error.GetProperty("code").GetString());
        Assert.Contains($"{w.Certificate.Id} is flagged", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, sample.RequestCount);
        Assert.Equal([new IncidentFact { Id = incident.Id, Capability = ProtocolWorld.Phishing, Status = IncidentStatus.Accepted, AcceptedIndex = leaves[0].Index }], await FactsAsync(w.Version.Id));
        Assert.DoesNotContain("SECRET-REPRO", await LeavesTextAsync(Host), StringComparison.Ordinal);
        // The case's safety case now shows the challenged claim open, naming the incident; the other claim stands.
        var safetyCase = JsonNode.Parse(await w.Regulator.Cases.SafetyCaseAsync(w.CaseId, "hosted"))!;
        var claims = safetyCase["claims"]!.AsArray();
        var phishing = claims.Single(c => c!["capability"]!.GetValue<string>() == ProtocolWorld.Phishing)!;
        Assert.Equal("open", phishing["status"]!.GetValue<string>());
        Assert.Contains(phishing["missing"]!.AsArray(), m => m!.GetValue<string>().Contains(incident.Id, StringComparison.Ordinal));
        Assert.All(claims.Where(c => c!["capability"]!.GetValue<string>() != ProtocolWorld.Phishing), c => Assert.Equal("supported", c!["status"]!.GetValue<string>()));
    }

    [Fact]
    public async Task AnAcceptedIncidentReopensTheReleasedCaseAndOnceReCertifiedTheGatewayServesAgainAndARepeatedReleaseBindsTheNewCertificate()
    {
        await using var sample = await SampleModelServer.StartAsync();
        using var w = await ReleasedWorldAsync(sample);
        var grant = await w.Developer.Gateway.GrantAsync(w.Version.Id, new GatewayGrantRequest { PrincipalId = w.PrincipalIds[w.Evaluator], RequestsPerMinute = 60 }, default);
        var incident = await w.Evaluator.Incidents.ReportAsync(w.IncidentBody(detail: Detail), default);
        var size = await LedgerSizeAsync(Host);

        await w.Regulator.Incidents.TriageAsync(incident.Id, new TriageIncidentRequest { Decision = "accept", Reason = "reproduced from the sealed transcript" }, default);

        var reopened = (await LeavesAsync(Host, size)).Single(l => l.Type == "case.reevaluation-started");
        Assert.Equal((w.CaseId, "released", "testing", "incident", incident.Id),
            (reopened.Data["case"]!.GetValue<string>(), reopened.Data["from"]!.GetValue<string>(), reopened.Data["to"]!.GetValue<string>(),
             reopened.Data["rule"]!.GetValue<string>(), reopened.Data["incident"]!.GetValue<string>()));
        Assert.Equal(w.Certificate!.Id, reopened.Data["certificatesFlagged"]![0]!.GetValue<string>());
        // The incident is on phishing: its verified mitigation did not hold and is verified again.
        Assert.Equal(w.PhishingMitigation.Id, Assert.Single(reopened.Data["mitigationsReopened"]!.AsArray())!.GetValue<string>());
        var @case = await w.CaseAsync();
        Assert.Equal("testing", @case.State);
        Assert.Contains($"incident {incident.Id}", @case.ReevaluationReason, StringComparison.Ordinal);
        Assert.Equal("reported", @case.Mitigations.Single(m => m.Id == w.PhishingMitigation.Id).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await ChatAsync(grant.Key!, w.Version.Id)).Status);

        // Re-argued on the same case: the evidence recorded before the incident no longer carries the phishing claim, so
        // certification is refused by the safety case until the mitigation is verified again by a run made since.
        await w.AdvanceAsync("reflection");
        await w.AdvanceAsync("disclosure");
        var open = await Assert.ThrowsAsync<ApiException>(() => w.AdvanceAsync("certification"));
        Assert.Contains(w.PhishingMitigation.Id, open.Message, StringComparison.Ordinal);
        var rerun = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        Assert.Equal("verified", (await w.Evaluator.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default)).Status);
        await w.AdvanceAsync("certification");
        var renewed = await ProtocolCommands.CertifyAsync(w.Certifier, w.CaseId, "hosted", w.CertifierKey, default);

        Assert.Equal("issued", (await w.Admin.Certificates.GetAsync(renewed.Id, default)).Status);
        var (status, _) = await ChatAsync(grant.Key!, w.Version.Id);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, sample.RequestCount);
        // Releasing again binds the release to the new certificate and the case is released again.
        var before = await LedgerSizeAsync(Host);
        var release = await w.ReleaseAsync("hosted");
        Assert.Equal(renewed.Id, release.CertificateId);
        Assert.Equal("released", (await w.CaseAsync()).State);
        var rebound = Assert.Single(await LeavesAsync(Host, before));
        Assert.Equal(("release.published", renewed.Id, w.Certificate.Id),
            (rebound.Type, rebound.Data["certificate"]!.GetValue<string>(), rebound.Data["rebinds"]!.GetValue<string>()));
        Assert.Equal(HttpStatusCode.OK, (await ChatAsync(grant.Key!, w.Version.Id)).Status);
    }

    [Fact]
    public async Task ARejectedIncidentChangesNoCertificateAndATriageIsFinal()
    {
        using var w = await ReleasedWorldAsync();
        var incident = await w.MailParty.Incidents.ReportAsync(w.IncidentBody(), default);
        var size = await LedgerSizeAsync(Host);

        var rejected = await w.Regulator.Incidents.TriageAsync(incident.Id, new TriageIncidentRequest { Decision = "reject", Reason = "another vendor's model" }, default);

        Assert.Equal(IncidentStatus.Rejected, rejected.Status);
        Assert.Empty(rejected.FlaggedCertificates);
        Assert.Equal(["incident.rejected"], (await LeavesAsync(Host, size)).Select(l => l.Type));
        Assert.Equal("issued", (await w.Admin.Certificates.GetAsync(w.Certificate!.Id, default)).Status);
        var again = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null,
            () => w.Regulator.Incidents.TriageAsync(incident.Id, new TriageIncidentRequest { Decision = "accept", Reason = "changed my mind" }, default));
        Assert.StartsWith("decision:", again.Detail, StringComparison.Ordinal);
        Assert.Equal("issued", (await w.Admin.Certificates.GetAsync(w.Certificate.Id, default)).Status);
    }
}
