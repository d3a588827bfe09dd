using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.SampleModel;

namespace Embargo.Cli.Commands;

/// <summary>`embargo sample-model serve`: hosts the project's SAMPLE model (not a real model).</summary>
public static class SampleModelCommands
{
    public static Command Create()
    {
        var port = new Option<int>("--port") { Description = "Port on 127.0.0.1 (0 = pick a free port).", DefaultValueFactory = _ => 0 };
        var latency = new Option<int>("--latency-ms") { Description = "Added latency per response, in milliseconds.", DefaultValueFactory = _ => 0 };
        var step = new Option<int>("--finetune-step-ms") { Description = "Duration of each fine-tuning stage and training step, in milliseconds.", DefaultValueFactory = _ => 200 };
        var serve = new Command("serve", "Serve the SAMPLE model (OpenAI-compatible /v1, with its fine-tuning API) until Ctrl-C.") { port, latency, step };
        serve.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var p = r.GetValue(port);
            if (p is < 0 or > 65535)
            {
                throw new UserInputException($"--port {p} is not a port number");
            }
            var ms = r.GetValue(latency);
            if (ms < 0)
            {
                throw new UserInputException("--latency-ms must not be negative");
            }
            var stepMs = r.GetValue(step);
            if (stepMs is < 0 or > 3_600_000)
            {
                throw new UserInputException("--finetune-step-ms must be 0–3600000");
            }
            SampleModelServer server;
            try
            {
                server = await SampleModelServer.StartAsync(new SampleModelOptions
                {
                    Url = $"http://127.0.0.1:{p}",
                    Latency = TimeSpan.FromMilliseconds(ms),
                    RecordRequests = false,
                    FineTuneStep = TimeSpan.FromMilliseconds(stepMs),
                }, ct);
            }
            catch (Exception e) when (ListenUrls.CannotBind(e))
            {
                // Like --urls of the other listening commands: the argument to change, exit code 2.
                throw new UserInputException($"--port {p}: cannot listen on 127.0.0.1:{p}: {e.Message.ReplaceLineEndings(" ")}");
            }
            await using (server)
            {
                Console.WriteLine(server.BaseUrl);
                await Console.Error.WriteLineAsync($"SAMPLE model (not a real model) serving {string.Join(", ", server.Models)}; Ctrl-C to stop.");
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C
                }
            }
            return CliApp.Ok;
        });
        return new Command("sample-model", "The project's SAMPLE model for demos and tests.") { serve };
    }
}
