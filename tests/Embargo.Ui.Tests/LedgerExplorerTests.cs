using System.Text.RegularExpressions;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.Playwright;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Ui.Tests;

/// <summary>The public ledger explorer checks an entry's inclusion proof and the checkpoint's signature in the browser.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LedgerExplorerTests(BrowserFixture ui)
{
    [Fact]
    public async Task TheBrowserVerifiesAnEntrysInclusionProofAgainstTheSignedCheckpointAndFlagsATamperedProof()
    {
        var w = await (await ProtocolWorld.CreateAsync(ui.Host)).DriveToAsync(Milestone.Evaluated);
        var leaves = await LeavesAsync(ui.Host);
        var opened = leaves.Last(l => l.Type == "case.opened" && l.Data["case"]!.GetValue<string>() == w.CaseId);

        var visitor = await ui.NewPageAsync();
        var response = await ui.VisitAsync(visitor, $"/ui/public/ledger?index={opened.Index}", "ledger-verified");
        // The page runs under the UI's strict CSP: only its own script file, no inline code.
        Assert.Contains("script-src 'self'", (await response.AllHeadersAsync())["content-security-policy"], StringComparison.Ordinal);
        var result = visitor.Locator("#verify-result");
        await Assertions.Expect(result).ToHaveAttributeAsync("data-outcome", "verified");
        await Assertions.Expect(result).ToContainTextAsync($"entry #{opened.Index} is in the ledger");
        await Assertions.Expect(visitor.Locator("pre.json")).ToContainTextAsync(w.CaseId);
        await ui.ScreenshotAsync(visitor, "ledger-verified-result");

        // One flipped bit in one proof hash: the computed root no longer matches the signed one.
        var proof = visitor.GetByLabel(new Regex("^Proof for tree size"));
        var lines = (await proof.InputValueAsync()).Split('\n');
        Assert.True(lines.Length > 1, "the entry needs a proof of several hashes");
        var flipped = Convert.FromBase64String(lines[0]);
        flipped[0] ^= 0x01;
        lines[0] = Convert.ToBase64String(flipped);
        await proof.FillAsync(string.Join('\n', lines));
        await visitor.GetByRole(AriaRole.Button, new() { Name = "Check again" }).ClickAsync();
        await Assertions.Expect(result).ToHaveAttributeAsync("data-outcome", "failed");
        await Assertions.Expect(result).ToContainTextAsync("FAILED: the proof computes root");
        await ui.AssertAccessibleAsync(visitor, "the ledger explorer after a failed check");
        await ui.ScreenshotAsync(visitor, "ledger-tampered");

        // A dropped proof hash is malformed, and a forged checkpoint signature does not verify.
        await proof.FillAsync(string.Join('\n', lines.Skip(1)));
        await visitor.GetByRole(AriaRole.Button, new() { Name = "Check again" }).ClickAsync();
        await Assertions.Expect(result).ToHaveAttributeAsync("data-outcome", "failed");
        await visitor.ReloadAsync();
        await Assertions.Expect(result).ToHaveAttributeAsync("data-outcome", "verified");
        var checkpoint = visitor.GetByLabel("Signed checkpoint (C2SP signed note)");
        var note = await checkpoint.InputValueAsync();
        var size = long.Parse(note.Split('\n')[1], System.Globalization.CultureInfo.InvariantCulture);
        // Same root, a size one larger, the old signature: the signature check fails before any proof is computed.
        await checkpoint.EvaluateAsync("(el, v) => { el.removeAttribute('readonly'); el.value = v; }", note.Replace($"\n{size}\n", $"\n{size + 1}\n", StringComparison.Ordinal));
        await visitor.GetByRole(AriaRole.Button, new() { Name = "Check again" }).ClickAsync();
        await Assertions.Expect(result).ToHaveAttributeAsync("data-outcome", "failed");
        await Assertions.Expect(result).ToContainTextAsync("does not verify");
    }

    [Fact]
    public async Task AnEntryBeyondTheLedgerIsANotFoundPageNamingTheIndex()
    {
        var size = await LedgerSizeAsync(ui.Host);
        var visitor = await ui.NewPageAsync();
        await ui.VisitAsync(visitor, $"/ui/public/ledger?index={size + 5}", "ledger-not-found", status: 404);
        await Assertions.Expect(visitor.GetByRole(AriaRole.Alert)).ToContainTextAsync($"there is no entry {size + 5}");
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("99999999999999999999")]
    public async Task AnIndexThatIsNotAWholeNumberIsABadRequestNamingTheIndex(string index)
    {
        var visitor = await ui.NewPageAsync();
        await ui.VisitAsync(visitor, $"/ui/public/ledger?index={Uri.EscapeDataString(index)}", "ledger-bad-index", status: 400);
        await Assertions.Expect(visitor.GetByRole(AriaRole.Alert)).ToContainTextAsync("index: give a whole number");
    }

    [Fact]
    public async Task TheCasePageFitsANarrowScreenAndItsSkipLinkIsTheFirstTabStop()
    {
        var w = await (await ProtocolWorld.CreateAsync(ui.Host)).DriveToAsync(Milestone.Disclosed);
        var regulator = await ui.SignInAsync(w.Tokens[w.Regulator], width: 375);
        await ui.VisitAsync(regulator, $"/ui/cases/{w.CaseId}", "case-narrow");
        var overflow = await regulator.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 0, $"the page is {overflow} px wider than a 375 px screen");
        await regulator.Keyboard.PressAsync("Tab");
        Assert.Equal("Skip to content", await regulator.EvaluateAsync<string>("() => document.activeElement.textContent"));
        await regulator.Keyboard.PressAsync("Enter");
        Assert.Equal("main", await regulator.EvaluateAsync<string>("() => document.activeElement.id"));
    }
}
