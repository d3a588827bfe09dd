using System.Security.Cryptography;
using Embargo.Cli.Commands;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Protocol.Disclosures;
using Embargo.Weights;
using NSec.Cryptography;

namespace Embargo.Server.Tests.Infrastructure;

/// <summary>How far <see cref="ProtocolWorld.DriveToAsync"/> takes the case; each milestone includes the ones before it.</summary>
public enum Milestone
{
    Scoping,
    ThreatModels,
    Mapping,
    Testing,
    Evaluated,
    Reflection,
    FindingsRecorded,
    Disclosure,
    Disclosed,
    DeadlineSet,
    MitigationReported,
    MitigationVerified,
    Certification,
    Certified,
}

/// <summary>
/// Every role as its own organisation and token, one registered model version and one open case, on an
/// <see cref="EmbargoHost"/>. The case has two threat models: cyber-phishing (affects Mail; its evaluation
/// shows significant uplift, so its finding is novel) and bio-acquisition (affects Bio; no uplift).
/// </summary>
public sealed class ProtocolWorld : IDisposable
{
    public const string Phishing = "cyber-phishing";
    public const string Bio = "bio-acquisition";

    private ProtocolWorld(EmbargoHost host) => Host = host;

    public EmbargoHost Host { get; }
    public EmbargoClient Admin => Host.Admin;
    public string Tag { get; private set; } = "";

    public string DeveloperOrg { get; private set; } = "";
    public string EvaluatorOrg { get; private set; } = "";
    public string RegulatorOrg { get; private set; } = "";
    public string OtherRegulatorOrg { get; private set; } = "";
    public string MailOrg { get; private set; } = "";
    public string BioOrg { get; private set; } = "";
    public string CertifierOrg { get; private set; } = "";
    public string OtherCertifierOrg { get; private set; } = "";
    public string OtherDeveloperOrg { get; private set; } = "";

    public EmbargoClient Developer { get; private set; } = null!;
    public EmbargoClient InHouseCertifier { get; private set; } = null!;
    public EmbargoClient Evaluator { get; private set; } = null!;
    public EmbargoClient Regulator { get; private set; } = null!;
    public EmbargoClient OtherRegulator { get; private set; } = null!;
    public EmbargoClient MailParty { get; private set; } = null!;
    public EmbargoClient BioParty { get; private set; } = null!;
    public EmbargoClient Certifier { get; private set; } = null!;
    public EmbargoClient OtherCertifier { get; private set; } = null!;
    /// <summary>A developer of another lab: it has no say in this case.</summary>
    public EmbargoClient OtherDeveloper { get; private set; } = null!;

    public SigningKey CertifierKey { get; } = SigningKey.Generate();
    public SigningKey OtherCertifierKey { get; } = SigningKey.Generate();
    public SigningKey InHouseKey { get; } = SigningKey.Generate();

    public ReferenceModelDto Reference { get; private set; } = null!;
    public ModelVersionDto Version { get; private set; } = null!;
    public string WeightsDirectory { get; private set; } = "";
    public string CaseId { get; private set; } = "";
    public string RequestedTier { get; private set; } = "";
    public Milestone Reached { get; private set; }

    public ThreatModelDto? PhishingThreat { get; private set; }
    public ThreatModelDto? BioThreat { get; private set; }
    public EvaluationDto? PhishingEvaluation { get; private set; }
    public EvaluationDto? BioEvaluation { get; private set; }
    public FindingDto? PhishingFinding { get; private set; }
    public FindingDto? BioFinding { get; private set; }
    public DisclosureDto? PhishingDisclosure { get; private set; }
    public DisclosureDto? BioDisclosure { get; private set; }
    public CertificateDto? Certificate { get; private set; }

    /// <summary>The sealed detail ciphertexts given at disclosure, per recipient organisation (rule 8 checks them).</summary>
    public Dictionary<string, string> SealedCiphertexts { get; } = [];

    public MitigationDto PhishingMitigation => PhishingDisclosure?.Mitigations.Single() ?? throw new InvalidOperationException("not disclosed yet");

