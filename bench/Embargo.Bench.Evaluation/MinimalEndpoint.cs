using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

/// <summary>A minimal OpenAI-compatible endpoint: drains the request, waits the latency, writes a canned completion.
/// Used with --minimal to measure how much of the server's CPU is the SAMPLE server's own request handling.</summary>
internal static class MinimalEndpoint
{
    private static readonly byte[] Canned = Encoding.UTF8.GetBytes(
        """{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"sample-camelid-7b","choices":[{"index":0,"message":{"role":"assistant","content":"ANSWER: yes"},"finish_reason":"stop"}],"usage":{"prompt_tokens":8,"completion_tokens":2,"total_tokens":10}}""");

    public static async Task<int> RunAsync(int latencyMs)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var latency = TimeSpan.FromMilliseconds(latencyMs);
        app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[{"id":"sample-camelid-7b","object":"model","created":1700000000,"owned_by":"embargo-bench"}]}""", "application/json"));
        app.MapPost("/v1/chat/completions", async (HttpContext ctx) =>
        {
            var buf = new byte[4096];
            while (await ctx.Request.Body.ReadAsync(buf) > 0)
            {
            }
            await Task.Delay(latency);
            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength = Canned.Length;
            await ctx.Response.Body.WriteAsync(Canned);
        });
        await app.StartAsync();
        var addr = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine(addr + "/v1");
        await Console.In.ReadLineAsync();
        await app.StopAsync();
        return 0;
    }
}
