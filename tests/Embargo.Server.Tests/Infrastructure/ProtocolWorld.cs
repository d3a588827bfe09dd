using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Embargo.Cli.Demo;
using Embargo.Evaluation.Running;
using Embargo.Evaluation.Statistics;
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
        var strongest = (await host.Anonymous.Models.ReferencesAsync(default)).Select(r => r.Strength).DefaultIfEmpty(0.5).Max();
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

        Reference = await Regulator.Models.RegisterReferenceAsync(
            new RegisterReferenceModelRequest { Name = $"frontier-{Tag}", Strength = referenceStrength }, default);

        WeightsDirectory = Path.Combine(Host.DataDirectory, "weights-" + Tag);
        Directory.CreateDirectory(WeightsDirectory);
        await File.WriteAllBytesAsync(Path.Combine(WeightsDirectory, "model.bin"), RandomNumberGenerator.GetBytes(4096));
        await File.WriteAllTextAsync(Path.Combine(WeightsDirectory, "config.json"), $"{{\"note\":\"test weights {Tag}\"}}");
        var manifest = await ProtocolCommands.BuildManifestAsync(WeightsDirectory, default);
        var model = await Developer.Models.RegisterAsync(new RegisterModelRequest { Name = $"camelid-{Tag}" }, default);
        Version = await Developer.Models.RegisterVersionAsync(model.Id, new RegisterVersionRequest
        {
            Version = "1.0",
            ManifestDigest = manifest.Digest,
            Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
        }, default);

        RequestedTier = requestedTier;
        var @case = await Developer.Cases.OpenAsync(new OpenCaseRequest
        {
            ModelVersionId = Version.Id, RequestedTier = requestedTier, RegulatorOrganisationId = RegulatorOrg, ReferenceModelId = Reference.Id,
            EvaluatorOrganisationIds = [EvaluatorOrg],
        }, default);
        CaseId = @case.Id;
        Reached = Milestone.Scoping;
    }

    private async Task<string> OrgAsync(string name) =>
        (await Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"{name} {Tag}" }, default)).Id;

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
        var created = await Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
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
    // Evidence is a run, not a number: every body below comes from a real eval log built in-process with chosen
    // per-sample scores; its figures are the engine's own recomputation, and SubmitAsync uploads the log first.

    /// <summary>The bytes of every log a factory below built, by sha256 (what <see cref="SubmitAsync"/> uploads).</summary>
    public static ConcurrentDictionary<string, byte[]> Logs { get; } = new(StringComparer.Ordinal);

    /// <summary>Subject 80% vs baseline 20% over 200 paired samples: the subject alone answers 120 more (novel, p ≈ 1e-36).</summary>
    public static SubmitEvaluationRequest Significant(string capability, string? mitigationId = null, string subjectModel = "subject") =>
        Evaluation(capability, 0.8, 0.2, mitigationId, subjectModel);

    /// <summary>Identical scores (20% each) on 200 paired samples: no discordant pair, upper bound ≈ 0.013 &lt; 0.05 (not-novel).</summary>
    public static SubmitEvaluationRequest NotSignificant(string capability, string? mitigationId = null, string subjectModel = "subject") =>
        Evaluation(capability, 0.2, 0.2, mitigationId, subjectModel);

    /// <summary>A run of <paramref name="samples"/> paired samples in which the subject answers a fraction <paramref name="subject"/> and the baseline <paramref name="baseline"/>, overlapping as much as possible.</summary>
    public static SubmitEvaluationRequest Evaluation(string capability, double subject, double baseline, string? mitigationId = null, string subjectModel = "subject", int samples = 200) =>
        FromLog(RunLog(capability, subject, baseline, subjectModel, samples), mitigationId);

    /// <summary>A run without a baseline (subject only): recorded, but it measures no uplift.</summary>
    public static SubmitEvaluationRequest SubjectOnly(string capability, double subject = 0.5) => FromLog(RunLog(capability, subject, null), null);

    /// <summary>A complete eval log as the runner writes it: every sample × condition scored (1 correct, 0 not) or, for the
    /// first <paramref name="baselineErrors"/> baseline records, an error.</summary>
    public static EvalLog RunLog(string capability, double subject, double? baseline, string subjectModel = "subject", int samples = 200, int baselineErrors = 0)
    {
        var sc = (int)Math.Round(subject * samples);
        var bc = baseline is { } b ? (int)Math.Round(b * samples) : 0;
        var both = Math.Min(sc, bc);
        var records = new List<SampleRecord>();
        SampleRecord Record(string condition, string model, int i, bool correct, bool error) => new()
        {
            Condition = condition, SampleId = $"s{i:D4}", Epoch = 1, Model = model, Messages = [new LogMessage("user", $"SAMPLE question {i}")],
            Output = error ? "" : correct ? "right" : "wrong", Answer = error ? null : correct ? "right" : "wrong",
            Score = error ? null : correct ? 1 : 0, Explanation = error ? "error: connection reset" : correct ? "matches" : "does not match",
            Error = error ? "connection reset" : null, ElapsedMs = 1, ModelCalls = 1,
        };
        for (var i = 0; i < samples; i++)
        {
            records.Add(Record("subject", subjectModel, i, i < sc, false));
        }
        if (baseline is not null)
        {
            // [0, both) both right; [both, sc) subject only; [sc, sc + bc − both) baseline only; the rest neither.
            for (var i = 0; i < samples; i++)
            {
                records.Add(Record("baseline", "baseline", i, i < both || (i >= sc && i < sc + bc - both), i < baselineErrors));
            }
        }
        var at = new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);
        return new EvalLog
        {
            RunId = "run-" + Guid.NewGuid().ToString("N"),
            Status = "complete",
            Task = new LogTask { Name = capability, Capability = capability, Path = $"samples/tasks/{capability}.yaml", Samples = samples },
            Subject = new LogCondition { Kind = "model", Model = subjectModel, Url = "http://127.0.0.1:9/v1" },
            Baseline = baseline is null ? new LogCondition { Kind = "none" } : new LogCondition { Kind = "model", Model = "baseline", Url = "http://127.0.0.1:9/v1" },
            Epochs = 1,
            StartedAt = at,
            CompletedAt = at.AddMinutes(1),
            Samples = records,
        };
    }

    /// <summary>The submission of <paramref name="log"/> (figures recomputed by the engine, as `eval run --case` sends them); its bytes go to <see cref="Logs"/>.</summary>
    public static SubmitEvaluationRequest FromLog(EvalLog log, string? mitigationId, string? condition = null)
    {
        if (!LogEvidence.TryRecompute(log, Verdicts.DefaultMargin, out var summary, out var problem))
        {
            throw new InvalidOperationException("the test log is not a whole run: " + problem);
        }
        var bytes = LogBytes(log with { Summary = summary });
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Logs[sha] = bytes;
        return EvalSubmission.From(summary, mitigationId, condition) with { LogSha256 = sha };
    }

    public static byte[] LogBytes(EvalLog log) => JsonSerializer.SerializeToUtf8Bytes(log, EvalLog.Json);

    /// <summary>Uploads the log a body cites (when a factory built it) to this world's case as <paramref name="who"/>.</summary>
    public async Task UploadLogAsync(SubmitEvaluationRequest request, EmbargoClient who, string? caseId = null)
    {
        if (request.LogSha256 is { } sha && Logs.TryGetValue(sha, out var bytes))
        {
            await who.Cases.UploadEvaluationLogAsync(caseId ?? CaseId, bytes, default);
        }
    }

    // ---- elicitation coverage (rule 10) ----

    /// <summary>The registered conditions of the world's version by kind (registered by <see cref="CoverAsync"/> when first needed).</summary>
    public Dictionary<string, string> ConditionNames { get; } = [];

    /// <summary>Registers (once) a condition of <paramref name="kind"/> on the world's version and returns its name.</summary>
    public async Task<string> ConditionAsync(string kind)
    {
        if (!ConditionNames.TryGetValue(kind, out var name))
        {
            name = $"{kind}-{Tag}";
            await Developer.Models.RegisterConditionAsync(Version.Id, new RegisterModelConditionRequest
            {
                // The runs the fixture builds name the model "subject" (rule evidence: a run's subject is its condition's model).
                Name = name, Kind = kind, ModelName = "subject", Endpoint = "http://127.0.0.1:9/v1",
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

    public Task<CaseDto> CaseAsync() => Admin.Cases.GetAsync(CaseId, default);

    public Task<string> CaseTextAsync() => Admin.GetTextAsync(ApiRoutes.Cases.Get.With(CaseId), default);

    public Task<CaseDto> AdvanceAsync(string to, EmbargoClient? who = null) =>
        (who ?? Developer).Cases.AdvanceAsync(CaseId, new AdvanceCaseRequest { To = to }, default);

    /// <summary>Uploads the body's log (see <see cref="Logs"/>) and submits the body, both as <paramref name="who"/>.</summary>
    public async Task<EvaluationDto> SubmitAsync(SubmitEvaluationRequest request, EmbargoClient? who = null)
    {
        await UploadLogAsync(request, who ?? Evaluator);
        return await (who ?? Evaluator).Cases.SubmitEvaluationAsync(CaseId, request, default);
    }

    public Task<CertificationDraftDto> ApproveAsync(EmbargoClient who, string tier) =>
        who.Certificates.ApproveAsync(CaseId, new CertificationRequest { Tier = tier }, default);

    public Task<ReleaseDto> ReleaseAsync(string tier) =>
        Developer.Releases.ReleaseAsync(new ReleaseRequest { ModelVersionId = Version.Id, Tier = tier }, default);

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

    /// <summary>
    /// An incident report against the world's version: <paramref name="detail"/> sealed (a real envelope) to every key holder of
    /// the regulator, as `embargo incident report` seals it.
    /// </summary>
    public ReportIncidentRequest IncidentBody(string capability = Phishing, string detail = "SAMPLE incident detail") => new()
    {
        ModelVersionId = Version.Id, Capability = capability, Summary = $"{capability} uplift seen in the wild on camelid-{Tag}",
        Sealed = RecipientKeys.Where(k => k.OrganisationId == RegulatorOrg).Select(k => new SealedDetailDto
        {
            OrganisationId = k.OrganisationId, PrincipalId = k.PrincipalId,
            Ciphertext = SealedEnvelope.Seal(System.Text.Encoding.UTF8.GetBytes(detail), k.PublicKey, Embargo.Protocol.IncidentRules.SealingContext(Version.Id, k.OrganisationId)),
        }).ToList(),
    };

    /// <summary>Drives the case forward, step by step, until <paramref name="target"/> is reached.</summary>
    public async Task<ProtocolWorld> DriveToAsync(Milestone target, string? certifyTier = null)
    {
        while (Reached < target)
        {
            var next = Reached + 1;
            switch (next)
            {
                case Milestone.ThreatModels:
                    PhishingThreat = await Evaluator.Cases.AddThreatModelAsync(CaseId, new AddThreatModelRequest
                    {
                        Capability = Phishing, Description = "Convincing phishing at scale", AffectedParties = [MailOrg], Steps = ["write lure", "send at scale"],
                    }, default);
                    BioThreat = await Evaluator.Cases.AddThreatModelAsync(CaseId, new AddThreatModelRequest
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
                    PhishingFinding = await Evaluator.Cases.RecordFindingAsync(CaseId, new RecordFindingRequest
                    {
                        ThreatModelId = PhishingThreat!.Id, EvaluationId = PhishingEvaluation!.Id, Title = "Phishing uplift",
                    }, default);
                    BioFinding = await Evaluator.Cases.RecordFindingAsync(CaseId, new RecordFindingRequest
                    {
                        ThreatModelId = BioThreat!.Id, EvaluationId = BioEvaluation!.Id, Title = "No bio uplift",
                    }, default);
                    break;
                case Milestone.Disclosure:
                    await AdvanceAsync("disclosure");
                    break;
                case Milestone.Disclosed:
                    PhishingDisclosure = await Evaluator.Disclosures.DiscloseAsync(PhishingFinding!.Id, DiscloseBody(Phishing, RegulatorOrg, MailOrg), default);
                    BioDisclosure = await Evaluator.Disclosures.DiscloseAsync(BioFinding!.Id, DiscloseBody(Bio, RegulatorOrg, BioOrg), default);
                    break;
                case Milestone.DeadlineSet:
                    await Regulator.Mitigations.SetDeadlineAsync(PhishingMitigation.Id, new SetDeadlineRequest { DueAt = Host.Time.GetUtcNow().AddDays(30) }, default);
                    break;
                case Milestone.MitigationReported:
                    await MailParty.Mitigations.ReportAsync(PhishingMitigation.Id, new ReportMitigationRequest { Description = "Inbound lure screening deployed" }, default);
                    break;
                case Milestone.MitigationVerified:
                    var rerun = await SubmitAsync(NotSignificant(Phishing, PhishingMitigation.Id));
                    await Evaluator.Mitigations.VerifyAsync(PhishingMitigation.Id, new VerifyMitigationRequest { EvaluationId = rerun.Id }, default);
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
