using System.Net;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Separation of duties: only an independent certifier certifies, and only with its own registered key.</summary>
public sealed class SeparationOfDutiesTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static Task<CertificateDto> Submit(Embargo.Contracts.EmbargoClient who, string certificateId, DsseEnvelope envelope) =>
        who.Certificates.SignAsync(certificateId, new SubmitCertificateRequest { Envelope = envelope.ToJson() }, default);

    [Fact]
    public async Task DeveloperCannotCertifyOwnCase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.ApproveAsync(w.Developer, "hosted"));
    }

    [Fact]
    public async Task InHouseCertifierCannotCertify()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.ApproveAsync(w.InHouseCertifier, "hosted"));
    }

    [Fact]
    public async Task RegulatorAndEvaluatorCannotCertify()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.ApproveAsync(w.Regulator, "hosted"));
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.ApproveAsync(w.Evaluator, "hosted"));
    }

    [Fact]
    public async Task CertifyingAboveTheRequestedTierIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ApproveAsync(w.Certifier, "open"));
    }

    [Fact]
    public async Task AnEnvelopeSignedByAnotherKeyIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var draft = await w.ApproveAsync(w.Certifier, "hosted");
        var statement = Convert.FromBase64String(draft.Statement);
        using var stranger = SigningKey.Generate();
        foreach (var key in new[] { stranger, w.OtherCertifierKey, w.InHouseKey })
        {
            var size = await LedgerSizeAsync(Host);
            await Refused(HttpStatusCode.Conflict, "certificate-signature", () => Submit(w.Certifier, draft.CertificateId, DsseEnvelope.Sign(statement, draft.PayloadType, key)));
            Assert.Equal(size, await LedgerSizeAsync(Host));
        }
        Assert.Equal("pending", (await Host.Anonymous.Certificates.GetAsync(draft.CertificateId, default)).Status);

        // The right key over a different statement is refused too.
        var altered = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(statement).Replace("\"hosted\"", "\"open\"", StringComparison.Ordinal));
        await Refused(HttpStatusCode.BadRequest, null, () => Submit(w.Certifier, draft.CertificateId, DsseEnvelope.Sign(altered, draft.PayloadType, w.CertifierKey)));
        Assert.Equal("pending", (await Host.Anonymous.Certificates.GetAsync(draft.CertificateId, default)).Status);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("hosted"));

        var issued = await Submit(w.Certifier, draft.CertificateId, DsseEnvelope.Sign(statement, draft.PayloadType, w.CertifierKey));
        Assert.Equal("issued", issued.Status);
    }

    [Fact]
    public async Task AnotherCertifierCannotSubmitTheSignatureForSomeoneElsesApproval()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certification);
        var draft = await w.ApproveAsync(w.Certifier, "hosted");
        var statement = Convert.FromBase64String(draft.Statement);
        var size = await LedgerSizeAsync(Host);
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties",
            () => Submit(w.OtherCertifier, draft.CertificateId, DsseEnvelope.Sign(statement, draft.PayloadType, w.OtherCertifierKey)));
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties",
            () => Submit(w.InHouseCertifier, draft.CertificateId, DsseEnvelope.Sign(statement, draft.PayloadType, w.InHouseKey)));
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties",
            () => Submit(w.Developer, draft.CertificateId, DsseEnvelope.Sign(statement, draft.PayloadType, w.CertifierKey)));
        Assert.Equal(size, await LedgerSizeAsync(Host));
        Assert.Equal("pending", (await Host.Anonymous.Certificates.GetAsync(draft.CertificateId, default)).Status);
    }

    [Fact]
    public async Task OnlyAnEvaluatorVerifiesAMitigation()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.MitigationReported);
        var rerun = await w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing, w.PhishingMitigation.Id));
        // A verified mitigation is evidence of safety (rule 9): only the independent evaluator gives it; the
        // developer is refused by rule 9, those with no part in the evaluation by separation of duties.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "rule-9",
            () => w.Developer.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default));
        foreach (var who in new[] { w.MailParty, w.Regulator })
        {
            await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
                () => who.Mitigations.VerifyAsync(w.PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default));
        }
    }

    [Fact]
    public async Task OnlyTheCasesRegulatorDeniesATier()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        foreach (var who in new[] { w.Developer, w.OtherRegulator, w.Certifier })
        {
            await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
                () => who.Cases.DenyAsync(w.CaseId, new DenyRequest { Reason = "no plausible mitigation" }, default));
        }
        var denied = await w.Regulator.Cases.DenyAsync(w.CaseId, new DenyRequest { Reason = "no plausible mitigation" }, default);
        Assert.Equal("denied", denied.State);
        await RefusedWithoutChange(w, HttpStatusCode.Conflict, "case-phase", () => w.AdvanceAsync("certification"));
    }

    [Fact]
    public async Task ADeveloperOfAnotherLabCannotMoveTheCase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.ThreatModels);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.AdvanceAsync("mapping", w.OtherDeveloper));
    }

    [Fact]
    public async Task ADeveloperOfAnotherLabCannotSubmitEvidenceToTheCase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing), w.OtherDeveloper));
    }

    [Fact]
    public async Task AnotherRegulatorCannotAddCommitmentsToTheCase()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () => w.OtherRegulator.Cases.AddCommitmentAsync(w.CaseId,
            new AddCommitmentRequest { Expression = "uplift(\"cyber-phishing\") >= 0.0 => max_tier(closed)" }, default));
    }
}
