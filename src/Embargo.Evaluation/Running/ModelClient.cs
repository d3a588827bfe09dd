using System.ClientModel;
using System.ClientModel.Primitives;
using System.Runtime.CompilerServices;
using Embargo.Evaluation.Solving;
using Microsoft.Extensions.AI;
using Embargo.Text;

namespace Embargo.Evaluation.Running;

/// <summary>A model call failed for good (after retries, or a non-retryable status).</summary>
public sealed class ModelCallException(string message, Exception? inner = null, string? rawOutput = null) : Exception(message, inner)
{
    /// <summary>The raw response body when the model answered something that could not be read.</summary>
    public string? RawOutput { get; } = rawOutput;
}

/// <summary>The raw body of the current call's answer (no copy), so an unreadable answer can be logged as it came.</summary>
internal static class ResponseCapture
{
    public static readonly AsyncLocal<StrongBox<BinaryData?>?> Current = new();
}

/// <summary>
/// One OpenAI-compatible endpoint: a lean chat-completions client (<see cref="ChatCompletionsClient"/>, no retries of its
/// own: we retry 429/5xx/timeouts with exponential backoff and jitter ourselves) over an HTTP handler without a
/// per-server connection cap, so concurrency is bounded only by the runner.
/// </summary>
public sealed class ModelClient : IGenerate, IDisposable
{
    // One connection pool per process (per connect timeout), shared by runs, as HttpClient guidance recommends:
    // consecutive runs against the same server reuse warm connections.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<TimeSpan, SocketsHttpHandler> Handlers = new();
    private readonly HttpClient _http;
    private readonly IChatClient _chat;
    private readonly EvalRunnerOptions _options;
    private long _calls;
    private long _retries;

