using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Embargo.Cli.Commands;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Walks every row of the Protocol's access table over HTTP with every role and relation, and checks each answer
/// against the table: allowed → neither 401 nor 403; refused → 403 naming the row's rule (401 without a token) and
/// nothing changed. The table drives it: a row without a driver here fails the test.
/// </summary>
public sealed class AccessMatrixTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    /// <summary>Which parties of the subject the endpoint judges the caller against.</summary>
    private enum Scope { Case, PhishingParty, Nothing, Version, Sighting }

    private sealed record Identity(string Name, string? Token, Actor? Actor, EmbargoClient? Client, SigningKey? Key);

    /// <summary>How an endpoint answers one action; <c>Hides</c>: it answers a refused caller 404 (no rule), as if the subject were not there.</summary>
    private sealed record Driver(Milestone World, Scope Scope, Func<Matrix, Identity, Task<HttpResponseMessage>> Send, bool Hides = false);

    /// <summary>One world and the callers that walk it.</summary>
    private sealed class Matrix(ProtocolWorld world, IReadOnlyList<Identity> identities)
    {
        public ProtocolWorld W { get; } = world;
        public IReadOnlyList<Identity> Identities { get; } = identities;
        public string DraftId { get; set; } = "";
        public string PendingCertificateId { get; set; } = "";
        /// <summary>Sightings of the world's version reported by <see cref="SightingReporter"/>: one pending, one confirmed, one confirmed and disputed.</summary>
        public string PendingSightingId { get; set; } = "";
        public string ConfirmedSightingId { get; set; } = "";
        public string DisputedSightingId { get; set; } = "";
        public string SightingReporter { get; set; } = "";
        /// <summary>An incident the phishing threat model's affected party reported against the released version.</summary>
        public string IncidentId { get; set; } = "";
        /// <summary>The statement bytes of each approved certificate, by certificate id.</summary>
        public Dictionary<string, byte[]> Statements { get; } = [];
        private int _counter;
        public string Unique(string stem) => $"{stem}-{W.Tag}-{Interlocked.Increment(ref _counter)}";

        public async Task<HttpResponseMessage> Send(Identity who, HttpMethod method, string path, object? body = null)
        {
            using var request = new HttpRequestMessage(method, new Uri(W.Host.Url, path));
            if (who.Token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", who.Token);
            }
            if (body is not null || method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(body ?? new { }, options: EmbargoClient.Json);
            }
            return await W.Host.Http.SendAsync(request);
        }

        public async Task<HttpResponseMessage> SendBytes(Identity who, string path, byte[] body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(W.Host.Url, path));
            if (who.Token is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", who.Token);
            }
            request.Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };
            return await W.Host.Http.SendAsync(request);
        }
    }

    private static readonly IReadOnlyDictionary<ProtocolAction, Driver> Drivers = new Dictionary<ProtocolAction, Driver>
    {
        // Scoping: threat models and commitments.
        [ProtocolAction.ProposeThreatModelDraft] = new(Milestone.Scoping, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/threat-model-drafts",
            new DraftThreatModelRequest { Capability = m.Unique("draft"), Description = "drafted", Steps = ["a step"], ReferenceModel = m.W.Reference.Name })),
        [ProtocolAction.AddAcceptedThreatModel] = new(Milestone.Scoping, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/threat-models",
            new AddThreatModelRequest { Capability = m.Unique("direct"), Description = "direct", AffectedParties = [m.W.MailOrg], Steps = ["a step"] })),
        [ProtocolAction.AcceptThreatModel] = new(Milestone.Scoping, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/threat-models/{m.DraftId}/accept",
            new AcceptThreatModelRequest { AffectedParties = [m.W.MailOrg] })),
        [ProtocolAction.AddCommitment] = new(Milestone.Scoping, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/commitments",
            new AddCommitmentRequest { Expression = "uplift(\"cyber-phishing\") >= 0.5 => max_tier(staged)" })),

        // Reflection: evidence and findings (advancing last: it moves the case on).
        [ProtocolAction.SubmitEvaluation] = new(Milestone.Reflection, Scope.Case, async (m, who) =>
        {
            // A fresh run each time, its log uploaded (as the caller) before the evaluation cites it.
            var body = ProtocolWorld.NotSignificant(ProtocolWorld.Phishing);
            using var upload = await m.SendBytes(who, $"/api/cases/{m.W.CaseId}/evaluation-logs", ProtocolWorld.Logs[body.LogSha256!]);
            return await m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/evaluations", body);
        }),
        [ProtocolAction.RecordNovelFinding] = new(Milestone.Reflection, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/findings",
            new RecordFindingRequest { ThreatModelId = m.W.PhishingThreat!.Id, EvaluationId = m.W.PhishingEvaluation!.Id, Title = "phishing uplift" })),
        [ProtocolAction.RecordNotNovelFinding] = new(Milestone.Reflection, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/findings",
            new RecordFindingRequest { ThreatModelId = m.W.BioThreat!.Id, EvaluationId = m.W.BioEvaluation!.Id, Title = "no bio uplift" })),
        [ProtocolAction.ReevaluateCase] = new(Milestone.Reflection, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/reference",
            new ReevaluateCaseRequest { ReferenceModelId = m.W.Reference.Id })),
        [ProtocolAction.AdvanceCase] = new(Milestone.Reflection, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/advance",
            new AdvanceCaseRequest { To = "disclosure" })),

        // Disclosure and mitigation.
        [ProtocolAction.Disclose] = new(Milestone.MitigationReported, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/findings/{m.W.PhishingFinding!.Id}/disclosures",
            m.W.DiscloseBody(ProtocolWorld.Phishing, m.W.RegulatorOrg, m.W.MailOrg))),
        [ProtocolAction.ReadRecipientKeys] = new(Milestone.MitigationReported, Scope.Case, (m, who) => m.Send(who, HttpMethod.Get, $"/api/findings/{m.W.PhishingFinding!.Id}/recipients")),
        [ProtocolAction.Acknowledge] = new(Milestone.MitigationReported, Scope.PhishingParty, (m, who) => m.Send(who, HttpMethod.Post, $"/api/disclosures/{m.W.PhishingDisclosure!.Id}/acknowledge")),
        [ProtocolAction.SetDeadline] = new(Milestone.MitigationReported, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/mitigations/{m.W.PhishingMitigation.Id}/deadline",
            new SetDeadlineRequest { DueAt = m.W.Host.Time.GetUtcNow().AddDays(40) })),
        [ProtocolAction.ReportMitigation] = new(Milestone.MitigationReported, Scope.PhishingParty, (m, who) => m.Send(who, HttpMethod.Post, $"/api/mitigations/{m.W.PhishingMitigation.Id}/report",
            new ReportMitigationRequest { Description = "screening, again" })),
        [ProtocolAction.VerifyMitigation] = new(Milestone.MitigationReported, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/mitigations/{m.W.PhishingMitigation.Id}/verify",
            new VerifyMitigationRequest { EvaluationId = m.W.PhishingEvaluation!.Id })),
        [ProtocolAction.Fine] = new(Milestone.MitigationReported, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/mitigations/{m.W.PhishingMitigation.Id}/fines",
            new FineRequest { Amount = 1000, Currency = "EUR", Reason = "late" })),
        [ProtocolAction.Escalate] = new(Milestone.MitigationReported, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Post, "/api/mitigations/escalations")),

        // Certification: everything else; the moves that end the case come last.
        [ProtocolAction.Administer] = new(Milestone.Certification, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Post, "/api/admin/organisations",
            new CreateOrganisationRequest { Name = m.Unique("org") })),
        [ProtocolAction.RegisterModel] = new(Milestone.Certification, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Post, "/api/models",
            new RegisterModelRequest { Name = m.Unique("model") })),
        [ProtocolAction.RegisterVersion] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/models/{m.W.Version.ModelId}/versions",
            new RegisterVersionRequest { Version = "2.0", ManifestDigest = "sha256:" + new string('0', 64), Files = [] })),
        [ProtocolAction.RegisterCondition] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/conditions",
            new RegisterModelConditionRequest { Name = m.Unique("cond"), Kind = "fine-tuned", ModelName = "ft", Endpoint = "http://127.0.0.1:9/v1" })),
        // The world's version is used by its case: the developer is let through the table and refused by case-phase (409).
        [ProtocolAction.WithdrawVersion] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/withdraw",
            new WithdrawVersionRequest { Reason = "registered by mistake" })),
        [ProtocolAction.RegisterReferenceModel] = new(Milestone.Certification, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Post, "/api/reference-models",
            new RegisterReferenceModelRequest { Name = m.Unique("weak-reference"), Strength = 0.01 })),
        [ProtocolAction.OpenCase] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, "/api/cases", new OpenCaseRequest
        {
            ModelVersionId = m.W.Version.Id, RequestedTier = "hosted", RegulatorOrganisationId = m.W.RegulatorOrg, ReferenceModelId = m.W.Reference.Id,
            EvaluatorOrganisationIds = [m.W.EvaluatorOrg],
        })),
        [ProtocolAction.ReportViolation] = new(Milestone.Certification, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Post, "/api/violations",
            new ReportViolationRequest
            {
                ObservedTier = "open", Source = "seen somewhere",
                Evidence = new SightingEvidenceDto { ManifestDigest = m.W.Version.ManifestDigest, Files = m.W.Version.Files },
            })),
        [ProtocolAction.GrantWeights] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/grants",
            new GrantRequest { PrincipalId = "prn_nobody" })),
        [ProtocolAction.DepositKeys] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/wrapped-keys",
            new DepositKeysRequest { SealId = "seal", ManifestDigest = "sha256:" + new string('a', 64), Keys = [] })),
        [ProtocolAction.ReleaseKey] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/key-requests")),
        [ProtocolAction.GrantGatewayAccess] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/gateway-grants",
            new GatewayGrantRequest { PrincipalId = m.W.PrincipalIds[m.W.Evaluator], RequestsPerMinute = 60 })),
        [ProtocolAction.AttachGatewayScreen] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/model-versions/{m.W.Version.Id}/gateway-screens",
            new GatewayScreenRequest { Name = m.Unique("screen"), ApplyTo = ["output"], Keywords = ["credential harvesting kit"] })),
        [ProtocolAction.AppendGatewayAuditBatch] = new(Milestone.Certification, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Post, "/api/gateway/audit-batches",
            new AuditBatchRequest { Gateway = "matrix", FirstLine = 0, Lines = 1, Root = new string('a', 64) })),
        [ProtocolAction.ReadPublic] = new(Milestone.Certification, Scope.Nothing, (m, who) => m.Send(who, HttpMethod.Get, "/api/public/advisories")),
        [ProtocolAction.ReadCase] = new(Milestone.Certification, Scope.Case, (m, who) => m.Send(who, HttpMethod.Get, $"/api/cases/{m.W.CaseId}")),
        [ProtocolAction.ReadVersion] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Get, $"/api/model-versions/{m.W.Version.Id}")),
        [ProtocolAction.ReadConditions] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Get, $"/api/model-versions/{m.W.Version.Id}/conditions")),
        [ProtocolAction.ReadEvaluationLog] = new(Milestone.Certification, Scope.Case, (m, who) => m.Send(who, HttpMethod.Get, $"/api/evaluations/{m.W.PhishingEvaluation!.Id}/log")),
        [ProtocolAction.ApproveCertification] = new(Milestone.Certification, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/certification",
            new CertificationRequest { Tier = "hosted" })),
        [ProtocolAction.Release] = new(Milestone.Certification, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, "/api/releases",
            new ReleaseRequest { ModelVersionId = m.W.Version.Id, Tier = "hosted" })),
        [ProtocolAction.SignCertificate] = new(Milestone.Certification, Scope.Case, SignAsync),
        [ProtocolAction.Deny] = new(Milestone.Certification, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/deny",
            new DenyRequest { Reason = "no plausible mitigation" })),
        [ProtocolAction.LiftDenial] = new(Milestone.Certification, Scope.Case, (m, who) => m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/lift-denial",
            new LiftDenialRequest { Reason = "screening deployed by every provider" })),

        // Sightings of the version (reading the pending one first: once confirmed it is public).
        [ProtocolAction.ReadSighting] = new(Milestone.Certification, Scope.Sighting, (m, who) => m.Send(who, HttpMethod.Get, $"/api/violations/{m.PendingSightingId}"), Hides: true),
        [ProtocolAction.DecideSighting] = new(Milestone.Certification, Scope.Sighting, (m, who) => m.Send(who, HttpMethod.Post, $"/api/violations/{m.PendingSightingId}/confirm",
            new ViolationDecisionRequest { Reason = "the files match the registered weights" })),
        [ProtocolAction.DisputeViolation] = new(Milestone.Certification, Scope.Sighting, (m, who) => m.Send(who, HttpMethod.Post, $"/api/violations/{m.ConfirmedSightingId}/dispute",
            new DisputeViolationRequest { Statement = "seeded from a stolen laptop" })),
        [ProtocolAction.DecideDispute] = new(Milestone.Certification, Scope.Sighting, (m, who) => m.Send(who, HttpMethod.Post, $"/api/violations/{m.DisputedSightingId}/dispute/decision",
            new DecideDisputeRequest { Outcome = "rejected", Reason = "the police report does not match" })),
        [ProtocolAction.LiftMark] = new(Milestone.Certification, Scope.Sighting, (m, who) => m.Send(who, HttpMethod.Post, $"/api/bad-actors/{m.W.DeveloperOrg}/lift",
            new LiftMarkRequest { Reason = "weights withdrawn; fine paid" })),

        // Incidents against the released version.
        [ProtocolAction.ReportIncident] = new(Milestone.Certified, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, "/api/incidents", m.W.IncidentBody())),
        [ProtocolAction.TriageIncident] = new(Milestone.Certified, Scope.Version, (m, who) => m.Send(who, HttpMethod.Post, $"/api/incidents/{m.IncidentId}/triage",
            new TriageIncidentRequest { Decision = "reject", Reason = "the transcript shows a different model" })),
    };

    /// <summary>
    /// A certifier that may approve signs its own approval with its own key (so only the table can refuse it);
    /// anyone else tries to sign the pending certificate another certifier approved, with that certifier's key.
    /// </summary>
    private static async Task<HttpResponseMessage> SignAsync(Matrix m, Identity who)
    {
        var certificateId = m.PendingCertificateId;
        var key = m.W.CertifierKey;
        if (who.Client is not null && who.Key is not null && Access.Allows(ProtocolAction.ApproveCertification, who.Actor, await SubjectAsync(m, Scope.Case)))
        {
            // The approval itself may be refused by a rule (a case has one certificate): that answer is the caller's.
            var approval = await m.Send(who, HttpMethod.Post, $"/api/cases/{m.W.CaseId}/certification", new CertificationRequest { Tier = "hosted" });
            if (!approval.IsSuccessStatusCode)
            {
                return approval;
            }
            var draft = (await approval.Content.ReadFromJsonAsync<CertificationDraftDto>(EmbargoClient.Json))!;
            approval.Dispose();
            m.Statements[draft.CertificateId] = Convert.FromBase64String(draft.Statement);
            certificateId = draft.CertificateId;
            key = who.Key;
        }
        var envelope = DsseEnvelope.Sign(m.Statements[certificateId], DsseEnvelope.InTotoPayloadType, key);
        return await m.Send(who, HttpMethod.Post, $"/api/certificates/{certificateId}/signature", new SubmitCertificateRequest { Envelope = envelope.ToJson() });
    }

    [Fact]
    public void EveryRowOfTheTableHasADriverAndEveryDriverARow()
    {
        Assert.Equal(Access.Table.Select(r => r.Action).Order(), Drivers.Keys.Order());
    }

    [Fact]
    public Task ScopingActionsAnswerAsTheTableSays() => WalkAsync(Milestone.Scoping);

    [Fact]
    public Task ReflectionActionsAnswerAsTheTableSays() => WalkAsync(Milestone.Reflection);

    [Fact]
    public Task DisclosureAndMitigationActionsAnswerAsTheTableSays() => WalkAsync(Milestone.MitigationReported);

    [Fact]
    public Task CertificationAndVersionActionsAnswerAsTheTableSays() => WalkAsync(Milestone.Certification);

    [Fact]
    public Task IncidentActionsOnAReleasedVersionAnswerAsTheTableSays() => WalkAsync(Milestone.Certified);

    private async Task WalkAsync(Milestone milestone)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var m = new Matrix(w, await IdentitiesAsync(w));
        if (milestone == Milestone.Scoping)
        {
            m.DraftId = (await w.Developer.Cases.DraftThreatModelAsync(w.CaseId, new DraftThreatModelRequest
            {
                Capability = "cyber-phishing", Description = "phishing", Steps = ["write lure"], ReferenceModel = w.Reference.Name,
            }, default)).Id;
        }
        await w.DriveToAsync(milestone);
        if (milestone == Milestone.Certification)
        {
            var draft = await w.ApproveAsync(w.Certifier, "hosted");
            m.PendingCertificateId = draft.CertificateId;
            m.Statements[draft.CertificateId] = Convert.FromBase64String(draft.Statement);
            await ReportSightingsAsync(m);
        }
        if (milestone == Milestone.Certified)
        {
            await w.ReleaseAsync("hosted");
            m.IncidentId = (await w.MailParty.Incidents.ReportAsync(w.IncidentBody(), default)).Id;
        }

        var failures = new List<string>();
        var rows = Access.Table.Where(r => Drivers[r.Action].World == milestone).OrderBy(r => Drivers.Keys.ToList().IndexOf(r.Action)).ToList();
        Assert.NotEmpty(rows);
        foreach (var row in rows)
        {
            var driver = Drivers[row.Action];
            // Refusals first: they must change nothing, so the allowed calls that follow see the same world.
            var expectations = new List<(Identity Who, bool Allowed)>();
            foreach (var who in m.Identities)
            {
                expectations.Add((who, Access.Allows(row.Action, who.Actor, await SubjectAsync(m, driver.Scope))));
            }
            foreach (var (who, _) in expectations.Where(e => !e.Allowed))
            {
                var size = await LedgerSizeAsync(Host);
                var before = await w.CaseTextAsync();
                using var response = await driver.Send(m, who);
                var status = (int)response.StatusCode;
                var expected = driver.Hides ? 404 : who.Token is null ? 401 : 403;
                var rule = await RuleOfAsync(response);
                var expectedRule = driver.Hides ? null : Access.Decide(row.Action, who.Actor, await SubjectAsync(m, driver.Scope))!.Rule;
                if (status != expected || (who.Token is not null && rule != expectedRule))
                {
                    failures.Add($"{row.Action} by {who.Name}: the table refuses it, expected {expected} [{expectedRule}] but got {status} [{rule}]: {await response.Content.ReadAsStringAsync()}");
                }
                if (await LedgerSizeAsync(Host) != size || await w.CaseTextAsync() != before)
                {
                    failures.Add($"{row.Action} by {who.Name}: refused, but the ledger or the case changed");
                }
            }
            foreach (var (who, _) in expectations.Where(e => e.Allowed))
            {
                using var response = await driver.Send(m, who);
                if (response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
                {
                    failures.Add($"{row.Action} by {who.Name}: the table allows it, but got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
                else if ((int)response.StatusCode >= 500)
                {
                    failures.Add($"{row.Action} by {who.Name}: server error {(int)response.StatusCode}");
                }
            }
            Assert.True(expectations.Any(e => e.Allowed) || row.Action == ProtocolAction.ReleaseKey, $"nobody in the matrix may {row.Action}: the walk would test only refusals");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Another independent certifier reports three sightings of the world's version; the case's regulator confirms two, the developer disputes one.</summary>
    private static async Task ReportSightingsAsync(Matrix m)
    {
        var w = m.W;
        var reporter = m.Identities.Single(i => i.Name == "another independent certifier");
        m.SightingReporter = reporter.Actor!.Principal;
        async Task<string> Report() => (await reporter.Client!.Violations.ReportAsync(new ReportViolationRequest
        {
            ObservedTier = "open", Source = "seen on a torrent",
            Evidence = new SightingEvidenceDto { ManifestDigest = w.Version.ManifestDigest, Files = w.Version.Files },
        }, default)).Id;
        async Task<string> Confirmed()
        {
            var id = await Report();
            await w.Regulator.Violations.ConfirmAsync(id, new ViolationDecisionRequest { Reason = "the files match" }, default);
            return id;
        }
        m.PendingSightingId = await Report();
        m.ConfirmedSightingId = await Confirmed();
        m.DisputedSightingId = await Confirmed();
        await w.Developer.Violations.DisputeAsync(m.DisputedSightingId, new DisputeViolationRequest { Statement = "not our leak" }, default);
    }

    private static async Task<string?> RuleOfAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length > 0 && text[0] == '{' && JsonNode.Parse(text) is JsonObject o && o["rule"] is JsonValue v ? v.GetValue<string>() : null;
    }

    /// <summary>The subject's parties as the server sees them now, read back over HTTP.</summary>
    private static async Task<Subject> SubjectAsync(Matrix m, Scope scope)
    {
        var w = m.W;
        var c = await w.CaseAsync();
        var open = c.State is "certification" or "released";
        var parties = c.ThreatModels.Where(t => t.Status == "accepted").SelectMany(t => t.AffectedParties).Distinct().ToList();
        return scope switch
        {
            Scope.Nothing => Subject.None,
            // A sighting of the world's version: its developer, the regulators of its cases, its reporter.
            Scope.Sighting => new Subject
            {
                DeveloperOrganisation = c.DeveloperOrganisationId, RegulatorOrganisations = [c.RegulatorOrganisationId], Reporters = [m.SightingReporter],
            },
            Scope.PhishingParty => new Subject
            {
                DeveloperOrganisation = c.DeveloperOrganisationId, EvaluatorOrganisations = c.EvaluatorOrganisationIds,
                RegulatorOrganisations = [c.RegulatorOrganisationId], AffectedParties = [w.MailOrg], OpenToCertifiers = open,
            },
            // Every case of the world's version names the same parties (the matrix opens only such cases).
            _ => new Subject
            {
                DeveloperOrganisation = c.DeveloperOrganisationId, EvaluatorOrganisations = c.EvaluatorOrganisationIds,
                RegulatorOrganisations = [c.RegulatorOrganisationId], AffectedParties = parties, OpenToCertifiers = open,
            },
        };
    }

    private async Task<IReadOnlyList<Identity>> IdentitiesAsync(ProtocolWorld w)
    {
        async Task<Identity> Of(string name, EmbargoClient client, Role role, string organisation, SigningKey? key = null)
        {
            var me = await client.Organisations.MeAsync(default);
            return new Identity(name, w.Tokens[client], new Actor(me["principalId"]!.GetValue<string>(), organisation, role), client, key);
        }
        async Task<Identity> Outsider(string name, Role role)
        {
            var org = await w.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = $"{name} {w.Tag}" }, default);
            var created = await w.Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest { OrganisationId = org.Id, Name = name, Role = role.Name() }, default);
            var client = w.Admin.As(created.Token);
            w.Tokens[client] = created.Token;
            return await Of(name, client, role, org.Id);
        }
        return
        [
            await Of("developer", w.Developer, Role.Developer, w.DeveloperOrg),
            await Of("another lab's developer", w.OtherDeveloper, Role.Developer, w.OtherDeveloperOrg),
            await Of("assigned evaluator", w.Evaluator, Role.Evaluator, w.EvaluatorOrg),
            await Outsider("unassigned evaluator", Role.Evaluator),
            await Of("the case's regulator", w.Regulator, Role.Regulator, w.RegulatorOrg),
            await Of("another regulator", w.OtherRegulator, Role.Regulator, w.OtherRegulatorOrg),
            await Of("the phishing threat model's affected party", w.MailParty, Role.AffectedParty, w.MailOrg),
            await Of("the bio threat model's affected party", w.BioParty, Role.AffectedParty, w.BioOrg),
            await Outsider("an unrelated affected party", Role.AffectedParty),
            await Of("independent certifier", w.Certifier, Role.Certifier, w.CertifierOrg, w.CertifierKey),
            await Of("another independent certifier", w.OtherCertifier, Role.Certifier, w.OtherCertifierOrg, w.OtherCertifierKey),
            await Of("in-house certifier", w.InHouseCertifier, Role.Certifier, w.DeveloperOrg, w.InHouseKey),
            new Identity("admin", w.Host.AdminToken, new Actor("admin", "embargo", Role.Admin), w.Admin, null),
            new Identity("anonymous", null, null, null, null),
        ];
    }
}
