using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Every request contract is bounded: null or missing members, over-long strings and lists, unknown members,
/// control characters, bad version strings and instants without an offset are a 400 naming the member; a body over
/// the size limit is a 413. Nothing is written to the ledger.
/// </summary>
public sealed class BoundedInputTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private async Task<(HttpStatusCode Status, JsonObject? Problem)> PostRaw(string path, string body, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, path)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? Host.AdminToken);
        // A body over the limit is answered before it is sent (as any well-behaved client does for large uploads).
        request.Headers.ExpectContinue = true;
        using var response = await Host.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null);
    }

    /// <summary>Posts <paramref name="body"/> and asserts one answer: <paramref name="status"/>, naming <paramref name="member"/>, ledger unchanged.</summary>
    private async Task<JsonObject> RefusedNaming(HttpStatusCode status, string? member, string path, string body, string? token = null)
    {
        var size = await LedgerSizeAsync(Host);
        var (actual, problem) = await PostRaw(path, body, token);
        var shown = problem?.ToJsonString() ?? "(no body)";
        Assert.True(status == actual, $"expected {(int)status} but got {(int)actual}: {shown[..Math.Min(400, shown.Length)]}");
        Assert.NotNull(problem);
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        var detail = problem["detail"]!.GetValue<string>();
        Assert.DoesNotContain('\n', detail);
        Assert.DoesNotContain("   at ", detail);
        Assert.True(detail.Length < 1000, "the detail does not echo the input");
        if (member is not null)
        {
            Assert.Equal(member, problem["member"]?.GetValue<string>());
            Assert.Contains(member, detail);
        }
        Assert.Equal(size, await LedgerSizeAsync(Host));
        return problem;
    }

    private static string Big(int chars) => new('x', chars);

    public static TheoryData<string, string, string> NullMembers => new()
    {
        { "/api/admin/organisations", """{"name":null}""", "name" },
        { "/api/models", """{"name":null}""", "name" },
        { "/api/models/mdl_000000000000/versions", """{"version":null,"manifestDigest":"sha256:00","files":[]}""", "version" },
        { "/api/models/mdl_000000000000/versions", """{"version":"1.0","manifestDigest":"sha256:00","files":null}""", "files" },
        { "/api/models/mdl_000000000000/versions", """{"version":"1.0","manifestDigest":"sha256:00","files":[null]}""", "files[0]" },
        { "/api/cases/case_000000000000/threat-models", """{"capability":"c","description":"d","affectedParties":null}""", "affectedParties" },
        { "/api/cases/case_000000000000/threat-models", """{"capability":"c","description":"d","affectedParties":["a",null]}""", "affectedParties[1]" },
        { "/api/cases/case_000000000000/threat-models", """{"capability":"c","description":"d","affectedParties":[],"steps":null}""", "steps" },
        { "/api/cases/case_000000000000/threat-model-drafts", """{"capability":"c","description":"d","steps":[null],"referenceModel":"r"}""", "steps[0]" },
        { "/api/model-versions/ver_000000000000/wrapped-keys", """{"sealId":"s","manifestDigest":"sha256:00","keys":[null]}""", "keys[0]" },
        { "/api/findings/fnd_000000000000/disclosures", """{"advisoryTitle":"t","advisorySummary":"s","sealed":[null]}""", "sealed[0]" },
        { "/api/findings/fnd_000000000000/disclosures", """{"advisoryTitle":"t","advisorySummary":"s","sealed":[{"organisationId":"o","ciphertext":null}]}""", "sealed[0].ciphertext" },
        { "/api/certificates/cert_000000000000/signature", """{"envelope":null}""", "envelope" },
        { "/api/cases", """{"modelVersionId":"v","requestedTier":"open","regulatorOrganisationId":"r","referenceModelId":"x","evaluatorOrganisationIds":null}""", "evaluatorOrganisationIds" },
    };

    [Theory]
    [MemberData(nameof(NullMembers))]
    public async Task NullForANonNullableMemberOrListItemIsA400NamingIt(string path, string body, string member) =>
        await RefusedNaming(HttpStatusCode.BadRequest, member, path, body);

    [Fact]
    public async Task AMissingRequiredMemberIsA400NamingIt()
    {
        var problem = await RefusedNaming(HttpStatusCode.BadRequest, "name", "/api/reference-models", """{"strength":0.5}""");
        Assert.Equal("name is required and must not be null", problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnUnknownMemberIsA400NamingIt() =>
        await RefusedNaming(HttpStatusCode.BadRequest, "isAccepted", "/api/admin/organisations", """{"name":"Acme","isAccepted":true}""");

    [Theory]
    [InlineData("/api/reference-models", "name", """{{"name":"{0}","strength":0.5}}""")]
    [InlineData("/api/violations", "source", """{{"observedTier":"open","source":"{0}","evidence":{{"manifestDigest":"sha256:00","files":[]}}}}""")]
    [InlineData("/api/findings/fnd_000000000000/disclosures", "advisoryTitle", """{{"advisoryTitle":"{0}","advisorySummary":"s","sealed":[]}}""")]
    [InlineData("/api/models/mdl_000000000000/versions", "version", """{{"version":"{0}","manifestDigest":"sha256:00","files":[]}}""")]
    public async Task AStringLongerThanItsLimitButWithinTheBodyLimitIsA400NamingTheMember(string path, string member, string template) =>
        await RefusedNaming(HttpStatusCode.BadRequest, member, path, string.Format(System.Globalization.CultureInfo.InvariantCulture, template, Big(900_000)));

    [Theory]
    [InlineData("/api/reference-models", """{{"name":"{0}","strength":0.5}}""")]
    [InlineData("/api/violations", """{{"observedTier":"open","source":"{0}","evidence":{{"manifestDigest":"sha256:00","files":[]}}}}""")]
    [InlineData("/api/findings/fnd_000000000000/disclosures", """{{"advisoryTitle":"{0}","advisorySummary":"s","sealed":[]}}""")]
    public async Task ATenMegabyteMemberIsRefusedAsTooLargeAndNeverReachesTheLedger(string path, string template)
    {
        var problem = await RefusedNaming(HttpStatusCode.RequestEntityTooLarge, null, path, string.Format(System.Globalization.CultureInfo.InvariantCulture, template, Big(10_000_000)));
        Assert.Contains("1048576", problem["detail"]!.GetValue<string>());
        var leaves = await LeavesTextAsync(Host);
        Assert.DoesNotContain(Big(1000), leaves);
    }

    [Fact]
    public async Task AnElevenMegabyteBodyOfUnknownMembersIsRefusedAsTooLarge()
    {
        var body = new StringBuilder("{\"name\":\"Acme\"");
        for (var i = 0; body.Length < 11_000_000; i++)
        {
            body.Append(",\"m").Append(i).Append("\":\"").Append(Big(1000)).Append('"');
        }
        body.Append('}');
        await RefusedNaming(HttpStatusCode.RequestEntityTooLarge, null, "/api/admin/organisations", body.ToString());
    }

    [Fact]
    public async Task AListLongerThanItsLimitIsA400NamingIt()
    {
        var ids = string.Join(",", Enumerable.Range(0, ContractLimits.DefaultMaxItems + 1).Select(i => $"\"org_{i}\""));
        await RefusedNaming(HttpStatusCode.BadRequest, "evaluatorOrganisationIds", "/api/cases",
            $$"""{"modelVersionId":"v","requestedTier":"open","regulatorOrganisationId":"r","referenceModelId":"x","evaluatorOrganisationIds":[{{ids}}]}""");
    }

    [Theory]
    [InlineData("1.0\\u001b[2K\\r at tier open")]
    [InlineData("1.0\\nat tier open")]
    [InlineData("1.0 beta")]
    [InlineData("\\u202e0.1")]
    [InlineData("")]
    public async Task AVersionStringOutsideTheVersionCharsetIsA400NamingIt(string version) =>
        await RefusedNaming(HttpStatusCode.BadRequest, "version", "/api/models/mdl_000000000000/versions",
            $$"""{"version":"{{version}}","manifestDigest":"sha256:00","files":[]}""");

    [Theory]
    [InlineData("Mesa\\u001b[31mLabs", "U+001B")]
    [InlineData("Mesa\\rLabs", "U+000D")]
    [InlineData("Mesa\\u0085Labs", "U+0085")]
    [InlineData("Mesa\\u202eLabs", "U+202E")]
    [InlineData("Mesa\\u2066Labs", "U+2066")]
    [InlineData("Mesa\\nLabs", "U+000A")]
    public async Task AControlCharacterInANameIsA400NamingTheMemberAndTheCharacter(string name, string codePoint)
    {
        var problem = await RefusedNaming(HttpStatusCode.BadRequest, "name", "/api/admin/organisations", $$"""{"name":"{{name}}"}""");
        Assert.Contains(codePoint, problem["detail"]!.GetValue<string>());
    }

    [Fact]
    public async Task FreeTextMayHoldLineBreaksButNotEscapeSequences()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var created = await w.Evaluator.Cases.AddThreatModelAsync(w.CaseId, new AddThreatModelRequest
        {
            Capability = ProtocolWorld.Phishing, Description = "Convincing phishing\r\nat scale:\n\t1. lures", AffectedParties = [w.MailOrg],
        }, default);
        Assert.Equal("Convincing phishing\r\nat scale:\n\t1. lures", created.Description);
        await RefusedNaming(HttpStatusCode.BadRequest, "description", $"/api/cases/{w.CaseId}/threat-models",
            $$"""{"capability":"bio-acquisition","description":"fine\u001b[1A\rfake line","affectedParties":["{{w.BioOrg}}"]}""", w.Tokens[w.Evaluator]);
    }

    [Theory]
    [InlineData("2027-01-31T00:00:00")]
    [InlineData("2027-01-31")]
    [InlineData("31/01/2027 00:00")]
    [InlineData("2027-01-31T00:00:00+0100")]
    public async Task ADeadlineWithoutAnExplicitOffsetIsA400NamingDueAt(string dueAt)
    {
        var problem = await RefusedNaming(HttpStatusCode.BadRequest, "dueAt", "/api/mitigations/mit_000000000000/deadline", $$"""{"dueAt":"{{dueAt}}"}""");
        Assert.Contains("offset or Z", problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("2027-01-31T00:00:00Z")]
    [InlineData("2027-01-31T01:00:00+01:00")]
    [InlineData("2027-01-31T00:00:00.5-05:30")]
    public async Task ADeadlineWithAnOffsetPassesValidationAndMeetsTheUnknownMitigation(string dueAt)
    {
        var (status, problem) = await PostRaw("/api/mitigations/mit_000000000000/deadline", $$"""{"dueAt":"{{dueAt}}"}""");
        Assert.True(status == HttpStatusCode.NotFound, problem?.ToJsonString());
    }
}
