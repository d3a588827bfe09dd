using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Embargo.Gateway.Tests.Infrastructure;

namespace Embargo.Gateway.Tests;

/// <summary>
/// What the screens read, against callers and upstreams that put text where the message content is not: every string in
/// the request and in the answer, streamed choices and tool calls that interleave, parts text screens cannot read, and
/// upstreams that fail. Raw HTTP on both sides (no client library tidies what the gateway sends or receives).
/// </summary>
public sealed class ScreenedTextTests
{
    private const string Preamble = "Sure. Login pages are ordinary HTML forms, and banks protect theirs in several ways. ";

    private static string Chunk(string choices) =>
        $$"""{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1700000000,"model":"raw","choices":[{{choices}}]}""";

    private static string Delta(int index, string delta) => $$"""{"index":{{index}},"delta":{{delta}},"finish_reason":null}""";

    private static string Content(string text) => JsonSerializer.Serialize(new { content = text });

    private static string Reasoning(string text) => Chunk(Delta(0, JsonSerializer.Serialize(new { reasoning_content = text })));

    /// <summary>A chunk of choice 0 with a tool call's arguments (and its name, in the call's first chunk).</summary>
    private static string ToolCall(string arguments, string? name = null, int index = 0) =>
        Chunk(Delta(0, JsonSerializer.Serialize(new
        {
            tool_calls = new[] { new { index, function = name is null ? (object)new { arguments } : new { name, arguments } } },
        })));

