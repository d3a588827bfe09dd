// The floor under the gateway bench: the same server stack as `embargo gateway`, with none of the gateway's work.
//   kestrel URL ANSWER_FILE        Kestrel answers every request with the canned completion itself (no upstream)
//   passthrough URL UPSTREAM_URL   Kestrel + the gateway's upstream pool (GatewayHost.CreateUpstreamClient): the request
//                                  body goes upstream as it came, the answer's bytes come back as they came; no key, no
//                                  JSON, no screens, no audit
//   yarp URL UPSTREAM_CHAT_URL     Kestrel + YARP's direct forwarder (Yarp.ReverseProxy, MapForwarder, default transforms):
//                                  the well-kept proxy library the gateway issue names, forwarding as it came
// Both run on the gateway's own web host (GatewayHost.CreateWebBuilder) with socket completions on the socket threads, as
// `embargo gateway` does.
using System.Buffers;
using Embargo.Gateway;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

if (args.Length != 3 || args[0] is not ("kestrel" or "passthrough" or "yarp"))
{
    Console.Error.WriteLine("usage: kestrel URL ANSWER_FILE | passthrough URL UPSTREAM_CHAT_URL | yarp URL UPSTREAM_CHAT_URL");
    return 2;
}
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}
var builder = GatewayHost.CreateWebBuilder(args[1]);
if (args[0] == "yarp")
{
    builder.Services.AddHttpForwarder();
}
var app = builder.Build();
using var http = GatewayHost.CreateUpstreamClient(out var upstream);
if (args[0] == "yarp")
{
    // The request's path is appended to the prefix: /v1/chat/completions on the upstream, as the passthrough sends.
    app.MapForwarder("/v1/chat/completions", new Uri(args[2]).GetLeftPart(UriPartial.Authority));
}
else if (args[0] == "kestrel")
{
    var answer = await File.ReadAllBytesAsync(args[2]);
    app.MapPost("/v1/chat/completions", async ctx =>
    {
        await Drain(ctx.Request.Body, ctx.RequestAborted);
        ctx.Response.ContentType = "application/json";
        ctx.Response.ContentLength = answer.Length;
        await ctx.Response.Body.WriteAsync(answer, ctx.RequestAborted);
    });
}
else
{
    var target = new Uri(args[2]);
    app.MapPost("/v1/chat/completions", async ctx =>
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var length = await Drain(ctx.Request.Body, ctx.RequestAborted, buffer);
            if (length > buffer.Length)
            {
                ctx.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return;
            }
            using var request = new HttpRequestMessage(HttpMethod.Post, target) { Content = new ByteArrayContent(buffer, 0, length) };
            request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
            using var response = await upstream.SendAsync(request, ctx.RequestAborted);
            ctx.Response.StatusCode = (int)response.StatusCode;
            ctx.Response.ContentType = "application/json";
            ctx.Response.ContentLength = response.Content.Headers.ContentLength;
            await response.Content.CopyToAsync(ctx.Response.Body, ctx.RequestAborted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    });
}
await app.RunAsync();
return 0;

// Reads the whole body; what does not fit in `into` is read and counted, not kept (the caller refuses it).
static async Task<int> Drain(Stream body, CancellationToken ct, byte[]? into = null)
{
    var scratch = into ?? ArrayPool<byte>.Shared.Rent(16 * 1024);
    int total = 0, read;
    while ((read = await body.ReadAsync(scratch.AsMemory(Math.Min(total, scratch.Length - 1)), ct)) > 0)
    {
        total += read;
    }
    if (into is null)
    {
        ArrayPool<byte>.Shared.Return(scratch);
    }
    return total;
}