    /// <summary>
    /// A new world on <paramref name="host"/>. Its reference model has <paramref name="referenceStrength"/>, or by
    /// default the strength of the strongest one already registered on the host (rule 5: a case opens only with the
    /// strongest), at least 0.5. With <paramref name="recipientKeys"/> false the regulator, Mail and Bio principals
    /// register no X25519 key (nothing can be sealed to them until a test adds a key holder).
    /// </summary>
    public static async Task<ProtocolWorld> CreateAsync(EmbargoHost host, string requestedTier = "hosted", double? referenceStrength = null, bool recipientKeys = true)
    {
        var w = new ProtocolWorld(host) { _recipientKeys = recipientKeys };
        var strongest = (await host.Anonymous.GetAsync<List<ReferenceModelDto>>("/api/reference-models", default)).Select(r => r.Strength).DefaultIfEmpty(0.5).Max();
        await w.SetUpAsync(requestedTier, referenceStrength ?? Math.Max(0.5, strongest));
        return w;
    }

    /// <summary>A recipient principal's X25519 key pair (raw): every disclosure seals an envelope to it.</summary>
    public sealed record RecipientKeyPair(string OrganisationId, string PrincipalId, byte[] PublicKey, byte[] PrivateKey);

    private bool _recipientKeys = true;

    /// <summary>The key holders of the recipient organisations (the regulator, Mail and Bio principals).</summary>
    public List<RecipientKeyPair> RecipientKeys { get; } = [];

    /// <summary>Each principal's id, by the client that carries its token.</summary>
    public Dictionary<EmbargoClient, string> PrincipalIds { get; } = [];

    private async Task SetUpAsync(string requestedTier, double referenceStrength)
    {
        Tag = Guid.NewGuid().ToString("N")[..8];
        DeveloperOrg = await OrgAsync("Mesa Labs");
        EvaluatorOrg = await OrgAsync("Redline Evals");
        RegulatorOrg = await OrgAsync("Office for AI Safety");
        OtherRegulatorOrg = await OrgAsync("Other Regulator");
        MailOrg = await OrgAsync("Mailguard");
        BioOrg = await OrgAsync("SynthScreen");
        CertifierOrg = await OrgAsync("Assure Certification");
        OtherCertifierOrg = await OrgAsync("Second Opinion Certification");
        OtherDeveloperOrg = await OrgAsync("Rival Labs");

        Developer = await PrincipalAsync(DeveloperOrg, "developer", null);
        InHouseCertifier = await PrincipalAsync(DeveloperOrg, "certifier", InHouseKey);
        Evaluator = await PrincipalAsync(EvaluatorOrg, "evaluator", null);
        Regulator = await PrincipalAsync(RegulatorOrg, "regulator", null, withEncryptionKey: true);
        OtherRegulator = await PrincipalAsync(OtherRegulatorOrg, "regulator", null);
        MailParty = await PrincipalAsync(MailOrg, "affected-party", null, withEncryptionKey: true);
        BioParty = await PrincipalAsync(BioOrg, "affected-party", null, withEncryptionKey: true);
        Certifier = await PrincipalAsync(CertifierOrg, "certifier", CertifierKey);
        OtherCertifier = await PrincipalAsync(OtherCertifierOrg, "certifier", OtherCertifierKey);
        OtherDeveloper = await PrincipalAsync(OtherDeveloperOrg, "developer", null);

        Reference = await Regulator.PostAsync<ReferenceModelDto>("/api/reference-models",
            new RegisterReferenceModelRequest { Name = $"frontier-{Tag}", Strength = referenceStrength }, default);

        WeightsDirectory = Path.Combine(Host.DataDirectory, "weights-" + Tag);
        Directory.CreateDirectory(WeightsDirectory);
        await File.WriteAllBytesAsync(Path.Combine(WeightsDirectory, "model.bin"), RandomNumberGenerator.GetBytes(4096));
        await File.WriteAllTextAsync(Path.Combine(WeightsDirectory, "config.json"), $"{{\"note\":\"test weights {Tag}\"}}");
        var manifest = await ProtocolCommands.BuildManifestAsync(WeightsDirectory, default);
        var model = await Developer.PostAsync<ModelDto>("/api/models", new RegisterModelRequest { Name = $"camelid-{Tag}" }, default);
        Version = await Developer.PostAsync<ModelVersionDto>($"/api/models/{model.Id}/versions", new RegisterVersionRequest
        {
            Version = "1.0",
            ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
        }, default);

        RequestedTier = requestedTier;
        var @case = await Developer.PostAsync<CaseDto>("/api/cases", new OpenCaseRequest
        {
            ModelVersionId = Version.Id, RequestedTier = requestedTier, RegulatorOrganisationId = RegulatorOrg, ReferenceModelId = Reference.Id,
            EvaluatorOrganisationIds = [EvaluatorOrg],
        }, default);
        CaseId = @case.Id;
        Reached = Milestone.Scoping;
    }