    public ModelClient(ModelEndpoint endpoint, EvalRunnerOptions options)
    {
        Endpoint = endpoint;
        _options = options;
        var handler = Handlers.GetOrAdd(options.ConnectTimeout, t => new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = t,
        });
        _http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        _chat = new ChatCompletionsClient(_http, endpoint.Url, endpoint.Name, endpoint.ApiKey);
    }

    public ModelEndpoint Endpoint { get; }
    public string ModelName => Endpoint.Name;
    public long Calls => Interlocked.Read(ref _calls);
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>
    /// Fails fast, before any sample, with one line naming the URL and the model: when nothing answers at the endpoint
    /// (<see cref="EndpointUnreachableException"/>), when it refuses the credentials, or when it does not serve the
    /// model (<see cref="ModelNotAvailableException"/>). The model counts as served when GET /models lists it; an
    /// endpoint that does not list models is asked one one-token completion instead, and only a 404 counts as "not served".
    /// </summary>
    public async Task CheckModelAsync(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_options.ConnectTimeout);
        var models = new Uri(Endpoint.Url.ToString().TrimEnd('/') + "/models");
        int status;
        string body;
        try
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, models);
            if (!string.IsNullOrEmpty(Endpoint.ApiKey))
            {
                req.Headers.Authorization = new("Bearer", Endpoint.ApiKey);
            }
            using var resp = await _http.SendAsync(req, HttpCompletionOption.ResponseContentRead, cts.Token);
            status = (int)resp.StatusCode;
            body = status == 200 ? await resp.Content.ReadAsStringAsync(cts.Token) : "";
        }
        catch (HttpRequestException e)
        {
            throw new EndpointUnreachableException(Endpoint.Url, Endpoint.Name, e.Message, e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new EndpointUnreachableException(Endpoint.Url, Endpoint.Name, $"no answer within {_options.ConnectTimeout.TotalSeconds:0.#} s", e);
        }
        if (status is 401 or 403)
        {
            throw new ModelNotAvailableException(Endpoint.Url, Endpoint.Name, $"the endpoint refused the credentials (HTTP {status} on GET /models)");
        }
        if (status == 200 && ListedModels(body) is { } listed)
        {
            if (listed.Contains(Endpoint.Name, StringComparer.Ordinal))
            {
                return;
            }
            var shown = string.Join(", ", listed.Take(8)) + (listed.Count > 8 ? ", …" : "");
            throw new ModelNotAvailableException(Endpoint.Url, Endpoint.Name,
                listed.Count == 0 ? "the endpoint serves no models (GET /models is empty)" : $"not served by this endpoint (GET /models lists: {shown})");
        }
        // No usable listing: does it accept the name? One short completion; only "no such model" or "not allowed" stops the run.
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probe.CancelAfter(_options.RequestTimeout);
        try
        {
            await _chat.GetResponseAsync([new ChatMessage(ChatRole.User, "ping")], new ChatOptions { MaxOutputTokens = 1 }, probe.Token);
        }
        catch (ClientResultException e) when (e.Status is 404 or 401 or 403)
        {
            throw new ModelNotAvailableException(Endpoint.Url, Endpoint.Name,
                e.Status == 404 ? $"the endpoint does not accept the model name (HTTP 404: {OneLine(e.Message)})" : $"the endpoint refused the credentials (HTTP {e.Status})", e);
        }
        catch (Exception e) when (e is ClientResultException or HttpRequestException or System.Text.Json.JsonException or InvalidOperationException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            // Busy, slow or odd but there: the run's own retries deal with it.
        }
    }

    private static List<string>? ListedModels(string body)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("data", out var data) || data.ValueKind != System.Text.Json.JsonValueKind.Array)
            {
                return null;
            }
            return data.EnumerateArray()
                .Where(m => m.ValueKind == System.Text.Json.JsonValueKind.Object && m.TryGetProperty("id", out var id) && id.ValueKind == System.Text.Json.JsonValueKind.String)
                .Select(m => m.GetProperty("id").GetString()!).ToList();
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static string OneLine(string text)
    {
        var line = text.ReplaceLineEndings(" ");
        return line.Length > 200 ? line[..200] + "…" : line;
    }

    public async Task<ChatResponse> GenerateAsync(IList<ChatMessage> messages, ChatOptions? options, CancellationToken ct)
    {
        var attempt = 0;
        var captured = new StrongBox<BinaryData?>();
        ResponseCapture.Current.Value = captured;
        while (true)
        {
            attempt++;
            Interlocked.Increment(ref _calls);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(_options.RequestTimeout);
            string failure;
            Exception error;
            TimeSpan? retryAfter = null;
            try
            {
                return await _chat.GetResponseAsync(messages, options, cts.Token);
            }
            catch (ClientResultException e) when (IsRetryable(e.Status))
            {
                failure = $"HTTP {e.Status}";
                error = e;
                retryAfter = RetryAfter(e);
            }
            catch (ClientResultException e)
            {
                throw new ModelCallException($"{Endpoint.Name}: HTTP {e.Status}: {e.Message}", e);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException or ArgumentException or KeyNotFoundException)
            {
                // The endpoint answered 200 with something that is not a chat completion: not retried, kept raw.
                throw new ModelCallException($"{Endpoint.Name}: unreadable response: {(e is System.Text.Json.JsonException json ? JsonErrorText.Describe(json) : e.Message)}", e, captured.Value?.ToString());
            }
            catch (HttpRequestException e)
            {
                failure = e.Message;
                error = e;
            }
            catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
            {
                failure = $"timed out after {_options.RequestTimeout.TotalSeconds:0.###} s";
                error = e;
            }
            if (attempt > _options.MaxRetries)
            {
                throw new ModelCallException($"{Endpoint.Name} at {Endpoint.Url}: {failure} (gave up after {attempt} attempts)", error);
            }
            Interlocked.Increment(ref _retries);
            // A server that says when to come back (429/503 Retry-After) is waited for, up to the longest backoff.
            var wait = Backoff(attempt);
            if (retryAfter is { } asked && asked > wait)
            {
                wait = asked < _options.MaxBackoff ? asked : _options.MaxBackoff;
            }
            await Task.Delay(wait, _options.Time, ct);
        }
    }

    /// <summary>Retry-After as delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable.</summary>
    private TimeSpan? RetryAfter(ClientResultException e)
    {
        if (e.GetRawResponse() is not { } response || !response.Headers.TryGetValue("Retry-After", out var value) || value is null)
        {
            return null;
        }
        if (int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            return TimeSpan.FromSeconds(seconds);
        }
        return DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var when)
            ? when - _options.Time.GetUtcNow() is { } delta && delta > TimeSpan.Zero ? delta : TimeSpan.Zero
            : null;
    }

    private TimeSpan Backoff(int attempt)
    {
        var baseMs = _options.InitialBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1);
        var ms = Math.Min(_options.MaxBackoff.TotalMilliseconds, baseMs) * (0.5 + Random.Shared.NextDouble() / 2);
        return TimeSpan.FromMilliseconds(ms);
    }

    private static bool IsRetryable(int status) => status is 408 or 409 or 429 or >= 500 or 0;

    public void Dispose() => _http.Dispose();
}
