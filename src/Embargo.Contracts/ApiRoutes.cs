using System.Globalization;
using System.Text;

namespace Embargo.Contracts;

/// <summary>One endpoint of the server: its HTTP method and route template, e.g. <c>POST /api/cases/{id}/findings</c>.</summary>
public sealed record ApiRoute(string Method, string Template)
{
    /// <summary>The request for this route with its <c>{placeholders}</c> filled, in order, with <paramref name="values"/> (escaped).</summary>
    public ApiCall With(params ReadOnlySpan<string> values)
    {
        var path = new StringBuilder(Template.Length + 32);
        var next = 0;
        for (var i = 0; i < Template.Length; i++)
        {
            if (Template[i] != '{')
            {
                path.Append(Template[i]);
                continue;
            }
            var close = Template.IndexOf('}', i);
            if (next >= values.Length)
            {
                throw new ArgumentException($"{Template} needs a value for {Template[i..(close + 1)]}", nameof(values));
            }
            path.Append(Uri.EscapeDataString(values[next++]));
            i = close;
        }
        if (next != values.Length)
        {
            throw new ArgumentException($"{Template} takes {next} values, not {values.Length}", nameof(values));
        }
        return new ApiCall(Method, path.ToString());
    }

    public override string ToString() => $"{Method} {Template}";
}

/// <summary>A filled route: the method and the path (with any query string) to send it to.</summary>
public sealed record ApiCall(string Method, string Path)
{
    /// <summary>This call with <paramref name="parameters"/> appended as a query string; null values are left out, names and values escaped.</summary>
    public ApiCall Query(params ReadOnlySpan<(string Name, object? Value)> parameters)
    {
        var path = new StringBuilder(Path);
        var separator = Path.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        foreach (var (name, value) in parameters)
        {
            if (value is null)
            {
                continue;
            }
            var text = value is IFormattable formattable ? formattable.ToString(null, CultureInfo.InvariantCulture) : value.ToString() ?? "";
            path.Append(separator).Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(text));
            separator = '&';
        }
        return this with { Path = path.ToString() };
    }

    public override string ToString() => $"{Method} {Path}";
}

/// <summary>
/// Every endpoint the server maps, written once. <see cref="EmbargoClient"/> builds its requests from these; a test
/// compares them with the server's own route table, so an endpoint without a route here (or a route the server no
/// longer maps) fails the build's tests. The templates are the server's, placeholder names included.
/// </summary>
public static class ApiRoutes
{
    private const string HttpGet = "GET", HttpPost = "POST";

    public static class Service
    {
        public static readonly ApiRoute Health = new(HttpGet, "/healthz");
        public static readonly ApiRoute Metrics = new(HttpGet, "/metrics");
        public static readonly ApiRoute OpenApi = new(HttpGet, "/openapi/{documentName}.json");
    }

    public static class Admin
    {
        public static readonly ApiRoute CreateOrganisation = new(HttpPost, "/api/admin/organisations");
        public static readonly ApiRoute CreatePrincipal = new(HttpPost, "/api/admin/principals");
        public static readonly ApiRoute RotateToken = new(HttpPost, "/api/admin/principals/{id}/token");
        public static readonly ApiRoute RevokeToken = new(HttpPost, "/api/admin/principals/{id}/revoke");
    }

    public static class Organisations
    {
        public static readonly ApiRoute Me = new(HttpGet, "/api/me");
        public static readonly ApiRoute List = new(HttpGet, "/api/organisations");
        public static readonly ApiRoute BadActors = new(HttpGet, "/api/public/bad-actors");
        public static readonly ApiRoute LiftMark = new(HttpPost, "/api/bad-actors/{organisationId}/lift");
    }

