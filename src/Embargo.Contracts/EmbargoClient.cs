using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Embargo.Contracts;

/// <summary>A refusal or error from the Embargo server, as its ProblemDetails said it.</summary>
public sealed class ApiException(HttpStatusCode status, string title, string detail, string? rule)
    : Exception(rule is null ? detail : $"{detail} [{rule}]")
{
    public HttpStatusCode Status { get; } = status;
    public string Title { get; } = title;
    public string Detail { get; } = detail;
    public string? Rule { get; } = rule;

    /// <summary>Malformed input or a missing thing is bad input (exit 2); a refusal by role or rule is a failed check (exit 1).</summary>
    public bool IsBadInput => Status is HttpStatusCode.BadRequest or HttpStatusCode.NotFound or HttpStatusCode.Unauthorized;
}

/// <summary>HTTP client for the Embargo API: JSON in and out, ProblemDetails mapped to <see cref="ApiException"/>.</summary>
/// <summary>The server could not be reached, or answered with something that is not the contract's JSON.</summary>
public sealed class ServerUnavailableException(string message) : Exception(message);

public sealed class EmbargoClient(Uri server, string? token, HttpClient? http = null) : IDisposable
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http = http ?? new HttpClient { Timeout = TimeSpan.FromSeconds(100) };

    public Uri Server { get; } = server;

    public EmbargoClient As(string? otherToken) => new(Server, otherToken, _http);

    /// <summary>Whether requests carry an API token (public reads do not need one).</summary>
    public bool HasToken => token is not null;

    public Task<T> PostAsync<T>(string path, object? body, CancellationToken ct) => SendAsync<T>(HttpMethod.Post, path, body ?? new { }, ct);

    public Task<T> GetAsync<T>(string path, CancellationToken ct) => SendAsync<T>(HttpMethod.Get, path, null, ct);

    /// <summary>POSTs raw bytes (e.g. a run's log to /api/cases/{id}/evaluation-logs) and reads the JSON answer.</summary>
    public Task<T> PostBytesAsync<T>(string path, byte[] body, string mediaType, CancellationToken ct) =>
        SendAsync<T>(HttpMethod.Post, path, new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } }, ct);

    public async Task<byte[]> GetBytesAsync(string path, CancellationToken ct)
    {
        using var response = await SendRawAsync(HttpMethod.Get, path, null, ct);
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    public async Task<string> GetTextAsync(string path, CancellationToken ct)
    {
        using var response = await SendRawAsync(HttpMethod.Get, path, null, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var response = await SendRawAsync(method, path, body, ct);
        try
        {
            return (await response.Content.ReadFromJsonAsync<T>(Json, ct))!;
        }
        catch (JsonException e)
        {
            throw new ServerUnavailableException($"the server at {Server} answered {path} with something that is not the expected JSON: {e.Message}");
        }
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(Server, path));
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        if (body is HttpContent content)
        {
            request.Content = content;
        }
        else if (body is not null)
        {
            request.Content = JsonContent.Create(body, body.GetType(), options: Json);
        }
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, ct);
        }
        catch (HttpRequestException e)
        {
            throw new ServerUnavailableException($"cannot reach the Embargo server at {Server}: {e.Message}");
        }
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            string title = response.ReasonPhrase ?? "error", detail = text, rule = "";
            try
            {
                if (JsonNode.Parse(text) is JsonObject problem)
                {
                    title = problem["title"]?.GetValue<string>() ?? title;
                    detail = problem["detail"]?.GetValue<string>() ?? title;
                    rule = problem["rule"]?.GetValue<string>() ?? "";
                }
            }
            catch (JsonException)
            {
            }
            throw new ApiException(response.StatusCode, title, string.IsNullOrWhiteSpace(detail) ? $"{(int)response.StatusCode} {title}" : detail, rule.Length == 0 ? null : rule);
        }
    }

    public void Dispose() => _http.Dispose();
}
