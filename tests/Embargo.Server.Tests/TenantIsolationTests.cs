using System.Net;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Tenant isolation (issue 7, "what was seen" 6): a principal reads a case, and a version and its conditions, only when
/// its organisation takes part; everyone reads the public views, which never carry threat-model steps.
/// </summary>
public sealed class TenantIsolationTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private const string SecretStep = "the secret second step of the lure";

    private static async Task<Embargo.Contracts.EmbargoClient> OutsiderAsync(ProtocolWorld w, string role)
    {
        var org = await w.Admin.PostAsync<OrganisationDto>("/api/admin/organisations", new CreateOrganisationRequest { Name = $"Outsider {role} {w.Tag}" }, default);
        return w.Admin.As((await w.Admin.PostAsync<PrincipalCreatedDto>("/api/admin/principals",
            new CreatePrincipalRequest { OrganisationId = org.Id, Name = "outsider", Role = role }, default)).Token);
    }

    private static async Task<ProtocolWorld> WorldWithSecretStepsAsync(EmbargoHost host)
    {
        var w = await ProtocolWorld.CreateAsync(host);
        await w.Evaluator.PostAsync<ThreatModelDto>($"/api/cases/{w.CaseId}/threat-models", new AddThreatModelRequest
        {
            Capability = "cyber-intrusion", Description = "intrusion", AffectedParties = [w.MailOrg], Steps = ["first step", SecretStep],
        }, default);
        return w;
    }

    [Fact]
    public async Task OutsidersCannotReadACaseOrFindItInTheList()
    {
        using var w = await WorldWithSecretStepsAsync(Host);
        var outsiders = new[]
        {
            w.OtherDeveloper, w.OtherRegulator, w.Certifier, w.InHouseCertifier,
            await OutsiderAsync(w, "evaluator"), await OutsiderAsync(w, "affected-party"),
        };
        foreach (var outsider in outsiders)
        {
            var e = await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => outsider.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default));
            Assert.DoesNotContain(SecretStep, e.Detail);
            Assert.DoesNotContain(await outsider.GetAllAsync<CaseSummaryDto>("/api/cases", default), c => c.Id == w.CaseId);
        }
        await Refused(HttpStatusCode.Unauthorized, null, () => w.Host.Anonymous.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default));
    }

    [Fact]
    public async Task TheCasesPartiesReadItWithItsThreatModelSteps()
    {
        using var w = await WorldWithSecretStepsAsync(Host);
        // The Mail party is an affected party of the intrusion threat model; the Bio party of none yet.
        foreach (var party in new[] { w.Developer, w.Evaluator, w.Regulator, w.MailParty })
        {
            var c = await party.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default);
            Assert.Contains(c.ThreatModels, t => t.Steps.Contains(SecretStep));
            Assert.Contains(await party.GetAllAsync<CaseSummaryDto>("/api/cases", default), s => s.Id == w.CaseId);
        }
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.BioParty.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default));
    }

    [Fact]
    public async Task AnIndependentCertifierReadsTheCaseOnceItIsInCertification()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationVerified);
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.Certifier.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default));
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.Certifier.GetAsync<ModelVersionDto>($"/api/model-versions/{w.Version.Id}", default));
        await w.DriveToAsync(Milestone.Certification);
        Assert.Equal("certification", (await w.Certifier.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default)).State);
        Assert.Equal(w.Version.ManifestDigest, (await w.Certifier.GetAsync<ModelVersionDto>($"/api/model-versions/{w.Version.Id}", default)).ManifestDigest);
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.InHouseCertifier.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default));
    }

    [Fact]
    public async Task OutsidersCannotReadAVersionOrItsConditions()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", new RegisterModelConditionRequest
        {
            Name = "ft-secret", Kind = "fine-tuned", ModelName = "camelid-ft", Endpoint = "http://127.0.0.1:9/v1",
        }, default);
        foreach (var outsider in new[] { w.OtherDeveloper, w.OtherRegulator, w.Certifier, await OutsiderAsync(w, "evaluator") })
        {
            await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => outsider.GetAsync<ModelVersionDto>($"/api/model-versions/{w.Version.Id}", default));
            await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => outsider.GetAllAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", default));
        }
        foreach (var party in new[] { w.Developer, w.Evaluator, w.Regulator })
        {
            Assert.Equal("ft-secret", Assert.Single(await party.GetAllAsync<ModelConditionDto>($"/api/model-versions/{w.Version.Id}/conditions", default)).Name);
            Assert.Equal(w.Version.Id, (await party.GetAsync<ModelVersionDto>($"/api/model-versions/{w.Version.Id}", default)).Id);
        }
    }

    [Fact]
    public async Task OutsidersCannotReadAFindingsRecipientsNorAcknowledgeItsDisclosure()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherDeveloper.GetAsync<List<DisclosureRecipientKeyDto>>($"/api/findings/{w.PhishingFinding!.Id}/recipients", default));
        // The Bio party is not a recipient of the phishing finding.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.BioParty.PostAsync<RecipientDto>($"/api/disclosures/{w.PhishingDisclosure!.Id}/acknowledge", null, default));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherRegulator.PostAsync<RecipientDto>($"/api/disclosures/{w.PhishingDisclosure!.Id}/acknowledge", null, default));
        Assert.True((await w.MailParty.PostAsync<RecipientDto>($"/api/disclosures/{w.PhishingDisclosure!.Id}/acknowledge", null, default)).Acknowledged);
    }

    [Fact]
    public async Task EveryoneReadsThePublicViewsAndTheyNeverCarryThreatModelSteps()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        // The phishing threat model's steps are "write lure" and "send at scale": the parties read them, the public never.
        Assert.Contains("send at scale", (await w.MailParty.GetAsync<CaseDto>($"/api/cases/{w.CaseId}", default)).ThreatModels.SelectMany(t => t.Steps));
        var anonymous = w.Host.Anonymous;
        Assert.Contains(await anonymous.GetAllAsync<DisclosureDto>("/api/public/advisories", default), d => d.Id == w.PhishingDisclosure!.Id);
        Assert.Equal("issued", (await anonymous.GetAsync<CertificateDto>($"/api/certificates/{w.Certificate!.Id}", default)).Status);
        Assert.DoesNotContain(await anonymous.GetAllAsync<OrganisationDto>("/api/public/bad-actors", default), o => o.Id == w.DeveloperOrg);
        var leaves = await LeavesAsync(Host);
        Assert.Contains(leaves, l => l.Type == "threat-model.added" && l.Data["case"]!.GetValue<string>() == w.CaseId);
        Assert.DoesNotContain(leaves, l => l.Text.Contains("send at scale", StringComparison.Ordinal) || l.Text.Contains("write lure", StringComparison.Ordinal));
        Assert.DoesNotContain("send at scale", await anonymous.GetTextAsync("/api/public/advisories", default));
        var certificate = await anonymous.GetAsync<CertificateDto>($"/api/certificates/{w.Certificate.Id}", default);
        var statement = System.Text.Encoding.UTF8.GetString(Embargo.Protocol.Certificates.DsseEnvelope.Parse(certificate.Envelope!).Value.PayloadBytes());
        Assert.DoesNotContain("send at scale", statement);
    }
}