    public static class Models
    {
        public static readonly ApiRoute Register = new(HttpPost, "/api/models");
        public static readonly ApiRoute RegisterVersion = new(HttpPost, "/api/models/{modelId}/versions");
        public static readonly ApiRoute GetVersion = new(HttpGet, "/api/model-versions/{id}");
        public static readonly ApiRoute RegisterCondition = new(HttpPost, "/api/model-versions/{id}/conditions");
        public static readonly ApiRoute Conditions = new(HttpGet, "/api/model-versions/{id}/conditions");
        public static readonly ApiRoute RegisterReference = new(HttpPost, "/api/reference-models");
        public static readonly ApiRoute References = new(HttpGet, "/api/reference-models");
        public static readonly ApiRoute WeightsStatus = new(HttpGet, "/api/weights/{digest}");
        public static readonly ApiRoute List = new(HttpGet, "/api/models");
        public static readonly ApiRoute Versions = new(HttpGet, "/api/models/{modelId}/versions");
        public static readonly ApiRoute WithdrawVersion = new(HttpPost, "/api/model-versions/{id}/withdraw");
    }

    public static class Weights
    {
        public static readonly ApiRoute Grant = new(HttpPost, "/api/model-versions/{id}/grants");
        public static readonly ApiRoute DepositKeys = new(HttpPost, "/api/model-versions/{id}/wrapped-keys");
        public static readonly ApiRoute RequestKey = new(HttpPost, "/api/model-versions/{id}/key-requests");
    }

    public static class Cases
    {
        public static readonly ApiRoute Open = new(HttpPost, "/api/cases");
        public static readonly ApiRoute List = new(HttpGet, "/api/cases");
        public static readonly ApiRoute Get = new(HttpGet, "/api/cases/{id}");
        public static readonly ApiRoute AddThreatModel = new(HttpPost, "/api/cases/{id}/threat-models");
        public static readonly ApiRoute DraftThreatModel = new(HttpPost, "/api/cases/{id}/threat-model-drafts");
        public static readonly ApiRoute Drafts = new(HttpGet, "/api/cases/{id}/threat-model-drafts");
        public static readonly ApiRoute AcceptThreatModel = new(HttpPost, "/api/cases/{id}/threat-models/{threatModelId}/accept");
        public static readonly ApiRoute Advance = new(HttpPost, "/api/cases/{id}/advance");
        public static readonly ApiRoute AddCommitment = new(HttpPost, "/api/cases/{id}/commitments");
        public static readonly ApiRoute UploadEvaluationLog = new(HttpPost, "/api/cases/{id}/evaluation-logs");
        public static readonly ApiRoute SubmitEvaluation = new(HttpPost, "/api/cases/{id}/evaluations");
        public static readonly ApiRoute RecordFinding = new(HttpPost, "/api/cases/{id}/findings");
        public static readonly ApiRoute Deny = new(HttpPost, "/api/cases/{id}/deny");
        public static readonly ApiRoute LiftDenial = new(HttpPost, "/api/cases/{id}/lift-denial");
        public static readonly ApiRoute Reevaluate = new(HttpPost, "/api/cases/{id}/reference");
        public static readonly ApiRoute SafetyCase = new(HttpGet, "/api/cases/{id}/safety-case");
    }

    public static class Evaluations
    {
        public static readonly ApiRoute Log = new(HttpGet, "/api/evaluations/{id}/log");
    }

    public static class Disclosures
    {
        public static readonly ApiRoute Disclose = new(HttpPost, "/api/findings/{findingId}/disclosures");
        public static readonly ApiRoute RecipientKeys = new(HttpGet, "/api/findings/{findingId}/recipients");
        public static readonly ApiRoute Acknowledge = new(HttpPost, "/api/disclosures/{id}/acknowledge");
        public static readonly ApiRoute Sealed = new(HttpGet, "/api/disclosures/{id}/sealed");
        public static readonly ApiRoute Advisories = new(HttpGet, "/api/public/advisories");
        public static readonly ApiRoute AdvisoryCsaf = new(HttpGet, "/api/public/advisories/{id}/csaf");
        public static readonly ApiRoute Inbox = new(HttpGet, "/api/disclosures");
    }

