using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Text;

namespace Embargo.Contracts;

/// <summary>A refusal or error from the Embargo server, as its ProblemDetails said it.</summary>
public sealed class ApiException(HttpStatusCode status, string title, string detail, string? rule)
    : Exception(rule is null ? detail : $"{detail} [{rule}]")
{
    public HttpStatusCode Status { get; } = status;
    public string Title { get; } = title;
    public string Detail { get; } = detail;
    public string? Rule { get; } = rule;

    /// <summary>Malformed input or a missing thing is bad input (exit 2); a refusal by role or rule is a failed check (exit 1).</summary>
    public bool IsBadInput => Status is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Unauthorized;
}

/// <summary>The server could not be reached, or answered with something that is not the contract's JSON.</summary>
public sealed class ServerUnavailableException(string message) : Exception(message);

/// <summary>
/// Typed client for the Embargo API, one method per endpoint, grouped by area: <c>api.Cases.OpenAsync(request)</c>,
/// <c>api.Mitigations.VerifyAsync(id, request)</c>, <c>api.Ledger.LeavesAsync(start)</c>. JSON in and out,
/// ProblemDetails mapped to <see cref="ApiException"/>, an unreachable server to <see cref="ServerUnavailableException"/>.
/// <see cref="As"/> gives the same client for another principal.
/// <para>
/// Adding an endpoint: write its route once in <see cref="ApiRoutes"/> (method and the server's template), then one
/// method in its area here: <c>public Task&lt;XDto&gt; DoAsync(string id, XRequest request, CancellationToken ct = default)
/// =&gt; c.SendAsync&lt;XDto&gt;(ApiRoutes.Area.Do.With(id), request, ct);</c>. ApiRouteTests fails until both exist.
/// </para>
/// <para>
/// <see cref="SendAsync{T}"/> and <see cref="GetTextAsync"/> send any body to a route of <see cref="ApiRoutes"/>: for
/// callers that need what the typed methods do not give (the exact response text, a deliberately odd body). There is
/// no way to send to a path typed by hand; tests that must (unknown paths, raw bytes) use an HttpClient.
/// </para>
/// </summary>
public sealed class EmbargoClient : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http;
    private readonly string? _token;

    public EmbargoClient(Uri server, string? token, HttpClient? http = null)
    {
        Server = server;
        _token = token;
        _http = http ?? new HttpClient { Timeout = TimeSpan.FromSeconds(100) };
        Service = new ServiceApi(this);
        Admin = new AdminApi(this);
        Organisations = new OrganisationsApi(this);
        Models = new ModelsApi(this);
        Weights = new WeightsApi(this);
        Cases = new CasesApi(this);
        Disclosures = new DisclosuresApi(this);
        Mitigations = new MitigationsApi(this);
        Certificates = new CertificatesApi(this);
        Releases = new ReleasesApi(this);
        Violations = new ViolationsApi(this);
        Incidents = new IncidentsApi(this);
        Ledger = new LedgerApi(this);
        Gateway = new GatewayApi(this);
        Evaluations = new EvaluationsApi(this);
    }

    public Uri Server { get; }

    public EmbargoClient As(string? otherToken) => new(Server, otherToken, _http);

    /// <summary>Whether requests carry an API token (public reads do not need one).</summary>
    public bool HasToken => _token is not null;

    public ServiceApi Service { get; }
    public AdminApi Admin { get; }
    public OrganisationsApi Organisations { get; }
    public ModelsApi Models { get; }
    public WeightsApi Weights { get; }
    public CasesApi Cases { get; }
    public DisclosuresApi Disclosures { get; }
    public MitigationsApi Mitigations { get; }
    public CertificatesApi Certificates { get; }
    public ReleasesApi Releases { get; }
    public ViolationsApi Violations { get; }
    public IncidentsApi Incidents { get; }
    public LedgerApi Ledger { get; }
    public GatewayApi Gateway { get; }
    public EvaluationsApi Evaluations { get; }

    /// <summary>Sends <paramref name="call"/> (a POST always carries a body, <c>{}</c> when none) and reads the JSON answer.</summary>
    public Task<T> SendAsync<T>(ApiCall call, object? body, CancellationToken ct) =>
        SendAsync<T>(new HttpMethod(call.Method), call.Path, call.Method == "POST" ? body ?? new { } : body, ct);

    /// <summary>Sends <paramref name="call"/> with raw bytes as its body (e.g. a run's log) and reads the JSON answer.</summary>
    public Task<T> SendBytesAsync<T>(ApiCall call, byte[] body, string mediaType, CancellationToken ct) =>
        SendAsync<T>(new HttpMethod(call.Method), call.Path, new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } }, ct);

    /// <summary>Sends <paramref name="call"/> and returns the answer's bytes as they came.</summary>
    public async Task<byte[]> GetBytesAsync(ApiCall call, CancellationToken ct)
    {
        using var response = await SendRawAsync(new HttpMethod(call.Method), call.Path, null, ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    /// <summary>Sends <paramref name="call"/> and returns the answer's text as it came.</summary>
    public async Task<string> GetTextAsync(ApiCall call, CancellationToken ct)
    {
        using var response = await SendRawAsync(new HttpMethod(call.Method), call.Path, call.Method == "POST" ? new { } : null, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var response = await SendRawAsync(method, path, body, ct);
        try
        {
            return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
        }
        catch (JsonException e)
        {
            throw new ServerUnavailableException($"the server at {Server} answered {path} with something that is not the expected JSON: {JsonErrorText.Describe(e)}");
        }
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(Server, path));
        if (_token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        }
        if (body is HttpContent content)
        {
            request.Content = content;
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        }
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new ServerUnavailableException($"cannot reach the Embargo server at {Server}: {e.Message}");
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            string title = response.ReasonPhrase ?? "error", detail = text, rule = "";
            try
            {
                if (JsonNode.Parse(text) is JsonObject problem)
                {
                    title = problem["title"]?.GetValue<string>() ?? title;
                    detail = problem["detail"]?.GetValue<string>() ?? title;
                    rule = problem["rule"]?.GetValue<string>() ?? "";
                }
            }
            catch (JsonException)
            {
            }
            throw new ApiException(response.StatusCode, title, string.IsNullOrWhiteSpace(detail) ? $"{(int)response.StatusCode} {title}" : detail, rule.Length == 0 ? null : rule);
        }
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The service's own endpoints: health, metrics, the OpenAPI document.</summary>
public sealed class ServiceApi(EmbargoClient c)
{
    public Task<string> HealthAsync(CancellationToken ct = default) => c.GetTextAsync(ApiRoutes.Service.Health.With(), ct);
    public Task<string> MetricsAsync(CancellationToken ct = default) => c.GetTextAsync(ApiRoutes.Service.Metrics.With(), ct);
    public Task<string> OpenApiAsync(string documentName = "v1", CancellationToken ct = default) => c.GetTextAsync(ApiRoutes.Service.OpenApi.With(documentName), ct);
}

/// <summary>Administration (the admin token): organisations and principals.</summary>
public sealed class AdminApi(EmbargoClient c)
{
    public Task<OrganisationDto> CreateOrganisationAsync(CreateOrganisationRequest request, CancellationToken ct = default) => c.SendAsync<OrganisationDto>(ApiRoutes.Admin.CreateOrganisation.With(), request, ct);
    public Task<PrincipalCreatedDto> CreatePrincipalAsync(CreatePrincipalRequest request, CancellationToken ct = default) => c.SendAsync<PrincipalCreatedDto>(ApiRoutes.Admin.CreatePrincipal.With(), request, ct);
    public Task<PrincipalCreatedDto> RotateTokenAsync(string principalId, CancellationToken ct = default) => c.SendAsync<PrincipalCreatedDto>(ApiRoutes.Admin.RotateToken.With(principalId), null, ct);
    public Task<PrincipalCreatedDto> RevokeTokenAsync(string principalId, CancellationToken ct = default) => c.SendAsync<PrincipalCreatedDto>(ApiRoutes.Admin.RevokeToken.With(principalId), null, ct);
}

public sealed class OrganisationsApi(EmbargoClient c)
{
    /// <summary>The calling principal (principalId, organisationId, role) as the server reports it.</summary>
    public Task<JsonObject> MeAsync(CancellationToken ct = default) => c.SendAsync<JsonObject>(ApiRoutes.Organisations.Me.With(), null, ct);
    public Task<List<OrganisationDto>> ListAsync(CancellationToken ct = default) => c.AllAsync<OrganisationDto>(ApiRoutes.Organisations.List.With(), ct);
    public Task<List<BadActorDto>> BadActorsAsync(CancellationToken ct = default) => c.AllAsync<BadActorDto>(ApiRoutes.Organisations.BadActors.With(), ct);
    public Task<BadActorDto> LiftMarkAsync(string organisationId, LiftMarkRequest request, CancellationToken ct = default) => c.SendAsync<BadActorDto>(ApiRoutes.Organisations.LiftMark.With(organisationId), request, ct);
}

public sealed class ModelsApi(EmbargoClient c)
{
    public Task<ModelDto> RegisterAsync(RegisterModelRequest request, CancellationToken ct = default) => c.SendAsync<ModelDto>(ApiRoutes.Models.Register.With(), request, ct);
    public Task<ModelVersionDto> RegisterVersionAsync(string modelId, RegisterVersionRequest request, CancellationToken ct = default) => c.SendAsync<ModelVersionDto>(ApiRoutes.Models.RegisterVersion.With(modelId), request, ct);
    public Task<ModelVersionDto> GetVersionAsync(string versionId, CancellationToken ct = default) => c.SendAsync<ModelVersionDto>(ApiRoutes.Models.GetVersion.With(versionId), null, ct);
    public Task<ModelConditionDto> RegisterConditionAsync(string versionId, RegisterModelConditionRequest request, CancellationToken ct = default) => c.SendAsync<ModelConditionDto>(ApiRoutes.Models.RegisterCondition.With(versionId), request, ct);
    public Task<List<ModelConditionDto>> ConditionsAsync(string versionId, CancellationToken ct = default) => c.AllAsync<ModelConditionDto>(ApiRoutes.Models.Conditions.With(versionId), ct);
    public Task<ReferenceModelDto> RegisterReferenceAsync(RegisterReferenceModelRequest request, CancellationToken ct = default) => c.SendAsync<ReferenceModelDto>(ApiRoutes.Models.RegisterReference.With(), request, ct);
    public Task<List<ReferenceModelDto>> ReferencesAsync(CancellationToken ct = default) => c.AllAsync<ReferenceModelDto>(ApiRoutes.Models.References.With(), ct);
    public Task<WeightsStatusDto> WeightsStatusAsync(string manifestDigest, CancellationToken ct = default) => c.SendAsync<WeightsStatusDto>(ApiRoutes.Models.WeightsStatus.With(manifestDigest), null, ct);
    /// <summary>The models the caller can see: its organisation's, and those with a version it takes part in.</summary>
    public Task<List<ModelDto>> ListAsync(CancellationToken ct = default) => c.AllAsync<ModelDto>(ApiRoutes.Models.List.With(), ct);
    /// <summary>A model's versions, oldest first, withdrawn ones included.</summary>
    public Task<List<ModelVersionDto>> VersionsAsync(string modelId, CancellationToken ct = default) => c.AllAsync<ModelVersionDto>(ApiRoutes.Models.Versions.With(modelId), ct);
    public Task<ModelVersionDto> WithdrawVersionAsync(string versionId, WithdrawVersionRequest request, CancellationToken ct = default) => c.SendAsync<ModelVersionDto>(ApiRoutes.Models.WithdrawVersion.With(versionId), request, ct);
}

/// <summary>Structured access to a version's sealed weights: grants, wrapped keys, key release.</summary>
public sealed class WeightsApi(EmbargoClient c)
{
    public Task<GrantDto> GrantAsync(string versionId, GrantRequest request, CancellationToken ct = default) => c.SendAsync<GrantDto>(ApiRoutes.Weights.Grant.With(versionId), request, ct);
    public Task<DepositKeysDto> DepositKeysAsync(string versionId, DepositKeysRequest request, CancellationToken ct = default) => c.SendAsync<DepositKeysDto>(ApiRoutes.Weights.DepositKeys.With(versionId), request, ct);
    public Task<KeyReleaseDto> RequestKeyAsync(string versionId, CancellationToken ct = default) => c.SendAsync<KeyReleaseDto>(ApiRoutes.Weights.RequestKey.With(versionId), null, ct);
}

public sealed class CasesApi(EmbargoClient c)
{
    public Task<CaseDto> OpenAsync(OpenCaseRequest request, CancellationToken ct = default) => c.SendAsync<CaseDto>(ApiRoutes.Cases.Open.With(), request, ct);
    /// <summary>The cases the caller takes part in, optionally only those in <paramref name="state"/>.</summary>
    public Task<List<CaseSummaryDto>> ListAsync(string? state = null, CancellationToken ct = default) => c.AllAsync<CaseSummaryDto>(ApiRoutes.Cases.List.With().Query(("state", state)), ct);
    /// <summary>The case's threat-model drafts in creation order, every page (the case view carries the first hundred).</summary>
    public Task<List<ThreatModelDto>> DraftsAsync(string caseId, CancellationToken ct = default) => c.AllAsync<ThreatModelDto>(ApiRoutes.Cases.Drafts.With(caseId), ct);
    public Task<CaseDto> GetAsync(string caseId, CancellationToken ct = default) => c.SendAsync<CaseDto>(ApiRoutes.Cases.Get.With(caseId), null, ct);
    public Task<ThreatModelDto> AddThreatModelAsync(string caseId, AddThreatModelRequest request, CancellationToken ct = default) => c.SendAsync<ThreatModelDto>(ApiRoutes.Cases.AddThreatModel.With(caseId), request, ct);
    public Task<ThreatModelDto> DraftThreatModelAsync(string caseId, DraftThreatModelRequest request, CancellationToken ct = default) => c.SendAsync<ThreatModelDto>(ApiRoutes.Cases.DraftThreatModel.With(caseId), request, ct);
    public Task<ThreatModelDto> AcceptThreatModelAsync(string caseId, string threatModelId, AcceptThreatModelRequest request, CancellationToken ct = default) => c.SendAsync<ThreatModelDto>(ApiRoutes.Cases.AcceptThreatModel.With(caseId, threatModelId), request, ct);
    public Task<CaseDto> AdvanceAsync(string caseId, AdvanceCaseRequest request, CancellationToken ct = default) => c.SendAsync<CaseDto>(ApiRoutes.Cases.Advance.With(caseId), request, ct);
    public Task<CommitmentDto> AddCommitmentAsync(string caseId, AddCommitmentRequest request, CancellationToken ct = default) => c.SendAsync<CommitmentDto>(ApiRoutes.Cases.AddCommitment.With(caseId), request, ct);
    /// <summary>Uploads a run's log (its bytes as written); an evaluation then cites it by sha256 and the server recomputes its figures from it.</summary>
    public Task<EvaluationLogDto> UploadEvaluationLogAsync(string caseId, byte[] log, CancellationToken ct = default) => c.SendBytesAsync<EvaluationLogDto>(ApiRoutes.Cases.UploadEvaluationLog.With(caseId), log, "application/json", ct);
    public Task<EvaluationDto> SubmitEvaluationAsync(string caseId, SubmitEvaluationRequest request, CancellationToken ct = default) => c.SendAsync<EvaluationDto>(ApiRoutes.Cases.SubmitEvaluation.With(caseId), request, ct);
    public Task<FindingDto> RecordFindingAsync(string caseId, RecordFindingRequest request, CancellationToken ct = default) => c.SendAsync<FindingDto>(ApiRoutes.Cases.RecordFinding.With(caseId), request, ct);
    public Task<CaseDto> DenyAsync(string caseId, DenyRequest request, CancellationToken ct = default) => c.SendAsync<CaseDto>(ApiRoutes.Cases.Deny.With(caseId), request, ct);
    public Task<CaseDto> LiftDenialAsync(string caseId, LiftDenialRequest request, CancellationToken ct = default) => c.SendAsync<CaseDto>(ApiRoutes.Cases.LiftDenial.With(caseId), request, ct);
    /// <summary>Moves a flagged case onto the stronger reference model (rule 5): it re-enters testing.</summary>
    public Task<CaseDto> ReevaluateAsync(string caseId, ReevaluateCaseRequest request, CancellationToken ct = default) => c.SendAsync<CaseDto>(ApiRoutes.Cases.Reevaluate.With(caseId), request, ct);
    /// <summary>The case's safety case as it stands now, at <paramref name="tier"/> (null: the requested tier), as json (the exact canonical bytes), svg or md.</summary>
    public Task<byte[]> SafetyCaseAsync(string caseId, string? tier = null, string format = "json", CancellationToken ct = default) =>
        c.GetBytesAsync(ApiRoutes.Cases.SafetyCase.With(caseId).Query(("tier", tier), ("format", format)), ct);
}

public sealed class DisclosuresApi(EmbargoClient c)
{
    public Task<DisclosureDto> DiscloseAsync(string findingId, DiscloseRequest request, CancellationToken ct = default) => c.SendAsync<DisclosureDto>(ApiRoutes.Disclosures.Disclose.With(findingId), request, ct);
    public Task<List<DisclosureRecipientKeyDto>> RecipientKeysAsync(string findingId, CancellationToken ct = default) => c.SendAsync<List<DisclosureRecipientKeyDto>>(ApiRoutes.Disclosures.RecipientKeys.With(findingId), null, ct);
    public Task<RecipientDto> AcknowledgeAsync(string disclosureId, CancellationToken ct = default) => c.SendAsync<RecipientDto>(ApiRoutes.Disclosures.Acknowledge.With(disclosureId), null, ct);
    /// <summary>The sealed detail addressed to the caller.</summary>
    public Task<SealedDetailDto> SealedAsync(string disclosureId, CancellationToken ct = default) => c.SendAsync<SealedDetailDto>(ApiRoutes.Disclosures.Sealed.With(disclosureId), null, ct);
    public Task<List<DisclosureDto>> AdvisoriesAsync(CancellationToken ct = default) => c.AllAsync<DisclosureDto>(ApiRoutes.Disclosures.Advisories.With(), ct);
    /// <summary>The disclosures the caller may see (its inbox), unacknowledged first, then by deadline; every page.</summary>
    public Task<List<InboxItemDto>> ListAsync(bool? unacknowledged = null, CancellationToken ct = default) =>
        c.AllAsync<InboxItemDto>(ApiRoutes.Disclosures.Inbox.With().Query(("unacknowledged", unacknowledged == true ? "true" : null)), ct);
    /// <summary>The public CSAF 2.0 advisory of disclosure <paramref name="disclosureId"/>, as the server's exact bytes (no token needed).</summary>
    public Task<byte[]> CsafAsync(string disclosureId, CancellationToken ct = default) => c.GetBytesAsync(ApiRoutes.Disclosures.AdvisoryCsaf.With(disclosureId), ct);
}

public sealed class MitigationsApi(EmbargoClient c)
{
    public Task<MitigationDto> SetDeadlineAsync(string mitigationId, SetDeadlineRequest request, CancellationToken ct = default) => c.SendAsync<MitigationDto>(ApiRoutes.Mitigations.SetDeadline.With(mitigationId), request, ct);
    public Task<MitigationDto> ReportAsync(string mitigationId, ReportMitigationRequest request, CancellationToken ct = default) => c.SendAsync<MitigationDto>(ApiRoutes.Mitigations.Report.With(mitigationId), request, ct);
    public Task<MitigationDto> VerifyAsync(string mitigationId, VerifyMitigationRequest request, CancellationToken ct = default) => c.SendAsync<MitigationDto>(ApiRoutes.Mitigations.Verify.With(mitigationId), request, ct);
    public Task<MitigationDto> FineAsync(string mitigationId, FineRequest request, CancellationToken ct = default) => c.SendAsync<MitigationDto>(ApiRoutes.Mitigations.Fine.With(mitigationId), request, ct);
    public Task<EscalationReportDto> EscalateAsync(CancellationToken ct = default) => c.SendAsync<EscalationReportDto>(ApiRoutes.Mitigations.Escalate.With(), null, ct);
}

public sealed class CertificatesApi(EmbargoClient c)
{
    /// <summary>Approves the case for certification at a tier; the answer is the statement to sign.</summary>
    public Task<CertificationDraftDto> ApproveAsync(string caseId, CertificationRequest request, CancellationToken ct = default) => c.SendAsync<CertificationDraftDto>(ApiRoutes.Certificates.Approve.With(caseId), request, ct);
    public Task<CertificateDto> SignAsync(string certificateId, SubmitCertificateRequest request, CancellationToken ct = default) => c.SendAsync<CertificateDto>(ApiRoutes.Certificates.Sign.With(certificateId), request, ct);
    public Task<CertificateDto> GetAsync(string certificateId, CancellationToken ct = default) => c.SendAsync<CertificateDto>(ApiRoutes.Certificates.Get.With(certificateId), null, ct);
    /// <summary>The exact safety case the certificate was issued on (its sha256 is the predicate's safetyCase.digest), as json, svg or md.</summary>
    public Task<byte[]> SafetyCaseAsync(string certificateId, string format = "json", CancellationToken ct = default) =>
        c.GetBytesAsync(ApiRoutes.Certificates.SafetyCase.With(certificateId).Query(("format", format)), ct);
}

public sealed class ReleasesApi(EmbargoClient c)
{
    public Task<ReleaseDto> ReleaseAsync(ReleaseRequest request, CancellationToken ct = default) => c.SendAsync<ReleaseDto>(ApiRoutes.Releases.Release.With(), request, ct);
}

public sealed class ViolationsApi(EmbargoClient c)
{
    public Task<ViolationDto> ReportAsync(ReportViolationRequest request, CancellationToken ct = default) => c.SendAsync<ViolationDto>(ApiRoutes.Violations.Report.With(), request, ct);
    /// <summary>The violations the caller may see, optionally by status and by accused organisation.</summary>
    public Task<List<ViolationDto>> ListAsync(string? status = null, string? organisation = null, CancellationToken ct = default) =>
        c.AllAsync<ViolationDto>(ApiRoutes.Violations.List.With().Query(("status", status), ("organisation", organisation)), ct);
    public Task<ViolationDto> GetAsync(string violationId, CancellationToken ct = default) => c.SendAsync<ViolationDto>(ApiRoutes.Violations.Get.With(violationId), null, ct);
    public Task<ViolationDto> ConfirmAsync(string violationId, ViolationDecisionRequest request, CancellationToken ct = default) => c.SendAsync<ViolationDto>(ApiRoutes.Violations.Confirm.With(violationId), request, ct);
    public Task<ViolationDto> RejectAsync(string violationId, ViolationDecisionRequest request, CancellationToken ct = default) => c.SendAsync<ViolationDto>(ApiRoutes.Violations.Reject.With(violationId), request, ct);
    public Task<ViolationDto> DisputeAsync(string violationId, DisputeViolationRequest request, CancellationToken ct = default) => c.SendAsync<ViolationDto>(ApiRoutes.Violations.Dispute.With(violationId), request, ct);
    public Task<ViolationDto> DecideDisputeAsync(string violationId, DecideDisputeRequest request, CancellationToken ct = default) => c.SendAsync<ViolationDto>(ApiRoutes.Violations.DecideDispute.With(violationId), request, ct);
}

/// <summary>The public transparency ledger. Checkpoints, the key and leaves come as the text the server signs and serves.</summary>
public sealed class LedgerApi(EmbargoClient c)
{
    /// <summary>The signed checkpoint (a signed note).</summary>
    public Task<string> CheckpointAsync(CancellationToken ct = default) => c.GetTextAsync(ApiRoutes.Ledger.Checkpoint.With(), ct);
    /// <summary>The ledger's verifier key line.</summary>
    public Task<string> KeyAsync(CancellationToken ct = default) => c.GetTextAsync(ApiRoutes.Ledger.Key.With(), ct);
    /// <summary>Leaves [start, start+count) as ledger.jsonl text, fetched a page at a time; without count, every leaf from start.</summary>
    public Task<string> LeavesAsync(long? start = null, long? count = null, CancellationToken ct = default) =>
        PagedReads.LeavesAsync(c, start ?? 0, count is { } n ? (start ?? 0) + n : long.MaxValue, ct);
    public Task<InclusionProofResponse> InclusionAsync(long index, long? size = null, CancellationToken ct = default) =>
        c.SendAsync<InclusionProofResponse>(ApiRoutes.Ledger.Inclusion.With().Query(("index", index), ("size", size)), null, ct);
    public Task<ConsistencyProofResponse> ConsistencyAsync(long from, long? to = null, CancellationToken ct = default) =>
        c.SendAsync<ConsistencyProofResponse>(ApiRoutes.Ledger.Consistency.With().Query(("from", from), ("to", to)), null, ct);
    /// <summary>The witnesses the server asks for cosignatures, what each last cosigned and whether one refused a checkpoint.</summary>
    public Task<WitnessStatusResponse> WitnessesAsync(CancellationToken ct = default) =>
        c.SendAsync<WitnessStatusResponse>(ApiRoutes.Ledger.Witnesses.With(), null, ct);
}

/// <summary>The server side of the gateway: certificate status for gateways to follow, audit batches, gateway keys and screens.</summary>
public sealed class GatewayApi(EmbargoClient c)
{
    /// <summary>The status of the certificate whose DSSE payload has this hex sha256 (anonymous).</summary>
    public Task<CertificateStatusDto> CertificateStatusAsync(string statementSha256, CancellationToken ct = default) => c.SendAsync<CertificateStatusDto>(ApiRoutes.Gateway.CertificateStatus.With(statementSha256), null, ct);
    public Task<AuditBatchDto> AuditBatchAsync(AuditBatchRequest request, CancellationToken ct = default) => c.SendAsync<AuditBatchDto>(ApiRoutes.Gateway.AuditBatch.With(), request, ct);
    /// <summary>Issues a gateway key for a version released at hosted or api; the key is in the answer, once.</summary>
    public Task<GatewayGrantDto> GrantAsync(string versionId, GatewayGrantRequest request, CancellationToken ct = default) => c.SendAsync<GatewayGrantDto>(ApiRoutes.Gateway.Grant.With(versionId), request, ct);
    public Task<GatewayScreenDto> AttachScreenAsync(string versionId, GatewayScreenRequest request, CancellationToken ct = default) => c.SendAsync<GatewayScreenDto>(ApiRoutes.Gateway.AttachScreen.With(versionId), request, ct);
    public Task<List<GatewayScreenDto>> ScreensAsync(string versionId, CancellationToken ct = default) => c.SendAsync<List<GatewayScreenDto>>(ApiRoutes.Gateway.Screens.With(versionId), null, ct);
}

/// <summary>Recorded evaluations: their run logs (transcripts; the case's regulator and reviewing certifier only).</summary>
public sealed class EvaluationsApi(EmbargoClient c)
{
    public Task<byte[]> LogAsync(string evaluationId, CancellationToken ct = default) => c.GetBytesAsync(ApiRoutes.Evaluations.Log.With(evaluationId), ct);
}

public sealed class IncidentsApi(EmbargoClient c)
{
    public Task<IncidentDto> ReportAsync(ReportIncidentRequest request, CancellationToken ct = default) => c.SendAsync<IncidentDto>(ApiRoutes.Incidents.Report.With(), request, ct);
    public Task<List<IncidentDto>> ListAsync(string? modelVersionId = null, CancellationToken ct = default) =>
        c.AllAsync<IncidentDto>(ApiRoutes.Incidents.List.With().Query(("version", modelVersionId)), ct);
    public Task<IncidentDto> GetAsync(string incidentId, CancellationToken ct = default) => c.SendAsync<IncidentDto>(ApiRoutes.Incidents.Get.With(incidentId), null, ct);
    public Task<IncidentDto> TriageAsync(string incidentId, TriageIncidentRequest request, CancellationToken ct = default) => c.SendAsync<IncidentDto>(ApiRoutes.Incidents.Triage.With(incidentId), request, ct);
    public Task<List<DisclosureRecipientKeyDto>> RecipientsAsync(string modelVersionId, CancellationToken ct = default) =>
        c.SendAsync<List<DisclosureRecipientKeyDto>>(ApiRoutes.Incidents.Recipients.With(modelVersionId), null, ct);
}
