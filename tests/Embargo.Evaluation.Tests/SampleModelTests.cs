using System.Net.Http.Json;
using System.Text.Json;
using Embargo.SampleModel;
using Microsoft.Extensions.AI;

namespace Embargo.Evaluation.Tests;

public class SampleModelTests
{
    [Fact]
    public async Task TheModelListSaysEveryModelIsASample()
    {
        await using var server = await SampleModelServer.StartAsync();
        using var http = new HttpClient();
        using var resp = await http.GetAsync(new Uri(server.BaseUrl + "/models"));
        Assert.Equal("true", resp.Headers.GetValues(SampleModelServer.SampleHeader).Single());
        using var doc = JsonDocument.Parse(await resp.Content.ReadAsStringAsync());
        var models = doc.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["sample-camelid-7b", "sample-camelid-7b-mitigated", "sample-open-baseline", "sample-frontier"],
            models.Select(m => m.GetProperty("id").GetString()));
        Assert.All(models, m => Assert.Equal("embargo-sample", m.GetProperty("owned_by").GetString()));
        Assert.Equal(server.Models, models.Select(m => m.GetProperty("id").GetString()!));
    }

    [Fact]
    public async Task StreamingUsesTheChunkFormatWithUsageAndEndsWithDone()
    {
        await using var server = await SampleModelServer.StartAsync(new SampleModelOptions { Responder = _ => SampleReply.Text("ANSWER: B") });
        using var http = new HttpClient();
        using var resp = await http.PostAsJsonAsync(new Uri(server.BaseUrl + "/chat/completions"), new
        {
            model = "sample-camelid-7b",
            stream = true,
            stream_options = new { include_usage = true },
            messages = new[] { new { role = "user", content = "hi" } },
        });
        Assert.Equal("text/event-stream", resp.Content.Headers.ContentType!.MediaType);
        var events = (await resp.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        var text = string.Concat(chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Select(ch => ch.GetProperty("delta").TryGetProperty("content", out var x) ? x.GetString() : ""));
        Assert.Equal("ANSWER: B", text);
        Assert.Equal("stop", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[^1].GetProperty("choices").GetArrayLength());
        Assert.True(chunks[^1].GetProperty("usage").GetProperty("total_tokens").GetInt32() > 0);
    }

    [Fact]
    public async Task TheOfficialClientReadsStreamedAndUnstreamedAnswersFromTheBundledProfile()
    {
        await using var server = await SampleModelServer.StartAsync();
        var client = ChatClientFactory.Create(new ModelEndpoint { Url = server.BaseUrl, Name = "sample-camelid-7b" });
        // phish-001's target is A; the subject answers it correctly, the open baseline does not.
        var response = await client.GetResponseAsync("(SAMPLE phish-001) which sign?");
        Assert.Equal("ANSWER: A", response.Text);
        var streamed = string.Concat(await client.GetStreamingResponseAsync("(SAMPLE phish-001) which sign?").Select(u => u.Text).ToListAsync());
        Assert.Equal("ANSWER: A", streamed);
        var unknown = await client.GetResponseAsync("What is the airspeed of a swallow?");
        Assert.Equal(CapabilityProfile.LoadBundled().UnknownAnswer, unknown.Text);
    }

    [Fact]
    public async Task AnUnknownModelNameIsANotFoundError()
    {
        await using var server = await SampleModelServer.StartAsync();
        using var http = new HttpClient();
        using var resp = await http.PostAsJsonAsync(new Uri(server.BaseUrl + "/chat/completions"), new
        {
            model = "gpt-9",
            messages = new[] { new { role = "user", content = "hi" } },
        });
        Assert.Equal(System.Net.HttpStatusCode.NotFound, resp.StatusCode);
        Assert.Contains("gpt-9", await resp.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
