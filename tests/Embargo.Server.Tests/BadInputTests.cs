using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Bad input is a one-line 400 ProblemDetails naming what is wrong; missing things are 404s.</summary>
public sealed class BadInputTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private async Task<(HttpStatusCode Status, string? ContentType, string Text)> PostRaw(string path, string token, string body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, path)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Host.Http.SendAsync(request);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
    }

    private static void AssertOneLineProblem(int status, string text)
    {
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Equal(status, body["status"]!.GetValue<int>());
        var detail = body["detail"]!.GetValue<string>();
        Assert.False(string.IsNullOrWhiteSpace(detail));
        Assert.DoesNotContain('\n', detail);
        Assert.DoesNotContain('\r', detail);
        Assert.DoesNotContain("   at ", text);
        Assert.DoesNotContain("Exception", text);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"modelVersionId\": \"v\", \"requestedTier\": 5")]
    [InlineData("[1,2,3]")]
    [InlineData("{\"modelVersionId\":\"a\",\"modelVersionId\":\"b\",\"requestedTier\":\"open\",\"regulatorOrganisationId\":\"r\",\"referenceModelId\":\"x\"}")]
    [InlineData("{\"requestedTier\":\"open\"}")]
    public async Task AMalformedBodyIsAOneLine400WithoutAStackTrace(string body)
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var (status, contentType, text) = await PostRaw("/api/cases", w.Tokens[w.Developer], body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("application/problem+json", contentType);
        AssertOneLineProblem(400, text);
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task AnUnknownTierIsA400NamingTheTier()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        var e = await Refused(HttpStatusCode.BadRequest, null, () => w.Developer.Cases.OpenAsync(new OpenCaseRequest
        {
            ModelVersionId = w.Version.Id, RequestedTier = "galactic", RegulatorOrganisationId = w.RegulatorOrg, ReferenceModelId = w.Reference.Id,
            EvaluatorOrganisationIds = [w.EvaluatorOrg],
        }, default));
        Assert.Contains("galactic", e.Detail);
        Assert.DoesNotContain('\n', e.Detail);
        Assert.Equal(size, await LedgerSizeAsync(Host));
        await w.DriveToAsync(Milestone.Certified);
        e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.ReleaseAsync("Hosted "));
        Assert.Contains("Hosted ", e.Detail);
    }

    [Fact]
    public async Task AnUnknownCaseIsA404()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await Refused(HttpStatusCode.NotFound, null, () => w.Developer.Cases.GetAsync("case_000000000000", default));
        var size = await LedgerSizeAsync(Host);
        await Refused(HttpStatusCode.NotFound, null, () => w.Evaluator.Cases.SubmitEvaluationAsync("case_000000000000", ProtocolWorld.Significant(ProtocolWorld.Phishing), default));
        await Refused(HttpStatusCode.NotFound, null, () => Host.Anonymous.Certificates.GetAsync("cert_000000000000", default));
        await Refused(HttpStatusCode.NotFound, null, () => w.Regulator.Mitigations.SetDeadlineAsync("mit_000000000000",
            new SetDeadlineRequest { DueAt = Host.Time.GetUtcNow().AddDays(1) }, default));
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task AnEvaluationWithImpossibleNumbersIsRefused()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var bad = ProtocolWorld.Significant(ProtocolWorld.Phishing) with { Uplift = new UpliftDto { Estimate = 0.6, Ci95Low = 0.5, Ci95High = 0.7, P = 1.5, Test = "z" } };
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(bad));
        var noBaseline = ProtocolWorld.Significant(ProtocolWorld.Phishing) with { Baseline = null };
        await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(noBaseline));
        var unknownCapability = ProtocolWorld.Significant("rocketry");
        var e = await RefusedWithoutChange(w, HttpStatusCode.BadRequest, null, () => w.SubmitAsync(unknownCapability));
        Assert.Contains("rocketry", e.Detail);
    }
}
