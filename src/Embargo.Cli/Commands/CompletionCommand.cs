using System.CommandLine;
using Embargo.Cli.Infrastructure;

namespace Embargo.Cli.Commands;

/// <summary>
/// `embargo completion bash|zsh|pwsh`: a shell completion script. The script asks `embargo` itself what may come next,
/// through System.CommandLine's suggest directive (<c>embargo "[suggest:POSITION]" "COMMAND LINE"</c>), so subcommands,
/// options and option values complete from the one command tree and never go stale.
/// </summary>
public static class CompletionCommand
{
    public static readonly IReadOnlyList<string> Shells = ["bash", "zsh", "pwsh"];

    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "bash, zsh or pwsh" };
        shell.AcceptOnlyFromAmong([.. Shells]);
        var command = new Command("completion", """
            print a shell completion script for subcommands and options:
              bash: source <(embargo completion bash)     (or add that line to ~/.bashrc)
              zsh:  source <(embargo completion zsh)      (after compinit, in ~/.zshrc)
              pwsh: embargo completion pwsh | Out-String | Invoke-Expression   (in $PROFILE)
            """) { shell };
        command.SetAction(r =>
        {
            Console.Out.Write(Script(r.GetValue(shell)!));
            return CliApp.Ok;
        });
        return command;
    }

    public static string Script(string shell) => shell switch
    {
        "bash" => """
            # bash completion for embargo (from `embargo completion bash`)
            _embargo_complete()
            {
                local IFS=$'\n'
                local line="${COMP_LINE:0:$COMP_POINT}"
                local word="${COMP_WORDS[COMP_CWORD]}"
                COMPREPLY=( $(compgen -W "$(embargo "[suggest:${#line}]" "$line" 2>/dev/null)" -- "$word") )
            }
            complete -o default -F _embargo_complete embargo

            """,
        "zsh" => """
            #compdef embargo
            # zsh completion for embargo (from `embargo completion zsh`)
            _embargo() {
                local line="${words[1,CURRENT]}"
                local -a suggestions
                suggestions=("${(@f)$(embargo "[suggest:${#line}]" "$line" 2>/dev/null)}")
                compadd -- "${(@)suggestions:#}"
            }
            if (( $+functions[compdef] )); then
                compdef _embargo embargo
            else
                print -u2 "embargo completion: run compinit first (autoload -Uz compinit && compinit)"
            fi

            """,
        "pwsh" => """
            # PowerShell completion for embargo (from `embargo completion pwsh`)
            Register-ArgumentCompleter -Native -CommandName embargo -ScriptBlock {
                param($wordToComplete, $commandAst, $cursorPosition)
                $line = $commandAst.ToString()
                $position = [Math]::Min($line.Length, $cursorPosition - $commandAst.Extent.StartOffset)
                embargo "[suggest:$position]" "$line" 2>$null | ForEach-Object {
                    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
                }
            }

            """,
        _ => throw new UserInputException($"completion: unknown shell '{shell}' (bash, zsh or pwsh)"),
    };
}