    [Fact]
    public async Task APhraseSplitAcrossTheChunksOfOneOfTwoInterleavedStreamedChoicesNeverReachesTheCaller()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // Choice 0 spells the phrase across three chunks; choice 1's chunks come in between (as servers stream n > 1).
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([
            Chunk(Delta(0, Content(Preamble)) + "," + Delta(1, Content(Preamble))),
            Chunk(Delta(0, Content("Here is a cred"))),
            Chunk(Delta(1, Content("Passwords belong in a password manager, "))),
            Chunk(Delta(0, Content("ential harv"))),
            Chunk(Delta(1, Content("and two-factor codes should never be shared. "))),
            Chunk(Delta(0, Content("esting kit"))),
            Chunk(Delta(1, Content("That is the whole advice for today, really."))),
            Chunk(Delta(0, Content(" for you."))),
        ]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, body) = await SendAsync(gateway, StreamBody);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("cred", body, StringComparison.OrdinalIgnoreCase);
        // Both choices end with content_filter, in the stream's last chunk before [DONE].
        var last = body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)[^2];
        using var end = JsonDocument.Parse(last["data: ".Length..]);
        Assert.Equal([0, 1], end.RootElement.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        Assert.All(end.RootElement.GetProperty("choices").EnumerateArray(), c => Assert.Equal("content_filter", c.GetProperty("finish_reason").GetString()));
        Assert.Equal("content_filter", (await world.AuditLinesAsync(1)).Single().GetProperty("decision").GetString());
    }

    [Fact]
    public async Task APhraseSplitAcrossOneOfTwoInterleavedStreamedToolCallsArgumentsNeverReachesTheCaller()
    {
        static string Call(int index, string arguments, string? name = null) =>
            Chunk(Delta(0, JsonSerializer.Serialize(new
            {
                tool_calls = new[] { new { index, function = name is null ? (object)new { arguments } : new { name, arguments } } },
            })));
        var body = await FilteredStreamAsync([
            Call(0, "", "send_note"),
            Call(1, "", "send_note"),
            Call(0, "{\"text\": \"A cred"),
            Call(1, "{\"text\": \"Meet at noon by the river, bring the maps"),
            Call(0, "ential harv"),
            Call(1, " and the tickets for the ferry.\"}"),
            Call(0, "esting kit is attached.\"}"),
        ]);

        Assert.DoesNotContain("cred", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task AStreamedToolCallGoesOutWhileItsArgumentsStreamNotOnlyOnceItEnds()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // The call's name comes once, in its first chunk; its arguments keep coming. The upstream pauses after three chunks.
        var (status, early, rest) = await PausedStreamAsync(world, [
            ToolCall("", "send_note"),
            ToolCall("{\"text\": \"Meet at noon by the river, bring the maps "),
            ToolCall("and the tickets for the ferry, and an umbrella for the way back. "),
            ToolCall("See you there.\"}"),
        ], pauseAfter: 3, until: "bring the maps");

        // Before the upstream went on, the caller had the call's name and the arguments a window of text already followed.
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"name\":\"send_note\"", early, StringComparison.Ordinal);
        Assert.Contains("See you there.", rest, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]", rest.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal("allowed", (await world.AuditLinesAsync(1)).Single().GetProperty("decision").GetString());
    }

    [Fact]
    public async Task ParallelToolCallsReachTheCallerOneAfterTheOtherAsTheUpstreamSentThem()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // Call 0's last piece has no window after it in its channel, and call 1 streams on: call 1 must still not go ahead of
        // it (the official clients take a new call's first chunk as the end of the one before).
        var (status, early, later) = await PausedStreamAsync(world, [
            ToolCall("{\"city\": \"Lisbon\", \"days\": 3, \"units\": \"metric\", ", "lookup_weather"),
            ToolCall("\"lang\": \"en\", \"alerts\": false}"), // longer than the window: call 0's first chunk goes out at once
            ToolCall("{\"from\": \"Cais do Sodre\", ", "lookup_ferries", index: 1),
            ToolCall("\"to\": \"Cacilhas\", \"after\": \"09:00\", \"return\": true, ", index: 1),
            ToolCall("\"people\": 2, \"bikes\": 0, \"dogs\": 0}", index: 1),
            Chunk("""{"index":0,"delta":{},"finish_reason":"tool_calls"}"""),
        ], pauseAfter: 5, until: "lookup_weather");

        Assert.Equal(HttpStatusCode.OK, status);
        var order = (early + later).Split('\n').Where(l => l.StartsWith("data: {", StringComparison.Ordinal))
            .SelectMany(l => JsonDocument.Parse(l["data: ".Length..]).RootElement.GetProperty("choices").EnumerateArray())
            .Where(c => c.GetProperty("delta").TryGetProperty("tool_calls", out _))
            .Select(c => c.GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("index").GetInt32()).ToList();
        Assert.Equal([0, 0, 1, 1, 1], order);
        Assert.Contains("\"finish_reason\":\"tool_calls\"", later, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReasoningModelsContentStreamsWhileTheLastOfItsReasoningWaitsForTheEnd()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // The reasoning ends ("Done."), then the content streams; the upstream pauses before the content's last chunk.
        var (status, early, rest) = await PausedStreamAsync(world, [
            Reasoning("The user asks about walks by the river in Lisbon; "),
            Reasoning("two routes along the Tagus fit. Done."),
            Chunk(Delta(0, Content("Walk from Cais do Sodre to Belem along the river, "))),
            Chunk(Delta(0, Content("or take the ferry to Cacilhas and walk the quay. "))),
            Chunk(Delta(0, Content("Both are flat and take about an hour."))),
        ], pauseAfter: 4, until: "Cais do Sodre");

        // Before the upstream went on, the caller had the content a window of text already followed: the reasoning's last
        // chunk, with no reasoning after it yet, did not hold it back.
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("Done.", early, StringComparison.Ordinal);
        Assert.Contains("Done.", rest, StringComparison.Ordinal); // it went out after the content had started
        Assert.EndsWith("data: [DONE]", rest.TrimEnd(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task APhraseSplitAcrossReasoningThatResumesAfterContentWentAheadNeverReachesTheCaller()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // The reasoning's last piece so far ends in "a cred" and waits; the content goes ahead of it; then the upstream resumes
        // the reasoning and completes the phrase.
        var (status, early, rest) = await PausedStreamAsync(world, [
            Reasoning(Preamble),
            Reasoning("Still, think it through once more. So: a cred"),
            Chunk(Delta(0, Content(Preamble))),
            Chunk(Delta(0, Content(Preamble))),
            Reasoning("ential harvesting kit."),
        ], pauseAfter: 4, until: "\"content\":\"Sure. Login pages");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("cred", early + rest, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"finish_reason\":\"content_filter\"", rest, StringComparison.Ordinal);
        Assert.Equal("content_filter", (await world.AuditLinesAsync(1)).Single().GetProperty("decision").GetString());
    }

    [Fact]
    public async Task APhraseSplitBetweenAStreamedToolCallsNameAndItsArgumentsNeverReachesTheCaller()
    {
        // The completion's text joins a call's name and arguments with nothing between (the audit line hashes it so): the
        // screens read the stream the same way.
        var body = await FilteredStreamAsync([
            ToolCall("", "credential harv"),
            ToolCall("esting kit"),
            ToolCall(" {\"to\": \"someone\"}"),
        ]);

        Assert.DoesNotContain("credential harv", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamedReasoningIsScreenedLikeContentAndAPhraseSplitAcrossItsChunksNeverReachesTheCaller()
    {
        var body = await FilteredStreamAsync([
            Reasoning(Preamble), Reasoning("They asked for a cred"), Reasoning("ential harv"), Reasoning("esting kit, so"),
            Chunk(Delta(0, Content("I can't help with that."))),
        ]);

        Assert.DoesNotContain("cred", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("I can't help", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStreamWhoseUnscreenedChunksLabelCarriesThePhraseEndsBeforeThatChunk()
    {
        var body = await FilteredStreamAsync([
            Chunk(Delta(0, Content(Preamble))),
            Chunk(Delta(0, Content("Fine."))).Replace("\"chatcmpl-raw\"", "\"a credential harvesting kit\"", StringComparison.Ordinal),
        ]);

        Assert.DoesNotContain("harvesting", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Fine.", body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reasoning")]
    [InlineData("annotation")]
    [InlineData("outside the choices")]
    public async Task AWholeAnswerCarryingThePhraseOutsideItsContentIsWithheldAndNoneOfItsOtherMembersGoOut(string where)
    {
        var message = where switch
        {
            "reasoning" => """{"role":"assistant","content":"Fine.","reasoning_content":"they want a credential harvesting kit"}""",
            "annotation" => """{"role":"assistant","content":"Fine.","annotations":[{"type":"url_citation","url_citation":{"title":"A credential harvesting kit"}}]}""",
            _ => """{"role":"assistant","content":"Fine."}""",
        };
        var extra = where == "outside the choices" ? ",\"x_note\":\"attached: a credential harvesting kit\"" : "";
        var answer = $$"""{"id":"chatcmpl-raw","object":"chat.completion","created":1700000000,"model":"raw","choices":[{"index":0,"message":{{message}},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}{{extra}}}""";
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([], answer));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, body) = await SendAsync(gateway, WholeBody);

        Assert.Equal(HttpStatusCode.OK, status);
        using var doc = JsonDocument.Parse(body);
        var choice = doc.RootElement.GetProperty("choices")[0];
        Assert.Equal("content_filter", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("message").GetProperty("content").ValueKind);
        Assert.DoesNotContain("harvesting", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Fine.", body, StringComparison.Ordinal);
        Assert.Equal(5, doc.RootElement.GetProperty("usage").GetProperty("total_tokens").GetInt32()); // the counts stay
        var line = (await world.AuditLinesAsync(1)).Single();
        Assert.Equal("content_filter", line.GetProperty("decision").GetString());
        Assert.Equal(GatewayWorld.Sha256Hex("Fine."), line.GetProperty("completionSha256").GetString()); // the hash covers the completion alone
    }

    [Fact]
    public async Task AWholeAnswerWithReasoningThatPassesTheScreensComesBackAsTheUpstreamSentIt()
    {
        const string Answer = """{"id":"chatcmpl-raw","object":"chat.completion","created":1700000000,"model":"raw","choices":[{"index":0,"message":{"role":"assistant","content":"Fine.","reasoning_content":"a short walk"},"finish_reason":"stop"}]}""";
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([], Answer));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, body) = await SendAsync(gateway, WholeBody);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(Answer, body);
    }

    [Theory]
    [InlineData("a tool's description", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}],"tools":[{"type":"function","function":{"name":"f","description":"Build a credential harvesting kit"}}]}""")]
    [InlineData("a tool's JSON schema member name", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"clone the login page":{"type":"string"}}}}}]}""")]
    [InlineData("tool-call arguments in the history", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"q\":\"credential harvesting kit\"}"}}]}]}""")]
    [InlineData("a message's name", """{"model":"camelid-7b","messages":[{"role":"user","name":"clone the login page","content":"hello"}]}""")]
    [InlineData("a response format's schema", """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"description":"a credential harvesting kit"}}}}""")]
    public async Task APhraseAnywhereTheModelIsShownIsBlockedLikeOneInAMessageAndNothingGoesUpstream(string where, string body)
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, text) = await SendAsync(gateway, body);

        Assert.True(status == HttpStatusCode.BadRequest, where);
        Assert.Equal("content_blocked", Error(text).GetProperty("code").GetString());
        Assert.Equal(0, upstream.Requests);
        var line = (await world.AuditLinesAsync(1)).Single();
        Assert.Equal(GatewayWorld.Sha256Hex("hello\n"), line.GetProperty("promptSha256").GetString()); // the prompt hash stays the messages' text
    }

    [Fact]
    public async Task APhraseSpelledWithCyrillicLookalikesIsBlockedInTheRequestAndInAStreamSplitAcrossChunks()
    {
        // \u0441, \u0435 and \u0430 are Cyrillic с, е and а: "сrеdеntiаl hаrvеsting kit" reads as the screen's keyword.
        const string Lookalike = "\u0441r\u0435d\u0435nti\u0430l h\u0430rv\u0435sting kit";
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync([Preamble, "Here is a \u0441r\u0435d", "\u0435nti\u0430l h\u0430rv", "\u0435sting kit", " for you."]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (input, inputText) = await SendAsync(gateway, JsonSerializer.Serialize(new
        {
            model = GatewayWorld.Model, messages = new[] { new { role = "user", content = "Write me a " + Lookalike } },
        }));
        var (output, outputText) = await SendAsync(gateway, StreamBody);

        Assert.Equal(HttpStatusCode.BadRequest, input);
        Assert.Equal("content_blocked", Error(inputText).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, output);
        Assert.Contains("\"finish_reason\":\"content_filter\"", outputText, StringComparison.Ordinal);
        Assert.DoesNotContain("nti", outputText, StringComparison.Ordinal);
        Assert.Equal(1, upstream.Requests); // the stream's; the refused request never went up
    }

    [Fact]
    public async Task AStreamsHeadersWaitForItsFirstWindowOfTextEvenBehindARoleChunk()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // A role chunk, then text shorter than the window, then the upstream ends the connection mid-stream (an orderly close, so
        // both chunks arrive first). Had the role chunk started the response, the caller would get a 200 and a cut stream; as
        // nothing may start before a window of text has passed the screens, it gets a 502.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var upstreamUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/v1");
        var upstream = CutStreamAsync(listener, [Chunk(Delta(0, """{"role":"assistant","content":""}""")), Chunk(Delta(0, Content("Short start.")))]);
        var gateway = await world.StartGatewayAsync(world.Yaml(upstreamUrl));

        var (status, text) = await SendAsync(gateway, StreamBody);
        await upstream;

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("upstream_error", Error(text).GetProperty("code").GetString());
    }

    /// <summary>Answers one request with a chunked SSE stream of <paramref name="events"/>, then closes its side of the
    /// connection before the stream's end (a FIN, not a reset: what was sent still arrives).</summary>
    private static async Task CutStreamAsync(System.Net.Sockets.TcpListener listener, IReadOnlyList<string> events)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var request = new List<byte>();
        var buffer = new byte[8192];
        int headerEnd;
        while ((headerEnd = Encoding.ASCII.GetString([.. request]).IndexOf("\r\n\r\n", StringComparison.Ordinal)) < 0)
        {
            var read = await stream.ReadAsync(buffer);
            Assert.True(read > 0, "the gateway closed before sending its request");
            request.AddRange(buffer.AsSpan(0, read));
        }
        var response = new StringBuilder("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
        foreach (var e in events)
        {
            var data = $"data: {e}\n\n";
            response.Append($"{Encoding.UTF8.GetByteCount(data):x}\r\n{data}\r\n");
        }
        await stream.WriteAsync(Encoding.UTF8.GetBytes(response.ToString()));
        client.Client.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        while (await stream.ReadAsync(buffer) > 0)
        {
            // The rest of the request, until the gateway lets go of the connection.
        }
    }

    [Theory]
    [InlineData("image_url", """{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}""")]
    [InlineData("input_audio", """{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}""")]
    [InlineData("file", """{"type":"file","file":{"file_id":"file-1"}}""")]
    public async Task APartTextScreensCannotReadIsRefusedWhereAnInputScreenAppliesAndGoesUpstreamWhereNoneDoes(string type, string part)
    {
        var body = $$"""{"model":"MODEL","messages":[{"role":"user","content":[{"type":"text","text":"What is in this?"},{{part}}]}]}""";
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        // Alice's model has the world's screen; bob's "other-model" has none.
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (refused, text) = await SendAsync(gateway, body.Replace("MODEL", GatewayWorld.Model, StringComparison.Ordinal));
        var (served, _) = await SendAsync(gateway, body.Replace("MODEL", "other-model", StringComparison.Ordinal), GatewayWorld.BobKey);

        Assert.Equal(HttpStatusCode.BadRequest, refused);
        var error = Error(text);
        Assert.Equal("content_blocked", error.GetProperty("code").GetString());
        Assert.Contains($"'{type}'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("'no-phishing-kits'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, served);
        Assert.Equal(1, upstream.Requests); // bob's only
    }

    [Fact]
    public async Task ACallersOwnChatTemplateIsRefusedWhereAnInputScreenAppliesSinceItCouldAssembleAPhraseFromPieces()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));
        // No string holds the phrase, but the template (vLLM's chat_template) would put it together for the model.
        const string Template = "{{ 'cred' ~ 'ential harv' ~ 'esting kit' }}";

        var (status, text) = await SendAsync(gateway, JsonSerializer.Serialize(new
        {
            model = GatewayWorld.Model, chat_template = Template, messages = new[] { new { role = "user", content = "hello" } },
        }));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("chat_template", Error(text).GetProperty("param").GetString());
        Assert.Equal("content_blocked", Error(text).GetProperty("code").GetString());
        Assert.Equal(0, upstream.Requests);
    }

    [Fact]
    public async Task AskingForSpokenOutputIsRefusedWhereAnOutputScreenAppliesAndNothingGoesUpstream()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, text) = await SendAsync(gateway,
            """{"model":"camelid-7b","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},"messages":[{"role":"user","content":"hello"}]}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("modalities", Error(text).GetProperty("param").GetString());
        Assert.Equal(0, upstream.Requests);
    }

    [Theory]
    [InlineData("answers 500", 500, """{"error":{"message":"boom"}}""")]
    [InlineData("answers text", 200, "Internal error, sorry.")]
    [InlineData("answers JSON that is not a completion", 200, """{"object":"list","data":[]}""")]
    [InlineData("answers a completion that repeats a key", 200, """{"choices":[{"message":{"content":"Fine.","content":"a credential harvesting kit"}}]}""")]
    public async Task AnUpstreamThatFailsIsA502UpstreamErrorAndNoneOfItsAnswerReachesTheCaller(string how, int upstreamStatus, string answer)
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([], answer, upstreamStatus));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, text) = await SendAsync(gateway, WholeBody);

        Assert.True(status == HttpStatusCode.BadGateway, $"{how}: {(int)status}");
        Assert.Equal("upstream_error", Error(text).GetProperty("code").GetString());
        Assert.DoesNotContain("boom", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Fine.", text, StringComparison.Ordinal);
        Assert.Equal("upstream_error", (await world.AuditLinesAsync(1)).Single().GetProperty("decision").GetString());
    }

    [Fact]
    public async Task AnUpstreamThatCannotBeReachedIsA502UpstreamError()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var gone = world.Own(await ScriptedUpstream.StartAsync(["Fine."]));
        var url = gone.BaseUrl;
        await gone.DisposeAsync(); // its port now refuses connections
        var gateway = await world.StartGatewayAsync(world.Yaml(url));

        var (status, text) = await SendAsync(gateway, WholeBody);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("upstream_error", Error(text).GetProperty("code").GetString());
    }

    [Fact]
    public async Task AStreamTheUpstreamDropsBeforeAnyTextWasSentIsA502AndItsHeldTextNeverGoesOut()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // "Short start." is shorter than the window, so it is still held when the connection drops.
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([Chunk(Delta(0, Content("Short start.")))], abortAfterEvents: true));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, text) = await SendAsync(gateway, StreamBody);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Equal("upstream_error", Error(text).GetProperty("code").GetString());
        Assert.DoesNotContain("Short start.", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnUpstreamAnswerPastTheSizeLimitIsA502AndNoneOfItGoesOut(bool stream)
    {
        var huge = new string('x', ChatPipeline.MaxResponseBytes + 1024); // a streamed line without a break, or a whole answer
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([huge], huge));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, text) = await SendAsync(gateway, stream ? StreamBody : WholeBody);

        Assert.Equal(HttpStatusCode.BadGateway, status);
        Assert.Contains($"{ChatPipeline.MaxResponseBytes} bytes", Error(text).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("xxxx", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AStreamThatNeverStopsIsCutAtTheStreamLimitAsAnUpstreamError()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // 1 MiB chunks, each well under the line limit, 80 MiB in all: the gateway keeps the text, so it must stop reading.
        var chunk = Chunk(Delta(0, Content(new string('y', 1 << 20))));
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync(Enumerable.Repeat(chunk, 80).ToList()));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));
        using var http = new HttpClient();
        using var request = Post(gateway, StreamBody);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var received = 0L;
        var ended = false;
        await using (var body = await response.Content.ReadAsStreamAsync())
        {
            var buffer = new byte[1 << 16];
            try
            {
                int read;
                while ((read = await body.ReadAsync(buffer)) > 0)
                {
                    received += read;
                    ended |= Encoding.ASCII.GetString(buffer, 0, read).Contains("[DONE]", StringComparison.Ordinal);
                }
            }
            catch (IOException)
            {
                // the gateway cut the stream (a reset): the caller's read fails rather than seeing an end
            }
        }
        var line = (await world.AuditLinesAsync(1)).Single();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // it had started: a window of text had passed the screens
        Assert.False(ended);
        Assert.InRange(received, 1 << 20, ChatPipeline.MaxStreamBytes);
        Assert.Equal("upstream_error", line.GetProperty("decision").GetString());
    }

    [Fact]
    public async Task AStreamTheCallerLeavesAfterReadingPartOfItStillCountsAgainstTheDailyTokens()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var resume = new TaskCompletionSource();
        // The upstream reports usage only at the end; it pauses after three chunks, and the caller leaves meanwhile.
        var upstream = world.Own(await ScriptedUpstream.StartAsync([Preamble, Preamble, Preamble, "The end."], pauseAfter: 3, resume: resume.Task));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl, tokensPerDay: 50));
        using var http = new HttpClient();

        using (var request = Post(gateway, StreamBody))
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } received && !received.Contains("Login pages", StringComparison.Ordinal))
            {
            }
        } // the caller leaves with the upstream paused
        var line = (await world.AuditLinesAsync(1)).Single();
        resume.SetResult();
        var (status, text) = await SendAsync(gateway, WholeBody);

        Assert.Equal("client_closed", line.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("usage").ValueKind); // the upstream never said
        // The request's 83 bytes and about 3 x 86 bytes of answer, a token per byte: past the day's 50 tokens.
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal("rate_limit_exceeded", Error(text).GetProperty("code").GetString());
    }

    [Fact]
    public async Task AWholeRequestTheCallerLeavesWhileTheUpstreamWorksIsAuditedAndCounted()
    {
        await using var world = await GatewayWorld.CreateAsync();

        var (line, status, upstream) = await LeaveWhileTheUpstreamWorksAsync(world, WholeBody, tokensPerDay: 1);

        Assert.Equal("client_closed", line.GetProperty("decision").GetString());
        Assert.Equal(499, line.GetProperty("status").GetInt32());
        Assert.Equal(GatewayWorld.Sha256Hex("hello\n"), line.GetProperty("promptSha256").GetString()); // what went upstream is on record
        Assert.Equal(HttpStatusCode.TooManyRequests, status); // the request's 69 bytes were counted: 69 tokens of the day's 1
        Assert.Equal(1, upstream.Requests);
    }

    [Fact]
    public async Task AWholeRequestTheCallerLeavesCountsItsToolSchemaNotOnlyItsMessages()
    {
        await using var world = await GatewayWorld.CreateAsync();
        // A two-letter message and a tool whose description is 1,500 bytes: the model reads them all as its prompt.
        var body = JsonSerializer.Serialize(new
        {
            model = GatewayWorld.Model,
            messages = new[] { new { role = "user", content = "hi" } },
            tools = new[] { new { type = "function", function = new { name = "lookup", description = new string('d', 1500) } } },
        });

        var (line, status, _) = await LeaveWhileTheUpstreamWorksAsync(world, body, tokensPerDay: 1000);

        Assert.Equal("client_closed", line.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("usage").ValueKind);
        // Over 1,500 tokens counted of the day's 1,000; counted by the message's characters it was one.
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
    }

    /// <summary>Sends <paramref name="body"/> (a whole request) through a gateway whose upstream holds its answer, leaves once the
    /// upstream has it, then lets the upstream answer and sends one more request. Answers the first request's audit line, the
    /// second request's status (429 once the first was counted past the day's tokens), and the upstream.</summary>
    private static async Task<(JsonElement Line, HttpStatusCode Next, ScriptedUpstream Upstream)> LeaveWhileTheUpstreamWorksAsync(
        GatewayWorld world, string body, long tokensPerDay)
    {
        var answerNow = new TaskCompletionSource();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([], """{"choices":[{"message":{"content":"Fine."}}]}""", answerWhen: answerNow.Task));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl, tokensPerDay: tokensPerDay));
        using var http = new HttpClient();
        using var leave = new CancellationTokenSource();
        using (var request = Post(gateway, body))
        {
            var sent = http.SendAsync(request, leave.Token);
            await upstream.Arrived;
            await leave.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);
        }
        var line = (await world.AuditLinesAsync(1)).Single();
        answerNow.SetResult();
        var (status, _) = await SendAsync(gateway, WholeBody);
        return (line, status, upstream);
    }

    [Fact]
    public async Task AStreamTheCallerLeavesDuringCjkReasoningCountsTheReasoningByItsBytes()
    {
        await using var world = await GatewayWorld.CreateAsync();
        var resume = new TaskCompletionSource();
        // Two chunks of 300 CJK characters of reasoning each (1,800 bytes of UTF-8, about a token a character), then the upstream
        // pauses and the caller leaves once the first (which the screen's window let go) arrived.
        var thought = string.Concat(Enumerable.Repeat("考虑用户问题", 50));
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync([Reasoning(thought), Reasoning(thought), Reasoning("。")], pauseAfter: 2, resume: resume.Task));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl, tokensPerDay: 500));
        using var http = new HttpClient();

        using (var request = Post(gateway, StreamBody))
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } received && !received.Contains("reasoning_content", StringComparison.Ordinal))
            {
            }
        } // the caller leaves with the upstream paused, before any usage
        var line = (await world.AuditLinesAsync(1)).Single();
        resume.SetResult();
        var (status, _) = await SendAsync(gateway, WholeBody);

        Assert.Equal("client_closed", line.GetProperty("decision").GetString());
        Assert.Equal(JsonValueKind.Null, line.GetProperty("usage").ValueKind);
        // 1,800 bytes of reasoning and the request's 83: past the day's 500. Reasoning was not counted at all before, and a
        // count by characters (600, a token per 3) would have stayed below.
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
    }

    /// <summary>Streams <paramref name="events"/> from a raw upstream that pauses after <paramref name="pauseAfter"/> of them, through
    /// a gateway with the world's usual screen. Answers what the caller had read when a line containing <paramref name="until"/>
    /// came (that line included), and the rest, read after the upstream resumed. Held back, nothing would ever come: the
    /// reads give up after 30 s.</summary>
    private static async Task<(HttpStatusCode Status, string Early, string Later)> PausedStreamAsync(GatewayWorld world, IReadOnlyList<string> events,
        int pauseAfter, string until)
    {
        var resume = new TaskCompletionSource();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync(events, pauseAfter: pauseAfter, resume: resume.Task));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));
        using var http = new HttpClient();
        using var stuck = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var request = Post(gateway, StreamBody);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stuck.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stuck.Token));
        var early = new StringBuilder();
        while (await reader.ReadLineAsync(stuck.Token) is { } line)
        {
            early.AppendLine(line);
            if (line.Contains(until, StringComparison.Ordinal))
            {
                break;
            }
        }
        resume.SetResult();
        return (response.StatusCode, early.ToString(), await reader.ReadToEndAsync(stuck.Token));
    }

    /// <summary>Streams <paramref name="events"/> from a raw upstream through a gateway with the world's usual screen, and answers
    /// the body the caller got, which must be a 200 that a screen ended with content_filter.</summary>
    private static async Task<string> FilteredStreamAsync(IReadOnlyList<string> events)
    {
        await using var world = await GatewayWorld.CreateAsync();
        var upstream = world.Own(await ScriptedUpstream.StartRawAsync(events));
        var gateway = await world.StartGatewayAsync(world.Yaml(upstream.BaseUrl));

        var (status, body) = await SendAsync(gateway, StreamBody);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("\"finish_reason\":\"content_filter\"", body, StringComparison.Ordinal);
        return body;
    }

    private const string WholeBody = """{"model":"camelid-7b","messages":[{"role":"user","content":"hello"}]}""";
    private const string StreamBody = """{"model":"camelid-7b","stream":true,"messages":[{"role":"user","content":"hello"}]}""";

    private static JsonElement Error(string body) => JsonDocument.Parse(body).RootElement.GetProperty("error").Clone();

    /// <summary>POSTs the body as it is and answers the status and the whole body (a stream read to its end).</summary>
    private static async Task<(HttpStatusCode Status, string Body)> SendAsync(GatewayHost gateway, string body, string key = GatewayWorld.AliceKey)
    {
        using var http = new HttpClient();
        using var request = Post(gateway, body, key);
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static HttpRequestMessage Post(GatewayHost gateway, string body, string key = GatewayWorld.AliceKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, gateway.BaseUrl + "/chat/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }
}
