using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Security headers on every response, no Server header, and the server's files readable by its user only.</summary>
public sealed class FrontDoorTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? token)
    {
        using var request = new HttpRequestMessage(method, new Uri(Host.Url, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return await Host.Http.SendAsync(request);
    }

    [Theory]
    [InlineData("GET", "/api/ledger/checkpoint", "admin", HttpStatusCode.OK)]
    [InlineData("GET", "/api/cases", null, HttpStatusCode.Unauthorized)]
    [InlineData("GET", "/api/cases/case_000000000000", "admin", HttpStatusCode.NotFound)]
    [InlineData("POST", "/api/models", "admin", HttpStatusCode.BadRequest)]
    [InlineData("GET", "/healthz", null, HttpStatusCode.OK)]
    [InlineData("GET", "/openapi/v1.json", null, HttpStatusCode.OK)]
    [InlineData("GET", "/no-such-page", null, HttpStatusCode.NotFound)]
    public async Task EveryResponseCarriesTheSecurityHeadersAndNoServerHeader(string method, string path, string? who, HttpStatusCode expected)
    {
        using var response = await SendAsync(new HttpMethod(method), path, who is null ? null : Host.AdminToken);
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(response.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", Assert.Single(response.Headers.GetValues("X-Frame-Options")));
        Assert.Equal("frame-ancestors 'none'", Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        Assert.False(response.Headers.Contains("Server"), "no Server header");
        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            Assert.True(response.Headers.CacheControl?.NoStore, "API responses are Cache-Control: no-store");
        }
    }

    [Fact]
    public async Task TheSqliteDatabaseItsWalAndShmTheLedgerKeyAndTheDataProtectionKeysAreOwnerOnly()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        await using var host = await EmbargoHost.StartAsync(forceSqlite: true);
        // A write, so the WAL and shared-memory files exist, and a signed checkpoint, so the ledger key exists.
        await host.Admin.Admin.CreateOrganisationAsync(
            new Embargo.Contracts.CreateOrganisationRequest { Name = "Mode Check" }, default);
        Assert.Equal(1, await LedgerSizeAsync(host));
        const UnixFileMode ownerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        foreach (var name in new[] { "embargo.db", "embargo.db-wal", "embargo.db-shm", "ledger.key" })
        {
            var path = Path.Combine(host.DataDirectory, name);
            Assert.True(File.Exists(path), $"{name} exists");
            Assert.Equal(ownerOnly, File.GetUnixFileMode(path));
        }
        var keys = Path.Combine(host.DataDirectory, "data-protection-keys");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(keys));
        var keyFiles = Directory.GetFiles(keys, "*.xml");
        Assert.NotEmpty(keyFiles);
        foreach (var keyFile in keyFiles)
        {
            Assert.Equal(ownerOnly, File.GetUnixFileMode(keyFile));
        }
    }

    [Fact]
    public void AnExistingWorldReadableDatabaseAndItsWalAreTightenedToOwnerOnlyBeforeTheServerOpensThem()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var dir = Directory.CreateTempSubdirectory("embargo-modes-").FullName;
        try
        {
            var db = Path.Combine(dir, "old.db");
            const UnixFileMode worldReadable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            foreach (var file in new[] { db, db + "-wal" })
            {
                File.WriteAllBytes(file, []);
                File.SetUnixFileMode(file, worldReadable);
            }
            Embargo.Server.Infrastructure.FrontDoor.PrepareSqliteFile($"Data Source={db}");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(db));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(db + "-wal"));

            var fresh = Path.Combine(dir, "sub", "new.db");
            Embargo.Server.Infrastructure.FrontDoor.PrepareSqliteFile($"Data Source={fresh}");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(fresh));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(fresh)!));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}

/// <summary>Failed authentication is throttled per client address on the server's clock (a FakeTimeProvider here).</summary>
public sealed class AuthThrottleTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private async Task<(HttpStatusCode Status, string? RetryAfter, JsonObject? Body)> GetAsync(string path, string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Host.Url, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        using var response = await Host.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var retry = response.Headers.TryGetValues("Retry-After", out var values) ? values.Single() : null;
        return (response.StatusCode, retry, response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? JsonNode.Parse(text)!.AsObject() : null);
    }

    [Fact]
    public async Task AfterTwentyWrongTokensTheAddressGets429WithRetryAfterUntilTheWindowEndsEvenWithAGoodToken()
    {
        for (var i = 0; i < 20; i++)
        {
            var (status, retry, _) = await GetAsync("/api/cases", $"emb_wrong_{i}");
            Assert.Equal(HttpStatusCode.Unauthorized, status);
            Assert.Null(retry);
        }
        var (throttled, retryAfter, body) = await GetAsync("/api/cases", "emb_wrong_again");
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled);
        var seconds = int.Parse(retryAfter!, NumberStyles.None, CultureInfo.InvariantCulture);
        Assert.InRange(seconds, 1, 60);
        Assert.Equal(429, body!["status"]!.GetValue<int>());

        // The right token does not get through while the address is throttled (no oracle for guessing) …
        Assert.Equal(HttpStatusCode.TooManyRequests, (await GetAsync("/api/cases", Host.AdminToken)).Status);
        // … public reads without a token still work …
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/api/ledger/checkpoint", null)).Status);

        // … and once the clock passes Retry-After, the right token works again.
        Host.Time.Advance(TimeSpan.FromSeconds(seconds));
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/api/cases", Host.AdminToken)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync("/api/cases", "emb_wrong_after")).Status);
    }
}