    private async Task<string> OrgAsync(string name) =>
        (await Admin.PostAsync<OrganisationDto>("/api/admin/organisations", new CreateOrganisationRequest { Name = $"{name} {Tag}" }, default)).Id;

    /// <summary>Each principal's raw API token, by the client that carries it.</summary>
    public Dictionary<EmbargoClient, string> Tokens { get; } = [];

    private async Task<EmbargoClient> PrincipalAsync(string org, string role, SigningKey? key, bool withEncryptionKey = false)
    {
        byte[]? publicKey = null, privateKey = null;
        if (withEncryptionKey && _recipientKeys)
        {
            using var pair = Key.Create(KeyAgreementAlgorithm.X25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
            publicKey = pair.PublicKey.Export(KeyBlobFormat.RawPublicKey);
            privateKey = pair.Export(KeyBlobFormat.RawPrivateKey);
        }
        var created = await Admin.PostAsync<PrincipalCreatedDto>("/api/admin/principals", new CreatePrincipalRequest
        {
            OrganisationId = org, Name = $"{role}-{Tag}", Role = role, SigningKeyPem = key?.PublicKey.Pem,
            EncryptionKey = publicKey is null ? null : KeyFiles.Armor(KeyFiles.PublicLabel, publicKey),
        }, default);
        var client = Admin.As(created.Token);
        Tokens[client] = created.Token;
        PrincipalIds[client] = created.Principal.Id;
        if (publicKey is not null)
        {
            RecipientKeys.Add(new RecipientKeyPair(org, created.Principal.Id, publicKey, privateKey!));
        }
        return client;
    }

    // ---- evaluation bodies ----

    public static SubmitEvaluationRequest Significant(string capability, string? mitigationId = null) => Evaluation(capability, 0.8, 0.2, 0.6, 1e-6, mitigationId);

    public static SubmitEvaluationRequest NotSignificant(string capability, string? mitigationId = null) => Evaluation(capability, 0.2, 0.2, 0.0, 0.6, mitigationId);

    public static SubmitEvaluationRequest Evaluation(string capability, double subject, double baseline, double uplift, double p, string? mitigationId = null) => new()
    {
        Capability = capability,
        Task = capability,
        Samples = 100,
        Subject = new ConditionDto { Model = "subject", Correct = (int)(subject * 100), Total = 100, Accuracy = subject, Ci95Low = Math.Max(0, subject - 0.1), Ci95High = Math.Min(1, subject + 0.1) },
        Baseline = new ConditionDto { Model = "baseline", Correct = (int)(baseline * 100), Total = 100, Accuracy = baseline, Ci95Low = Math.Max(0, baseline - 0.1), Ci95High = Math.Min(1, baseline + 0.1) },
        Uplift = new UpliftDto { Estimate = uplift, Ci95Low = uplift - 0.1, Ci95High = uplift + 0.1, P = p, Test = "two-proportion z" },
        // The one-sided 95% upper bound: 0.03 above the estimate, so "no uplift" is not-novel at the default margin 0.05.
        UpliftUpper = uplift + 0.03,
        MitigationId = mitigationId,
    };

    // ---- elicitation coverage (rule 10) ----

    /// <summary>The registered conditions of the world's version by kind (registered by <see cref="CoverAsync"/> when first needed).</summary>
    public Dictionary<string, string> ConditionNames { get; } = [];

    /// <summary>Registers (once) a condition of <paramref name="kind"/> on the world's version and returns its name.</summary>
    public async Task<string> ConditionAsync(string kind)
    {
        if (!ConditionNames.TryGetValue(kind, out var name))
        {
            name = $"{kind}-{Tag}";
            await Developer.PostAsync<ModelConditionDto>($"/api/model-versions/{Version.Id}/conditions", new RegisterModelConditionRequest
            {
                Name = name, Kind = kind, ModelName = $"camelid-{Tag}-{kind}", Endpoint = "http://127.0.0.1:9/v1",
            }, default);
            ConditionNames[kind] = name;
        }
        return name;
    }

    /// <summary>
    /// Rule 10: the independent evaluator's evidence on each capability (default: both threat models) under every
    /// condition beyond base that <paramref name="tier"/> (default: the requested tier) needs: hosted/api need
    /// tool-augmented and assisted, downloadable/open also fine-tuned. Phishing shows uplift under each, bio none.
    /// </summary>
    /// <summary>The tier whose conditions <see cref="Milestone.Evaluated"/> covers (null: the requested tier).</summary>
    public string? CoverageTier { get; set; }

    public async Task CoverAsync(string? tier = null, params string[] capabilities)
    {
        var kinds = Embargo.Protocol.ConditionKinds.RequiredFor(Embargo.Protocol.Tiers.Parse(tier ?? RequestedTier).Value)
            .Where(k => k != Embargo.Protocol.ConditionKinds.Base);
        foreach (var kind in kinds)
        {
            var condition = await ConditionAsync(kind);
            foreach (var capability in capabilities.Length == 0 ? [Phishing, Bio] : capabilities)
            {
                await SubmitAsync((capability == Phishing ? Significant(capability) : NotSignificant(capability)) with { SubjectCondition = condition });
            }
        }
    }

    // ---- reads ----

    public Task<CaseDto> CaseAsync() => Admin.GetAsync<CaseDto>($"/api/cases/{CaseId}", default);

    public Task<string> CaseTextAsync() => Admin.GetTextAsync($"/api/cases/{CaseId}", default);

    public Task<CaseDto> AdvanceAsync(string to, EmbargoClient? who = null) =>
        (who ?? Developer).PostAsync<CaseDto>($"/api/cases/{CaseId}/advance", new AdvanceCaseRequest { To = to }, default);

    public Task<EvaluationDto> SubmitAsync(SubmitEvaluationRequest request, EmbargoClient? who = null) =>
        (who ?? Evaluator).PostAsync<EvaluationDto>($"/api/cases/{CaseId}/evaluations", request, default);

    public Task<CertificationDraftDto> ApproveAsync(EmbargoClient who, string tier) =>
        who.PostAsync<CertificationDraftDto>($"/api/cases/{CaseId}/certification", new CertificationRequest { Tier = tier }, default);

    public Task<ReleaseDto> ReleaseAsync(string tier) =>
        Developer.PostAsync<ReleaseDto>("/api/releases", new ReleaseRequest { ModelVersionId = Version.Id, Tier = tier }, default);

    /// <summary>A disclosure of the world's finding for <paramref name="capability"/>, sealed to every key holder of <paramref name="recipients"/>.</summary>
    public DiscloseRequest DiscloseBody(string capability, params string[] recipients) =>
        DiscloseBodyFor((capability == Phishing ? PhishingFinding : capability == Bio ? BioFinding : null)?.Id
                        ?? throw new InvalidOperationException($"the world has no finding for {capability}; use DiscloseBodyFor"), capability, recipients);

    /// <summary>
    /// A disclosure of finding <paramref name="findingId"/>: a real sealed envelope (SAMPLE detail) for every key holder of
    /// each of <paramref name="recipients"/>, bound to the finding and the organisation.
    /// </summary>
    public DiscloseRequest DiscloseBodyFor(string findingId, string capability, params string[] recipients)
    {
        var sealedDetails = new List<SealedDetailDto>();
        foreach (var key in recipients.SelectMany(org => RecipientKeys.Where(k => k.OrganisationId == org)))
        {
            var detail = System.Text.Encoding.UTF8.GetBytes($"SAMPLE detail of {capability} for {key.OrganisationId} {Convert.ToHexString(RandomNumberGenerator.GetBytes(8))}");
            var ciphertext = SealedEnvelope.Seal(detail, key.PublicKey, SealedEnvelope.Context(findingId, key.OrganisationId));
            SealedCiphertexts[$"{capability}:{key.OrganisationId}:{key.PrincipalId}"] = ciphertext;
            sealedDetails.Add(new SealedDetailDto { OrganisationId = key.OrganisationId, PrincipalId = key.PrincipalId, Ciphertext = ciphertext });
        }
        return new DiscloseRequest
        {
            AdvisoryTitle = $"{capability} uplift in camelid-{Tag}",
            AdvisorySummary = $"The model gives uplift on {capability}; details went privately to the regulator and the affected parties.",
            Sealed = sealedDetails,
        };
    }

    /// <summary>Drives the case forward, step by step, until <paramref name="target"/> is reached.</summary>
    public async Task<ProtocolWorld> DriveToAsync(Milestone target, string? certifyTier = null)
    {
        while (Reached < target)
        {
            var next = Reached + 1;
            switch (next)
            {
                case Milestone.ThreatModels:
                    PhishingThreat = await Evaluator.PostAsync<ThreatModelDto>($"/api/cases/{CaseId}/threat-models", new AddThreatModelRequest
                    {
                        Capability = Phishing, Description = "Convincing phishing at scale", AffectedParties = [MailOrg], Steps = ["write lure", "send at scale"],
                    }, default);
                    BioThreat = await Evaluator.PostAsync<ThreatModelDto>($"/api/cases/{CaseId}/threat-models", new AddThreatModelRequest
                    {
                        Capability = Bio, Description = "Acquiring controlled material", AffectedParties = [BioOrg],
                    }, default);
                    break;
                case Milestone.Mapping:
                    await AdvanceAsync("mapping");
                    break;
                case Milestone.Testing:
                    await AdvanceAsync("testing");
                    break;
                case Milestone.Evaluated:
                    // Evidence under the other conditions first, so the base runs stay each capability's latest result.
                    await CoverAsync(CoverageTier);
                    PhishingEvaluation = await SubmitAsync(Significant(Phishing));
                    BioEvaluation = await SubmitAsync(NotSignificant(Bio));
                    break;
                case Milestone.Reflection:
                    await AdvanceAsync("reflection");
                    break;
                case Milestone.FindingsRecorded:
                    PhishingFinding = await Evaluator.PostAsync<FindingDto>($"/api/cases/{CaseId}/findings", new RecordFindingRequest
                    {
                        ThreatModelId = PhishingThreat!.Id, EvaluationId = PhishingEvaluation!.Id, Title = "Phishing uplift",
                    }, default);
                    BioFinding = await Evaluator.PostAsync<FindingDto>($"/api/cases/{CaseId}/findings", new RecordFindingRequest
                    {
                        ThreatModelId = BioThreat!.Id, EvaluationId = BioEvaluation!.Id, Title = "No bio uplift",
                    }, default);
                    break;
                case Milestone.Disclosure:
                    await AdvanceAsync("disclosure");
                    break;
                case Milestone.Disclosed:
                    PhishingDisclosure = await Evaluator.PostAsync<DisclosureDto>($"/api/findings/{PhishingFinding!.Id}/disclosures", DiscloseBody(Phishing, RegulatorOrg, MailOrg), default);
                    BioDisclosure = await Evaluator.PostAsync<DisclosureDto>($"/api/findings/{BioFinding!.Id}/disclosures", DiscloseBody(Bio, RegulatorOrg, BioOrg), default);
                    break;
                case Milestone.DeadlineSet:
                    await Regulator.PostAsync<MitigationDto>($"/api/mitigations/{PhishingMitigation.Id}/deadline", new SetDeadlineRequest { DueAt = Host.Time.GetUtcNow().AddDays(30) }, default);
                    break;
                case Milestone.MitigationReported:
                    await MailParty.PostAsync<MitigationDto>($"/api/mitigations/{PhishingMitigation.Id}/report", new ReportMitigationRequest { Description = "Inbound lure screening deployed" }, default);
                    break;
                case Milestone.MitigationVerified:
                    var rerun = await SubmitAsync(NotSignificant(Phishing, PhishingMitigation.Id));
                    await Evaluator.PostAsync<MitigationDto>($"/api/mitigations/{PhishingMitigation.Id}/verify", new VerifyMitigationRequest { EvaluationId = rerun.Id }, default);
                    break;
                case Milestone.Certification:
                    await AdvanceAsync("certification");
                    break;
                case Milestone.Certified:
                    Certificate = await ProtocolCommands.CertifyAsync(Certifier, CaseId, certifyTier ?? RequestedTier, CertifierKey, default);
                    break;
            }
            Reached = next;
        }
        return this;
    }

    public void Dispose()
    {
        CertifierKey.Dispose();
        OtherCertifierKey.Dispose();
        InHouseKey.Dispose();
    }
}
