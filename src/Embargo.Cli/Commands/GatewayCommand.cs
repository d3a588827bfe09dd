using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Gateway;
using Embargo.Protocol;

namespace Embargo.Cli.Commands;

/// <summary>`embargo gateway --config gateway.yaml --urls URL [--redis HOST:PORT]`: the standalone structured-access gateway.
/// A branch: subcommands (e.g. `embargo gateway grant`) are added to <see cref="Create"/>'s command.</summary>
public static class GatewayCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "the gateway's YAML file (README: Gateway)", Required = true };
        var urls = new Option<string>("--urls") { Description = "where to listen (https:// with the file's tls)", DefaultValueFactory = _ => "http://127.0.0.1:8800" };
        var redis = new Option<string>("--redis") { Description = "HOST:PORT of a Redis shared by every replica (rate limits and quotas); default: the file's, else in memory" };
        var command = new Command("gateway", "run the OpenAI-compatible structured-access gateway in front of certified models") { config, urls, redis };
        foreach (var verb in GatewayServerCommands.Verbs())
        {
            command.Add(verb);
        }
        command.SetAction(async (r, ct) =>
        {
            var listen = ListenUrls.Check(r.GetValue(urls)!, https: true); // https:// with the file's tls
            var loaded = GatewayConfigLoader.Load(r.GetValue(config)!);
            if (!loaded.IsOk)
            {
                throw new UserInputException(loaded.Error!.Message);
            }
            InlineSocketCompletions();
            Result<GatewayHost> started;
            try
            {
                started = await GatewayHost.StartAsync(loaded.Value, new GatewayRunOptions { Urls = listen, Redis = r.GetValue(redis) }, ct);
            }
            catch (Exception e) when (ListenUrls.CannotBind(e))
            {
                throw ListenUrls.BindFailure(listen, e);
            }
            if (!started.IsOk)
            {
                throw new UserInputException(started.Error!.Message);
            }
            try
            {
                await using var gateway = started.Value;
                foreach (var upstream in gateway.Config.Upstreams)
                {
                    Output.Note(upstream.Certificate.Refusal is { } refusal
                        ? $"{upstream.Name}: NOT SERVED: {refusal}"
                        : $"{upstream.Name}: certified up to {upstream.Certificate.CertifiedTier!.Value.ToString().ToLowerInvariant()}");
                }
                Output.Note($"Embargo gateway listening on {gateway.BaseUrl} ({gateway.Config.GrantsByKeySha256.Count} grants, {gateway.Config.Screens.Count} screens); Ctrl-C stops it");
                await gateway.WaitForShutdownAsync(ct);
                return CliApp.Ok;
            }
            catch (AuditNotWrittenException e) when (e.SavedTo is null)
            {
                // Nowhere to save the last audit lines: they go to standard error after the one-line error, not into the void.
                await Console.Error.WriteLineAsync($"embargo: {Output.Safe(e.Message)}; the lines follow");
                await Console.Error.FlushAsync(CancellationToken.None);
                await using var stderr = Console.OpenStandardError();
                await stderr.WriteAsync(e.Lines, CancellationToken.None);
                return CliApp.Failed;
            }
        });
        return command;
    }

    /// <summary>
    /// Socket completions run on the socket engine's own threads (one per core) instead of being handed to the thread pool:
    /// on a small machine a request then costs fewer thread hand-offs and context switches (bench/README.md, "Gateway").
    /// .NET reads the switch once, when the process's first socket is created: in `embargo gateway` none exists yet (in a test
    /// host that already has sockets this changes nothing).
    /// The gateway's request path never blocks a thread (every wait is awaited), which is what this mode requires, and an output
    /// screen whose regex may backtrack (up to its timeout) moves to a pool thread first (ModelScreens.LeaveSocketThreadAsync).
    /// </summary>
    private static void InlineSocketCompletions()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
        {
            Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
        }
    }
}
