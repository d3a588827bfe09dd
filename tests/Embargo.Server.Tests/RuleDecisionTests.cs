using Embargo.Protocol;
using Embargo.Protocol.Disclosures;
using NSec.Cryptography;

namespace Embargo.Server.Tests;

/// <summary>
/// The pure decisions behind rules 5 and 11, disclosure coverage, verification order and endpoint URLs, without HTTP
/// (they move to Embargo.Protocol.Tests when that project exists on the branch).
/// </summary>
public sealed class RuleDecisionTests
{
    private static readonly ReferenceFacts Overtaken = new("frontier", 0.5, "frontier-2", 0.9);
    private static readonly ReferenceFacts Strongest = new("frontier-2", 0.9, "frontier-2", 0.9);

    [Fact]
    public void ACaseWithAWeakerReferenceModelNeitherOpensNorIsCertified()
    {
        Assert.Equal("rule-5", ReferenceModels.OpenRefusal(Overtaken)?.Rule);
        Assert.Equal("rule-5", ReferenceModels.CertificationRefusal(Overtaken)?.Rule);
        Assert.Null(ReferenceModels.OpenRefusal(Strongest));
        Assert.Null(ReferenceModels.CertificationRefusal(Strongest));
        Assert.Null(ReferenceModels.CertificationRefusal(null));
    }

    [Theory]
    [InlineData(CaseState.Scoping, CaseState.Scoping)]
    [InlineData(CaseState.Mapping, CaseState.Mapping)]
    [InlineData(CaseState.Testing, CaseState.Testing)]
    [InlineData(CaseState.Disclosure, CaseState.Testing)]
    [InlineData(CaseState.Certification, CaseState.Testing)]
    [InlineData(CaseState.Released, CaseState.Testing)]
    public void ReevaluationWithTheStrongestReferenceModelGoesBackToTestingFromLaterPhases(CaseState from, CaseState to) =>
        Assert.Equal(to, ReferenceModels.Reevaluate(from, Overtaken, "frontier-2", 0.9).Value);

    [Fact]
    public void ReevaluationNeedsAStrongerAndTheStrongestReferenceModelAndACaseThatIsNotDenied()
    {
        Assert.Equal(ErrorKind.Validation, ReferenceModels.Reevaluate(CaseState.Testing, Overtaken, "same", 0.5).Error!.Kind);
        Assert.Equal("rule-5", ReferenceModels.Reevaluate(CaseState.Testing, Overtaken, "middle", 0.7).Error!.Rule);
        Assert.Equal("case-phase", ReferenceModels.Reevaluate(CaseState.Denied, Overtaken, "frontier-2", 0.9).Error!.Rule);
    }

    [Fact]
    public void ADenialStandsAtItsTierAndAboveOnly()
    {
        var standing = new[] { new DenialFacts("case_a", Tier.Hosted, "org_reg", "no mitigation") };
        foreach (var tier in new[] { Tier.Hosted, Tier.Api, Tier.Open })
        {
            Assert.Equal("rule-11", Denials.OpenRefusal(tier, standing)?.Rule);
            Assert.Equal("rule-11", Denials.ReleaseRefusal(tier, standing)?.Rule);
            Assert.Equal("rule-11", Denials.CertificationRefusal(tier, standing)?.Rule);
        }
        Assert.Null(Denials.OpenRefusal(Tier.Staged, standing));
        Assert.Null(Denials.ReleaseRefusal(Tier.Staged, standing));
        Assert.Null(Denials.ReleaseRefusal(Tier.Open, []));
    }