    public static class Mitigations
    {
        public static readonly ApiRoute SetDeadline = new(HttpPost, "/api/mitigations/{id}/deadline");
        public static readonly ApiRoute Report = new(HttpPost, "/api/mitigations/{id}/report");
        public static readonly ApiRoute Verify = new(HttpPost, "/api/mitigations/{id}/verify");
        public static readonly ApiRoute Fine = new(HttpPost, "/api/mitigations/{id}/fines");
        public static readonly ApiRoute Escalate = new(HttpPost, "/api/mitigations/escalations");
    }

    public static class Certificates
    {
        public static readonly ApiRoute Approve = new(HttpPost, "/api/cases/{id}/certification");
        public static readonly ApiRoute Sign = new(HttpPost, "/api/certificates/{id}/signature");
        public static readonly ApiRoute Get = new(HttpGet, "/api/certificates/{id}");
        public static readonly ApiRoute SafetyCase = new(HttpGet, "/api/certificates/{id}/safety-case");
    }

    public static class Releases
    {
        public static readonly ApiRoute Release = new(HttpPost, "/api/releases");
    }

    public static class Violations
    {
        public static readonly ApiRoute Report = new(HttpPost, "/api/violations");
        public static readonly ApiRoute List = new(HttpGet, "/api/violations");
        public static readonly ApiRoute Get = new(HttpGet, "/api/violations/{id}");
        public static readonly ApiRoute Confirm = new(HttpPost, "/api/violations/{id}/confirm");
        public static readonly ApiRoute Reject = new(HttpPost, "/api/violations/{id}/reject");
        public static readonly ApiRoute Dispute = new(HttpPost, "/api/violations/{id}/dispute");
        public static readonly ApiRoute DecideDispute = new(HttpPost, "/api/violations/{id}/dispute/decision");
    }

    public static class Incidents
    {
        public static readonly ApiRoute Report = new(HttpPost, "/api/incidents");
        public static readonly ApiRoute List = new(HttpGet, "/api/incidents");
        public static readonly ApiRoute Get = new(HttpGet, "/api/incidents/{id}");
        public static readonly ApiRoute Triage = new(HttpPost, "/api/incidents/{id}/triage");
        public static readonly ApiRoute Recipients = new(HttpGet, "/api/model-versions/{id}/incident-recipients");
    }

    public static class Ledger
    {
        public static readonly ApiRoute Checkpoint = new(HttpGet, "/api/ledger/checkpoint");
        public static readonly ApiRoute Key = new(HttpGet, "/api/ledger/key");
        public static readonly ApiRoute Leaves = new(HttpGet, "/api/ledger/leaves");
        public static readonly ApiRoute Inclusion = new(HttpGet, "/api/ledger/proofs/inclusion");
        public static readonly ApiRoute Consistency = new(HttpGet, "/api/ledger/proofs/consistency");
        public static readonly ApiRoute Witnesses = new(HttpGet, "/api/ledger/witnesses");
    }

    public static class Gateway
    {
        public static readonly ApiRoute CertificateStatus = new(HttpGet, "/api/public/certificates/{statementSha256}/status");
        public static readonly ApiRoute AuditBatch = new(HttpPost, "/api/gateway/audit-batches");
        public static readonly ApiRoute Grant = new(HttpPost, "/api/model-versions/{id}/gateway-grants");
        public static readonly ApiRoute AttachScreen = new(HttpPost, "/api/model-versions/{id}/gateway-screens");
        public static readonly ApiRoute Screens = new(HttpGet, "/api/model-versions/{id}/gateway-screens");
    }

    /// <summary>Every route above (read by reflection, so a route added to a group is listed without more work).</summary>
    public static IReadOnlyList<ApiRoute> All { get; } = typeof(ApiRoutes).GetNestedTypes()
        .SelectMany(t => t.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static))
        .Where(f => f.FieldType == typeof(ApiRoute))
        .Select(f => (ApiRoute)f.GetValue(null)!)
        .ToList();
}
