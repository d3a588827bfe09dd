using System.CommandLine;
using Embargo.Contracts;

namespace Embargo.Cli.Infrastructure;

/// <summary>Options every server-facing verb shares, and the verb builder that wires them.</summary>
public static class Common
{
    public const string DefaultServer = "http://127.0.0.1:8700";

    public static readonly Option<string> Server = new("--server")
    {
        Description = "Embargo server URL (default: $EMBARGO_SERVER or " + DefaultServer + ")",
    };

    public static readonly Option<string> TokenEnv = new("--token-env")
    {
        Description = "environment variable holding your API token",
        DefaultValueFactory = _ => "EMBARGO_TOKEN",
    };

    public static readonly Option<bool> Json = new("--json") { Description = "print JSON for scripts" };

    public static EmbargoClient Client(ParseResult r)
    {
        var url = r.GetValue(Server) ?? Environment.GetEnvironmentVariable("EMBARGO_SERVER") ?? DefaultServer;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
        {
            throw new UserInputException($"--server '{url}' is not an http(s) URL");
        }
        var variable = r.GetValue(TokenEnv) ?? "EMBARGO_TOKEN";   // verbs without --token-env (public reads) still use the default
        var token = Environment.GetEnvironmentVariable(variable);
        return new EmbargoClient(uri, string.IsNullOrWhiteSpace(token) ? null : token.Trim());
    }

    /// <summary>A verb that calls the server and prints what it answers.</summary>
    public static Command Verb(string name, string description, Symbol[] symbols,
        Func<ParseResult, EmbargoClient, CancellationToken, Task<object>> run, string? title = null)
    {
        var command = new Command(name, description);
        foreach (var symbol in symbols)
        {
            switch (symbol)
            {
                case Option o: command.Add(o); break;
                case Argument a: command.Add(a); break;
            }
        }
        command.Add(Server);
        command.Add(TokenEnv);
        command.Add(Json);
        command.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            var result = await run(r, client, ct);
            if (result is not Output.AlreadyPrinted)
            {
                Output.Write(result, r.GetValue(Json), title);
            }
            return CliApp.Ok;
        });
        return command;
    }

    public static Command Group(string name, string description, params Command[] verbs)
    {
        var group = new Command(name, description);
        foreach (var verb in verbs)
        {
            group.Add(verb);
        }
        return group;
    }

    public static Option<string> Required(string name, string description) => new(name) { Description = description, Required = true };

    public static byte[] ReadBytes(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UserInputException($"cannot read {what} '{path}': {e.Message}");
        }
    }

    public static string ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UserInputException($"cannot read {what} '{path}': {e.Message}");
        }
    }
}
