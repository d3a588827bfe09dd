using System.Text.Json;
using System.Text.RegularExpressions;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Embargo.Ui.Tests;

/// <summary>
/// One real Embargo server (SQLite file, or PostgreSQL with EMBARGO_TEST_POSTGRES) and Debian's headless Chromium driven by
/// Playwright, shared by the browser tests (one collection: they run one after another, so ledger sizes are stable).
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    /// <summary>Generous: a 2-core CI machine shared with other builds.</summary>
    public const float NavigationTimeoutMs = 90_000;

    public EmbargoHost Host { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public string AxeSource { get; private set; } = "";
    public string RepositoryRoot { get; } = FindRoot();

    public string Url(string path) => new Uri(Host.Url, path).ToString();

    public async Task InitializeAsync()
    {
        var axe = Path.Combine(RepositoryRoot, "tests", "ui-node", "node_modules", "axe-core", "axe.min.js");
        if (!File.Exists(axe))
        {
            throw new InvalidOperationException($"{axe} is missing: run 'npm ci' in tests/ui-node (test.sh does)");
        }
        AxeSource = await File.ReadAllTextAsync(axe);
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        // Web-first assertions poll; their default 5 s is short for a page rendered after a form post on a loaded 2-core CI machine.
        Assertions.SetDefaultExpectTimeout(30_000);
        Host = await EmbargoHost.StartAsync();
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = Environment.GetEnvironmentVariable("EMBARGO_TEST_CHROMIUM") ?? "/usr/bin/chromium",
            Headless = true,
            Timeout = NavigationTimeoutMs,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        await Browser.DisposeAsync();
        Playwright.Dispose();
        await Host.DisposeAsync();
    }

    /// <summary>A fresh browser profile (no cookies), with axe-core injected into every document it loads (as an init script, which a page's CSP does not block).</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 900)
    {
        var context = await Browser.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = height }, Locale = "en-GB" });
        context.SetDefaultNavigationTimeout(NavigationTimeoutMs);
        context.SetDefaultTimeout(30_000);
        await context.AddInitScriptAsync(AxeSource);
        return await context.NewPageAsync();
    }

    /// <summary>Signs in through the sign-in form with a principal's API token; lands on the dashboard.</summary>
    public async Task<IPage> SignInAsync(string token, int width = 1280)
    {
        var page = await NewPageAsync(width);
        await VisitAsync(page, "/ui/sign-in", "sign-in");
        await page.GetByLabel("API token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await ArriveAsync(page, new Regex("/ui$"));
        return page;
    }

    /// <summary>
    /// Waits until the page shows a URL matching <paramref name="url"/> and that document has loaded. Not
    /// <c>WaitForURLAsync</c>: it checks the frame's load states and then subscribes to them while another thread delivers
    /// the events, so it can miss the <c>load</c> it waits for (microsoft/playwright-dotnet#3364) — it hung one CI run for
    /// 90 s after a sign-in whose page had loaded. Both waits here poll instead of waiting for an event.
    /// </summary>
    public static async Task ArriveAsync(IPage page, Regex url)
    {
        await Assertions.Expect(page).ToHaveURLAsync(url, new() { Timeout = NavigationTimeoutMs });
        await page.WaitForFunctionAsync("() => document.readyState === 'complete'", null,
            new() { Timeout = NavigationTimeoutMs, PollingInterval = 50 });
    }

    /// <summary>
    /// Opens a page, asserts its HTTP status, runs axe-core on it (no serious or critical violation) and saves a
    /// screenshot under artifacts/screenshots/.
    /// </summary>
    public async Task<IResponse> VisitAsync(IPage page, string path, string screenshot, int status = 200)
    {
        var response = await page.GotoAsync(Url(path), new() { WaitUntil = WaitUntilState.Load });
        Assert.NotNull(response);
        Assert.True(status == response.Status, $"GET {path}: expected {status}, got {response.Status}");
        await AssertAccessibleAsync(page, path);
        await ScreenshotAsync(page, screenshot);
        return response;
    }

    public async Task AssertAccessibleAsync(IPage page, string what)
    {
        var json = await page.EvaluateAsync<string>("""
            async () => {
              const r = await axe.run(document, { resultTypes: ['violations'] });
              return JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')}`));
            }
            """);
        var violations = JsonSerializer.Deserialize<List<string>>(json)!;
        Assert.True(violations.Count == 0, $"axe-core on {what}: {string.Join("; ", violations)}");
    }

    public async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(RepositoryRoot, "artifacts", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"{Host.Storage}-{name}.png"), FullPage = true });
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Embargo.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("the repository root (Embargo.slnx) is not above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
