using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Server.Infrastructure;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Bearer tokens: missing or unknown tokens are 401 ProblemDetails; tokens are stored only as hashes.</summary>
public sealed class AuthTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private async Task<(HttpStatusCode Status, string? ContentType, JsonObject Body)> PostRaw(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, path))
        {
            Content = new StringContent("{\"name\":\"x-model\"}", Encoding.UTF8, "application/json"),
        };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await Host.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, JsonNode.Parse(text)!.AsObject());
    }

    [Fact]
    public async Task NoTokenIsA401ProblemDetails()
    {
        var size = await LedgerSizeAsync(Host);
        var (status, contentType, body) = await PostRaw("/api/models", null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal(401, body["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrWhiteSpace(body["detail"]?.GetValue<string>()));
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task AnUnknownTokenIsA401ProblemDetails()
    {
        var size = await LedgerSizeAsync(Host);
        var (status, contentType, body) = await PostRaw("/api/models", Ids.NewToken());
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Equal(401, body["status"]!.GetValue<int>());
        Assert.Contains("not known", body["detail"]!.GetValue<string>());
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task AMalformedAuthorizationHeaderIsA401()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Host.Url, "/api/me"));
        request.Headers.TryAddWithoutValidation("Authorization", "Basic " + Host.AdminToken);
        using var response = await Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task AdminEndpointsRefuseOtherRoles()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var size = await LedgerSizeAsync(Host);
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties",
            () => w.Developer.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = "sneaky " + w.Tag }, default));
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.Regulator.Admin.CreatePrincipalAsync(
            new CreatePrincipalRequest { OrganisationId = w.RegulatorOrg, Name = "extra", Role = "regulator" }, default));
        Assert.Equal(size, await LedgerSizeAsync(Host));
    }

    [Fact]
    public async Task TokensAreStoredHashed()
    {
        // SQLite only by construction: this reads the database file's bytes.
        await using var host = await EmbargoHost.StartAsync(forceSqlite: true);
        using var w = await ProtocolWorld.CreateAsync(host);
        var created = await host.Admin.Admin.CreatePrincipalAsync(
            new CreatePrincipalRequest { OrganisationId = w.EvaluatorOrg, Name = "second-evaluator", Role = "evaluator" }, default);
        var me = await host.Admin.As(created.Token).GetTextAsync(ApiRoutes.Organisations.Me.With(), default);
        Assert.Contains(created.Principal.Id, me);

        var files = Directory.GetFiles(host.DataDirectory, "embargo.db*");
        Assert.Contains(files, f => f.EndsWith("embargo.db", StringComparison.Ordinal));
        var bytes = files.Select(f =>
        {
            using var s = new FileStream(f, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        }).ToList();
        var token = Encoding.UTF8.GetBytes(created.Token);
        var tokenBody = Encoding.UTF8.GetBytes(created.Token["emb_".Length..]);
        var hash = Encoding.UTF8.GetBytes(Ids.HashToken(created.Token));
        Assert.All(bytes, b =>
        {
            Assert.True(b.AsSpan().IndexOf(token) < 0, "the raw token is in the database file");
            Assert.True(b.AsSpan().IndexOf(tokenBody) < 0, "the raw token is in the database file");
        });
        // The hash is there, so we did read the rows that hold the token.
        Assert.Contains(bytes, b => b.AsSpan().IndexOf(hash) >= 0);
        Assert.DoesNotContain(created.Token, await LeavesTextAsync(host));
    }
    [Fact]
    public async Task ARotatedOrRevokedTokenStopsWorkingAtOnce()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var created = await w.Admin.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
        {
            OrganisationId = w.RegulatorOrg, Name = "rotating", Role = "regulator",
        }, default);
        var oldClient = w.Admin.As(created.Token);
        await oldClient.Organisations.MeAsync(default);

        var rotated = await w.Admin.Admin.RotateTokenAsync(created.Principal.Id, default);
        Assert.NotEqual(created.Token, rotated.Token);
        await Refused(HttpStatusCode.Unauthorized, null, () => oldClient.Organisations.MeAsync(default));
        var newClient = w.Admin.As(rotated.Token);
        await newClient.Organisations.MeAsync(default);

        var revoked = await w.Admin.Admin.RevokeTokenAsync(created.Principal.Id, default);
        Assert.Equal("", revoked.Token);
        await Refused(HttpStatusCode.Unauthorized, null, () => newClient.Organisations.MeAsync(default));
        var leaves = await LeavesAsync(Host);
        Assert.Contains(leaves, l => l.Type == "principal.token-rotated" && l.Data["principal"]!.GetValue<string>() == created.Principal.Id);
        Assert.Contains(leaves, l => l.Type == "principal.revoked" && l.Data["principal"]!.GetValue<string>() == created.Principal.Id);
        // Only the admin manages tokens.
        await RefusedWithoutChange(w, HttpStatusCode.Forbidden, "separation-of-duties", () =>
            w.Regulator.Admin.RotateTokenAsync(created.Principal.Id, default));
    }

}

/// <summary>The fixture really uses the storage the environment asks for (so a PostgreSQL run is a PostgreSQL run).</summary>
public sealed class StorageSelectionTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public void TheServerUsesTheStorageTheEnvironmentAsksFor()
    {
        var sqliteFile = Path.Combine(fixture.Host.DataDirectory, "embargo.db");
        if (EmbargoHost.PostgresBase is null)
        {
            Assert.Equal("sqlite", fixture.Host.Storage);
            Assert.True(File.Exists(sqliteFile));
        }
        else
        {
            Assert.Equal("postgres", fixture.Host.Storage);
            Assert.False(File.Exists(sqliteFile));
        }
    }
}
