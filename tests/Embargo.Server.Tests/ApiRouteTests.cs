using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Embargo.Contracts;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Embargo.Server.Tests;

/// <summary>The typed client and the server cannot drift: every route the server maps is in ApiRoutes, and every route there has a client method.</summary>
public sealed class ApiRouteTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    private static string Key(string method, string template) => $"{method} {(template.Length > 1 ? template.TrimEnd('/') : template)}";

    /// <summary>(method, template) of every endpoint in the running server's route table.</summary>
    private HashSet<string> ServerRoutes()
    {
        var routes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var template = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            if (template == "/ui" || template.StartsWith("/ui/", StringComparison.Ordinal) || template.StartsWith("/_framework/", StringComparison.Ordinal))
            {
                continue; // the web UI (and the Razor components' own redirect helper): HTML for browsers, not routes of the typed client
            }
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            foreach (var method in methods)
            {
                routes.Add(Key(method, template));
            }
        }
        return routes;
    }

    [Fact]
    public void EveryEndpointTheServerMapsIsARouteOfTheTypedClientAndNoOtherRouteIs()
    {
        var server = ServerRoutes();
        var client = ApiRoutes.All.Select(r => Key(r.Method, r.Template)).ToHashSet(StringComparer.Ordinal);
        Assert.True(server.Count > 50, $"the server's route table looks empty: {string.Join(", ", server)}");
        var missing = server.Except(client).Order(StringComparer.Ordinal).ToList();
        var stale = client.Except(server).Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "mapped by the server but not in ApiRoutes: " + string.Join(", ", missing));
        Assert.True(stale.Count == 0, "in ApiRoutes but not mapped by the server: " + string.Join(", ", stale));
        Assert.Equal(ApiRoutes.All.Count, client.Count);
    }

    [Fact]
    public async Task EveryRouteHasATypedClientMethodThatSendsToIt()
    {
        // Anonymous: every write is refused at the door (401), so calling each method changes nothing.
        var sent = new List<(string Method, string Path)>();
        using var http = new HttpClient(new Recorder(sent, new HttpClientHandler()));
        var client = new EmbargoClient(Host.Url, null, http);
        var areas = typeof(EmbargoClient).GetProperties().Where(p => p.PropertyType.Name.EndsWith("Api", StringComparison.Ordinal)).ToList();
        var calls = 0;
        foreach (var area in areas)
        {
            var target = area.GetValue(client)!;
            foreach (var method in area.PropertyType.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                var before = sent.Count;
                var task = (Task)method.Invoke(target, method.GetParameters().Select(Argument).ToArray())!;
                var answer = await Record.ExceptionAsync(() => task);
                // The only acceptable failure is the server's own answer (401, 404, 400): the request was sent and understood.
                Assert.True(answer is null or ApiException, $"{area.Name}.{method.Name}: {answer}");
                Assert.True(sent.Count == before + 1, $"{area.Name}.{method.Name} sent {sent.Count - before} requests");
                calls++;
            }
        }
        Assert.Equal(calls, sent.Count);
        var unreached = ApiRoutes.All.Where(r => !sent.Any(s => s.Method == r.Method && Pattern(r).IsMatch(s.Path))).Select(r => r.ToString()).ToList();
        Assert.True(unreached.Count == 0, "routes no typed method sends to: " + string.Join(", ", unreached));
        var unknown = sent.Where(s => !ApiRoutes.All.Any(r => s.Method == r.Method && Pattern(r).IsMatch(s.Path))).ToList();
        Assert.True(unknown.Count == 0, "requests to no route: " + string.Join(", ", unknown));
    }

    [Fact]
    public void RouteValuesAndQueryValuesAreEscaped()
    {
        var call = ApiRoutes.Cases.AcceptThreatModel.With("case/../x", "tm?y=1");
        Assert.Equal("/api/cases/case%2F..%2Fx/threat-models/tm%3Fy%3D1/accept", call.Path);
        Assert.Equal("POST", call.Method);
        var query = ApiRoutes.Violations.List.With().Query(("status", "a&b=c"), ("organisation", null), ("n", 5L));
        Assert.Equal("/api/violations?status=a%26b%3Dc&n=5", query.Path);
        Assert.Throws<ArgumentException>(() => ApiRoutes.Cases.Get.With());
        Assert.Throws<ArgumentException>(() => ApiRoutes.Cases.Get.With("a", "b"));
    }

    private static Regex Pattern(ApiRoute route) =>
        new("^" + Regex.Replace(Regex.Escape(route.Template), @"\\\{[^}]+}", "[^/?]+") + @"(\?.*)?$", RegexOptions.CultureInvariant);

    private static object? Argument(ParameterInfo p) => p.ParameterType switch
    {
        var t when t == typeof(string) => "x" + p.Position,
        var t when t == typeof(long) => 1L,
        var t when t == typeof(byte[]) => "{}"u8.ToArray(),
        var t when t == typeof(CancellationToken) => CancellationToken.None,
        var t when Nullable.GetUnderlyingType(t) is not null => null,
        var t when t.Namespace == "Embargo.Contracts" => RuntimeHelpers.GetUninitializedObject(t),
        var t => throw new InvalidOperationException($"no sample value for {t} ({p.Name})"),
    };

    private sealed class Recorder(List<(string, string)> sent, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            sent.Add((request.Method.Method, request.RequestUri!.PathAndQuery));
            return base.SendAsync(request, cancellationToken);
        }
    }
}
