using System.Diagnostics;
using Embargo.Cli.Infrastructure;
using Embargo.Server.Tests.Infrastructure;

namespace Embargo.Server.Tests;

/// <summary>`embargo completion bash|zsh|pwsh` prints a script that asks embargo's own command tree what comes next.</summary>
[Collection(CliCollection.Name)]
public sealed class CompletionTests
{
    /// <summary>Runs <paramref name="script"/> in bash with `embargo` the built CLI (dotnet embargo.dll) and answers its stdout.</summary>
    private static async Task<(int Code, string Out, string Error)> BashAsync(string script)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"embargo() {{ dotnet '{Path.Combine(AppContext.BaseDirectory, "embargo.dll")}' \"$@\"; }}\n{script}");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task TheBashScriptRegistersACompletionThatCompletesSubcommandsAndOptions()
    {
        var (code, output, error) = await BashAsync("""
            source <(embargo completion bash) && complete -p embargo || exit 3
            ask() { COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< "$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _embargo_complete; echo "[$1]"; printf '%s\n' "${COMPREPLY[@]}"; }
            ask "embargo model ve"
            ask "embargo model versions --j"
            ask "embargo comp"
            """);
        Assert.True(code == 0, error);
        var lines = output.Split('\n');
        Assert.Equal("complete -o default -F _embargo_complete embargo", lines[0]);
        Assert.Equal(["[embargo model ve]", "versions", "[embargo model versions --j]", "--json", "[embargo comp]", "completion", ""], lines[1..]);
    }

    [Fact]
    public async Task ZshAndPowerShellScriptsAskTheSuggestDirectiveAndAnUnknownShellIsExitCode2()
    {
        var zsh = await CliRunner.RunAsync("completion", "zsh");
        Assert.Equal(CliApp.Ok, zsh.Code);
        Assert.Contains("compdef _embargo embargo", zsh.Out);
        Assert.Contains("embargo \"[suggest:", zsh.Out);
        var pwsh = await CliRunner.RunAsync("completion", "pwsh");
        Assert.Equal(CliApp.Ok, pwsh.Code);
        Assert.Contains("Register-ArgumentCompleter -Native -CommandName embargo", pwsh.Out);
        Assert.Contains("embargo \"[suggest:", pwsh.Out);

        var fish = await CliRunner.RunAsync("completion", "fish");
        Assert.Equal(CliApp.BadInput, fish.Code);
        Assert.Contains("fish", fish.Error);
        Assert.Single(fish.Error.Trim().Split('\n'));
    }
}
