using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Property tests over every JSON body of every POST endpoint, found in the server's own /openapi/v1.json (so a new
/// endpoint is covered without editing this file), and over the commitment parser through its endpoint. Every
/// generated body carries at least one defect that makes it invalid whatever else it holds (a control character,
/// an unknown member, a wrong type, a huge string, null for a required member or a list item, deep nesting, a
/// duplicate member, not an object at all); the answer must be exactly 400 (413 past the body limit), a one-line
/// ProblemDetails that names no .NET type, the server stays up, and the ledger does not grow. A fixed seed makes every run the same.
/// </summary>
public sealed class HostileBodyPropertyTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int Seed = 20_261_203;
    private const int CasesPerEndpoint = 16;

    private EmbargoHost Host => fixture.Host;

    private sealed record Endpoint(string Path, JsonObject Schema);

    private sealed record Attempt(string Description, byte[] Body, HttpStatusCode Expected);

    private async Task<(JsonObject Components, List<Endpoint> Endpoints)> PostEndpointsAsync()
    {
        var document = JsonNode.Parse(await Host.Anonymous.Service.OpenApiAsync("v1", default))!.AsObject();
        var components = document["components"]!["schemas"]!.AsObject();
        var endpoints = new List<Endpoint>();
        foreach (var (path, operations) in document["paths"]!.AsObject())
        {
            if (operations?["post"]?["requestBody"]?["content"]?["application/json"]?["schema"] is JsonObject schema)
            {
                endpoints.Add(new Endpoint(path, schema));
            }
        }
        return (components, endpoints);
    }

    [Fact]
    public async Task EveryHostileBodyOnEveryPostEndpointIsA4xxNeverA5xxAndTheLedgerDoesNotGrow()
    {
        var (components, endpoints) = await PostEndpointsAsync();
        Assert.True(endpoints.Count >= 20, $"the OpenAPI document lists {endpoints.Count} POST endpoints with a JSON body");
        var size = await LedgerSizeAsync(Host);
        var random = new Random(Seed);
        var generator = new Generator(random, components);
        var failures = new List<string>();
        var attempts = 0;
        foreach (var endpoint in endpoints)
        {
            for (var i = 0; i < CasesPerEndpoint; i++)
            {
                var attempt = generator.Hostile(endpoint.Schema, oversize: i == CasesPerEndpoint - 1 && endpoints.IndexOf(endpoint) % 5 == 0);
                var path = generator.FillPath(endpoint.Path);
                var (status, problem) = await PostAsync(path, attempt.Body);
                attempts++;
                var why = Check(attempt.Expected, status, problem);
                if (why is not null)
                {
                    failures.Add($"POST {path} [{attempt.Description}]: {why}");
                }
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {attempts} hostile bodies were not refused as expected:\n" + string.Join("\n", failures.Take(20)));
        Assert.Equal(size, await LedgerSizeAsync(Host));
        await AssertServerStillWorksAsync(size);
    }

    [Fact]
    public async Task RandomNestingAtTheCommitmentEndpointIsA400AndNeverTakesTheServerDown()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var random = new Random(Seed);
        var size = await LedgerSizeAsync(Host);
        var failures = new List<string>();
        string[] openers = ["(", "not ", "!", "(not ", "(!"];
        for (var i = 0; i < 60; i++)
        {
            // Depth past the parser's limit (but within the length limit), or 8,000 deep (past the contract's length limit).
            var depth = i % 10 == 0 ? 8000 : random.Next(Embargo.Evaluation.Commitment.MaxDepth + 1, 300);
            var opener = openers[random.Next(openers.Length)];
            var text = string.Concat(Enumerable.Repeat(opener, depth)) + "uplift(\"cyber-phishing\") > 0.1"
                + new string(')', opener.Contains('(', StringComparison.Ordinal) ? depth : 0) + " => max_tier(hosted)";
            var body = JsonSerializer.SerializeToUtf8Bytes(new { expression = text });
            var (status, problem) = await PostAsync($"/api/cases/{w.CaseId}/commitments", body, w.Tokens[w.Developer]);
            var expected = body.Length > 1 << 20 ? HttpStatusCode.RequestEntityTooLarge : HttpStatusCode.BadRequest;
            if (Check(expected, status, problem) is { } why)
            {
                failures.Add($"depth {depth} of '{opener}': {why}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.Equal(size, await LedgerSizeAsync(Host));
        // Still up, and a sane commitment is still accepted.
        var ok = await w.Developer.Cases.AddCommitmentAsync(w.CaseId,
            new AddCommitmentRequest { Expression = "((uplift(\"cyber-phishing\") >= 0.1)) and not p(\"cyber-phishing\") > 0.05 => max_tier(staged)" }, default);
        Assert.StartsWith("((uplift", ok.Expression, StringComparison.Ordinal);
    }

    private static string? Check(HttpStatusCode expected, HttpStatusCode status, JsonObject? problem)
    {
        if (status != expected)
        {
            return $"expected {(int)expected} but got {(int)status}: {Cut(problem?.ToJsonString())}";
        }
        if (problem?["detail"]?.GetValue<string>() is not { Length: > 0 } detail)
        {
            return $"no ProblemDetails detail: {Cut(problem?.ToJsonString())}";
        }
        if (detail.Contains('\n', StringComparison.Ordinal) || detail.Contains("   at ", StringComparison.Ordinal) || detail.Length > 2000)
        {
            return $"detail is not one short line: {Cut(detail)}";
        }
        if (DotNetName.Match(detail) is { Success: true } name)
        {
            return $"detail speaks .NET ('{name.Value}'), not the JSON the caller sent: {Cut(detail)}";
        }
        return null;
    }

    // "could not be converted to System.Int32", "type 'Embargo.Contracts.X'", "List`1": what the server is written in, not what was wrong.
    private static readonly System.Text.RegularExpressions.Regex DotNetName = new(@"\b(?:System|Embargo|Microsoft)\.[A-Z]\w*|`\d");

    private static string Cut(string? s) => s is null ? "(no body)" : s.Length > 300 ? s[..300] + "…" : s;

    private async Task AssertServerStillWorksAsync(long size)
    {
        using var health = await Host.Http.GetAsync(new Uri(Host.Url, "/healthz"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var org = await Host.Admin.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = "Still Standing" }, default);
        Assert.Equal("Still Standing", org.Name);
        Assert.Equal(size + 1, await LedgerSizeAsync(Host));
    }

    private async Task<(HttpStatusCode Status, JsonObject? Problem)> PostAsync(string path, byte[] body, string? token = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Host.Url, path)) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token ?? Host.AdminToken);
        request.Headers.ExpectContinue = body.Length > 65_536;
        using var response = await Host.Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonObject? problem = null;
        try
        {
            problem = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
        }
        catch (JsonException)
        {
        }
        return (response.StatusCode, problem);
    }

    /// <summary>Plausible bodies from the OpenAPI schemas, then defects.</summary>
    private sealed class Generator(Random random, JsonObject components)
    {
        // Always invalid in any string member (single-line or free text) and in any non-string member.
        private static readonly string[] HostileText = ["\u0000", "a\u001b[2Jb", "\u202eevil", "x\u0007", "\u0085", "\u007f", "\u2066x\u2069", "\u001b]0;title\u0007"];
        private static readonly string[] OddButFine = ["é", "ünïcödé", "🙂", "中文", "ℵ", "\u00a0", "a b"];
        private static readonly string[] PathIds = ["case_000000000000", "x", "%1B%5B2J", "%E2%80%AE", "%2E%2E%5C", new string('a', 200), "%F0%9F%99%82"];

        public string FillPath(string template)
        {
            var result = new StringBuilder();
            var i = 0;
            while (i < template.Length)
            {
                if (template[i] == '{')
                {
                    var end = template.IndexOf('}', i);
                    result.Append(PathIds[random.Next(PathIds.Length)]);
                    i = end + 1;
                }
                else
                {
                    result.Append(template[i++]);
                }
            }
            return result.ToString();
        }

        public Attempt Hostile(JsonObject schema, bool oversize)
        {
            if (oversize)
            {
                var big = Plausible(schema, 0) as JsonObject ?? [];
                big["zz_padding"] = new string('x', (1 << 20) + 10);
                return new Attempt("body over 1 MiB", Encoding.UTF8.GetBytes(big.ToJsonString()), HttpStatusCode.RequestEntityTooLarge);
            }
            var kind = random.Next(10);
            if (kind == 0)
            {
                return Raw();
            }
            var body = (JsonObject)Plausible(schema, 0)!;
            // Optional noise first: odd-but-valid text, nulls anywhere (may or may not be allowed).
            for (var n = random.Next(3); n > 0; n--)
            {
                if (RandomSlot(body) is { } slot)
                {
                    slot.Set(random.Next(2) == 0 ? null : JsonValue.Create(OddButFine[random.Next(OddButFine.Length)]));
                }
            }
            string description;
            switch (kind)
            {
                case 1:
                    description = "unknown member";
                    (RandomObject(body) ?? body)["zz_unknown_" + random.Next(1000)] = random.Next(2) == 0 ? JsonValue.Create(1) : new JsonArray();
                    break;
                case 2 when Resolve(schema)["required"] is JsonArray { Count: > 0 } required:
                    var name = required[random.Next(required.Count)]!.GetValue<string>();
                    description = $"null for required {name}";
                    body[name] = null;
                    break;
                case 3 when RandomListSlot(body) is { } list:
                    description = $"null item in {list.Name}";
                    list.List.Insert(random.Next(list.List.Count + 1), null);
                    break;
                case 4 when RandomSlot(body) is { } wrong:
                    description = $"wrong type for {wrong.Name}";
                    wrong.Set(wrong.Owner[wrong.Key] is JsonArray ? new JsonObject { ["x"] = 1 } : new JsonArray(new JsonObject()));
                    break;
                case 5 when RandomSlot(body) is { } huge:
                    description = $"huge string in {huge.Name}";
                    huge.Set(new string('x', 300_001));
                    break;
                case 6:
                    description = "deep nesting";
                    var depth = random.Next(100, 20_000);
                    var nested = random.Next(2) == 0
                        ? new string('[', depth) + new string(']', depth)
                        : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
                    var first = body.Select(p => p.Key).FirstOrDefault() ?? "x";
                    return new Attempt(description, Encoding.UTF8.GetBytes($"{{\"{first}\":{nested}}}"), HttpStatusCode.BadRequest);
                case 7:
                    description = "duplicate member";
                    var text = body.ToJsonString();
                    var key = body.Select(p => p.Key).FirstOrDefault();
                    return key is null
                        ? new Attempt("unknown member", "{\"zz\":1}"u8.ToArray(), HttpStatusCode.BadRequest)
                        : new Attempt(description, Encoding.UTF8.GetBytes(text.Insert(1, $"\"{key}\":{body[key]?.ToJsonString() ?? "null"},")), HttpStatusCode.BadRequest);
                default:
                    var slotForText = RandomSlot(body);
                    if (slotForText is null)
                    {
                        description = "unknown member";
                        body["zz"] = "\u0000";
                        break;
                    }
                    var hostile = HostileText[random.Next(HostileText.Length)];
                    description = $"hostile text {JsonSerializer.Serialize(hostile)} in {slotForText.Name}";
                    slotForText.Set(hostile + OddButFine[random.Next(OddButFine.Length)]);
                    break;
            }
            var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
            if (random.Next(8) == 0)
            {
                // A lone surrogate, escaped in the JSON text, in a hostile place is invalid too; add one to a copy of the defect.
                description += " + lone surrogate member";
                bytes = Encoding.UTF8.GetBytes(body.ToJsonString().Insert(1, "\"zz\\ud800\":\"\\udfff\","));
            }
            return new Attempt(description, bytes, HttpStatusCode.BadRequest);
        }

        private Attempt Raw()
        {
            byte[][] bodies = ["null"u8.ToArray(), "\"text\""u8.ToArray(), "42"u8.ToArray(), "[]"u8.ToArray(), "true"u8.ToArray(), [], "{"u8.ToArray(),
                [0xff, 0xfe, 0x7b, 0x7d], "{\"a\":\"\\ud800\"}"u8.ToArray(), "{\"\u0000\":1}"u8.ToArray(), "{}{}"u8.ToArray(), "{\"a\":1,}"u8.ToArray()];
            var pick = random.Next(bodies.Length);
            return new Attempt($"raw body #{pick}", bodies[pick], HttpStatusCode.BadRequest);
        }

        private JsonObject Resolve(JsonObject schema)
        {
            if (schema["$ref"]?.GetValue<string>() is { } reference)
            {
                return components[reference.Split('/')[^1]]!.AsObject();
            }
            if (schema["oneOf"] is JsonArray options)
            {
                return Resolve(options.OfType<JsonObject>().First(o => o["type"]?.ToString() != "null"));
            }
            return schema;
        }

        private static string TypeOf(JsonObject schema) => schema["type"] switch
        {
            JsonArray types => types.Select(t => t!.GetValue<string>()).First(t => t != "null"),
            JsonValue type => type.GetValue<string>(),
            _ => schema["format"]?.GetValue<string>() == "date-time" ? "date-time" : schema["properties"] is not null ? "object" : "string",
        };

        private JsonNode? Plausible(JsonObject raw, int depth)
        {
            var schema = Resolve(raw);
            switch (TypeOf(schema))
            {
                case "object":
                    var o = new JsonObject();
                    foreach (var (name, property) in schema["properties"]?.AsObject() ?? [])
                    {
                        o[name] = depth > 4 ? null : Plausible(property!.AsObject(), depth + 1);
                    }
                    return o;
                case "array":
                    var a = new JsonArray();
                    for (var n = random.Next(3); n > 0 && depth <= 4; n--)
                    {
                        a.Add(Plausible(schema["items"]!.AsObject(), depth + 1));
                    }
                    return a;
                case "integer":
                    return random.Next(100);
                case "number":
                    return Math.Round(random.NextDouble(), 3);
                case "boolean":
                    return random.Next(2) == 0;
                case "date-time":
                    return "2027-01-31T00:00:00Z";
                default:
                    return schema["format"]?.GetValue<string>() == "date-time" ? "2027-01-31T00:00:00Z" : "v" + random.Next(1000).ToString(CultureInfo.InvariantCulture);
            }
        }

        /// <summary>A member of some object in the body (not inside an array of scalars).</summary>
        private sealed record Slot(string Name, JsonObject Owner, string Key)
        {
            public void Set(JsonNode? value) => Owner[Key] = value;
        }

        private sealed record ListSlot(string Name, JsonArray List);

        private IEnumerable<(JsonObject Owner, string Path)> Objects(JsonObject node, string path)
        {
            yield return (node, path);
            foreach (var (key, child) in node.ToList())
            {
                if (child is JsonObject o)
                {
                    foreach (var inner in Objects(o, $"{path}{key}."))
                    {
                        yield return inner;
                    }
                }
                else if (child is JsonArray a)
                {
                    for (var i = 0; i < a.Count; i++)
                    {
                        if (a[i] is JsonObject item)
                        {
                            foreach (var inner in Objects(item, $"{path}{key}[{i}]."))
                            {
                                yield return inner;
                            }
                        }
                    }
                }
            }
        }

        private JsonObject? RandomObject(JsonObject body)
        {
            var all = Objects(body, "").Select(x => x.Owner).ToList();
            return all[random.Next(all.Count)];
        }

        /// <summary>A random member of the body or of an object nested in it.</summary>
        private Slot? RandomSlot(JsonObject body)
        {
            var slots = Objects(body, "").SelectMany(x => x.Owner.Select(p => new Slot(x.Path + p.Key, x.Owner, p.Key))).ToList();
            return slots.Count == 0 ? null : slots[random.Next(slots.Count)];
        }

        private ListSlot? RandomListSlot(JsonObject body)
        {
            var lists = Objects(body, "").SelectMany(x => x.Owner.Where(p => p.Value is JsonArray).Select(p => new ListSlot(x.Path + p.Key, (JsonArray)p.Value!))).ToList();
            return lists.Count == 0 ? null : lists[random.Next(lists.Count)];
        }
    }
}