    [Fact]
    public void OnlyTheRegulatorThatDeniedLiftsOnceWithARealReason()
    {
        const string reason = "screening deployed by every provider";
        var denied = new Subject { DeveloperOrganisation = "org_dev", RegulatorOrganisations = ["org_reg"] };
        Assert.Null(Access.Decide(ProtocolAction.LiftDenial, new Actor("prn_reg", "org_reg", Role.Regulator), denied));
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.LiftDenial, new Actor("prn_other", "org_other", Role.Regulator), denied)?.Rule);
        Assert.Equal("separation-of-duties", Access.Decide(ProtocolAction.LiftDenial, new Actor("prn_dev", "org_dev", Role.Developer), denied)?.Rule);
        Assert.Null(Denials.LiftRefusal(CaseState.Denied, false, reason));
        Assert.Equal("rule-11", Denials.LiftRefusal(CaseState.Denied, true, reason)?.Rule);
        Assert.Equal("case-phase", Denials.LiftRefusal(CaseState.Testing, false, reason)?.Rule);
        Assert.Equal(ErrorKind.Validation, Denials.LiftRefusal(CaseState.Denied, false, ".")?.Kind);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("fixed it")]
    [InlineData("a b c d")]
    public void AnExplanationNeedsAtLeastThreeRealWords(string? text) =>
        Assert.StartsWith("description", Explanations.Reason(text, "description")!.Message, StringComparison.Ordinal);

    [Fact]
    public void AVerificationRunCountsOnlyAfterTheReportAndUnderTheCurrentReferenceModel()
    {
        Assert.Equal("rule-2", Verification.SubmissionRefusal("mit_1", "required")?.Rule);
        Assert.Null(Verification.SubmissionRefusal("mit_1", "reported"));
        Assert.Equal("rule-2", Verification.RunRefusal("mit_1", null, 10, true)?.Rule);
        Assert.Equal("rule-2", Verification.RunRefusal("mit_1", 10, 9, true)?.Rule);
        Assert.Equal("rule-5", Verification.RunRefusal("mit_1", 10, 11, false)?.Rule);
        Assert.Null(Verification.RunRefusal("mit_1", 10, 11, true));
    }

    [Theory]
    [InlineData("https://user:pass@host/v1")]
    [InlineData("https://host/v1?api_key=sk-live-1")]
    [InlineData("https://host/v1?")]
    [InlineData("https://host/v1#key")]
    [InlineData("ftp://host/v1")]
    [InlineData("not a url")]
    public void AnEndpointUrlWithSecretsOrNotHttpIsRefusedNamingTheMember(string url) =>
        Assert.StartsWith("endpoint", EndpointUrls.Check(url, "endpoint").Error!.Message, StringComparison.Ordinal);

    [Fact]
    public void StrippingAnEndpointUrlRemovesUserInfoQueryAndFragment()
    {
        Assert.Equal("https://host/v1", EndpointUrls.Strip(new Uri("https://user:pass@host/v1?api_key=x#y")).ToString());
        Assert.Equal("http://127.0.0.1:8000/v1", EndpointUrls.Check("http://127.0.0.1:8000/v1", "endpoint").Value);
    }

    private static byte[] PublicKey(out byte[] privateKey)
    {
        using var key = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        privateKey = key.Export(KeyBlobFormat.RawPrivateKey);
        return key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    [Fact]
    public void OnlyAWellFormedEnvelopeWithAUsableEphemeralKeyPasses()
    {
        var sealedText = SealedEnvelope.Seal("detail"u8, PublicKey(out _), "ctx");
        Assert.Null(SealedEnvelope.WellFormed(sealedText, "sealed[0].ciphertext"));
        var plaintext = Convert.ToBase64String("step 1: write the lure like this, then send it at scale"u8);
        Assert.StartsWith("sealed[0].ciphertext", SealedEnvelope.WellFormed(plaintext, "sealed[0].ciphertext")!.Message, StringComparison.Ordinal);
        Assert.NotNull(SealedEnvelope.WellFormed("not base64!", "c"));
        Assert.NotNull(SealedEnvelope.WellFormed(Convert.ToBase64String(Convert.FromBase64String(sealedText)[..60]), "c"));
        // A low-order ephemeral key (all zeros): no agreement is possible, so it was sealed to no one.
        var lowOrder = Convert.FromBase64String(sealedText);
        Array.Clear(lowOrder, 1, 32);
        Assert.Contains("ephemeral key", SealedEnvelope.WellFormed(Convert.ToBase64String(lowOrder), "c")!.Message);
    }

    [Fact]
    public void EveryKeyHolderOfEveryRecipientNeedsItsOwnEnvelope()
    {
        var envelope = SealedEnvelope.Seal("detail"u8, PublicKey(out _), "ctx");
        var required = new[] { "org_reg", "org_mail" };
        var keys = new[] { new RecipientKey("org_reg", "prn_reg"), new RecipientKey("org_mail", "prn_m1"), new RecipientKey("org_mail", "prn_m2") };
        OfferedEnvelope To(string org, string principal) => new(org, principal, envelope);
        Assert.Null(DisclosureCoverage.Check([To("org_reg", "prn_reg"), To("org_mail", "prn_m1"), To("org_mail", "prn_m2")], required, keys));
        Assert.StartsWith("sealed is empty", DisclosureCoverage.Check([], required, keys)!.Message, StringComparison.Ordinal);
        Assert.Contains("prn_m2", DisclosureCoverage.Check([To("org_reg", "prn_reg"), To("org_mail", "prn_m1")], required, keys)!.Message);
        Assert.Contains("sealed[1].principalId", DisclosureCoverage.Check([To("org_reg", "prn_reg"), To("org_mail", "prn_reg")], required, keys)!.Message);
        Assert.Contains("sealed[1].principalId", DisclosureCoverage.Check([To("org_reg", "prn_reg"), To("org_reg", "prn_reg")], required, keys)!.Message);
        Assert.Contains("sealed[0].organisationId", DisclosureCoverage.Check([To("org_bio", "prn_reg")], required, keys)!.Message);
        Assert.Contains("sealed[0]", DisclosureCoverage.Check([null], required, keys)!.Message);
        Assert.Contains("org_mail has no principal", DisclosureCoverage.Check([To("org_reg", "prn_reg")], required, [keys[0]])!.Message);
    }
}
