using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;

namespace Embargo.Gateway;

/// <summary>What the limiter decided: go ahead, or wait this many whole seconds (rate) or until the next UTC day (quota).</summary>
public readonly record struct LimitDecision(bool Allowed, int RetryAfterSeconds, string? Reason)
{
    public static readonly LimitDecision Allow = new(true, 0, null);
}

/// <summary>
/// Per-grantee limits: a token bucket of <c>requests_per_minute</c> requests, refilled continuously (bursts up to the
/// bucket size), and a daily quota of usage tokens as the upstream reports them (UTC days).
/// </summary>
public interface IGatewayLimiter : IAsyncDisposable
{
    ValueTask<LimitDecision> AcquireAsync(Grant grant, CancellationToken ct);
    ValueTask AddUsageAsync(Grant grant, long tokens, CancellationToken ct);
}

internal static class Quota
{
    public static string Day(DateTimeOffset now) => now.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    public static int SecondsToNextDay(DateTimeOffset now)
    {
        var next = now.UtcDateTime.Date.AddDays(1);
        return Math.Max(1, (int)Math.Ceiling((next - now.UtcDateTime).TotalSeconds));
    }

    public static int RetrySeconds(double milliseconds) => Math.Max(1, (int)Math.Ceiling(milliseconds / 1000.0));
}

/// <summary>Limits held in this process: right for one gateway; replicas share them through <see cref="RedisLimiter"/>.</summary>
public sealed class InMemoryLimiter(TimeProvider time) : IGatewayLimiter
{
    private sealed class Bucket
    {
        public double Tokens;
        public long AtMs;
        public string Day = "";
        public long Used;
    }

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public ValueTask<LimitDecision> AcquireAsync(Grant grant, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var bucket = _buckets.GetOrAdd(grant.Grantee, _ => new Bucket { Tokens = grant.RequestsPerMinute, AtMs = nowMs });
        lock (bucket)
        {
            var day = Quota.Day(now);
            if (bucket.Day != day)
            {
                bucket.Day = day;
                bucket.Used = 0;
            }
            if (grant.TokensPerDay is { } quota && bucket.Used >= quota)
            {
                return new(new LimitDecision(false, Quota.SecondsToNextDay(now), $"{grant.Grantee} used its {quota} tokens for today (UTC)"));
            }
            var perMs = grant.RequestsPerMinute / 60_000.0;
            if (nowMs > bucket.AtMs)
            {
                bucket.Tokens = Math.Min(grant.RequestsPerMinute, bucket.Tokens + (nowMs - bucket.AtMs) * perMs);
                bucket.AtMs = nowMs;
            }
            if (bucket.Tokens >= 1)
            {
                bucket.Tokens -= 1;
                return new(LimitDecision.Allow);
            }
            return new(new LimitDecision(false, Quota.RetrySeconds((1 - bucket.Tokens) / perMs), $"{grant.Grantee} may send {grant.RequestsPerMinute} requests a minute"));
        }
    }

    public ValueTask AddUsageAsync(Grant grant, long tokens, CancellationToken ct)
    {
        if (tokens > 0 && _buckets.TryGetValue(grant.Grantee, out var bucket))
        {
            lock (bucket)
            {
                var day = Quota.Day(time.GetUtcNow());
                if (bucket.Day != day)
                {
                    bucket.Day = day;
                    bucket.Used = 0;
                }
                bucket.Used += tokens;
            }
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// Limits shared by every replica through Redis: the bucket is one hash updated by an atomic Lua script (the caller's clock
/// is passed in, so replicas need synchronised clocks, as any NTP-run fleet has); the quota is a per-day counter.
/// A Redis that cannot answer refuses the request (fail closed).
/// </summary>
public sealed class RedisLimiter : IGatewayLimiter
{
    // KEYS[1] = bucket; ARGV = capacity, tokens per ms, now (ms). Returns {allowed (1/0), milliseconds until one token}.
    private const string BucketScript = """
        local cap = tonumber(ARGV[1])
        local per_ms = tonumber(ARGV[2])
        local now = tonumber(ARGV[3])
        local state = redis.call('HMGET', KEYS[1], 't', 'ts')
        local t = tonumber(state[1])
        local ts = tonumber(state[2])
        if t == nil or ts == nil then t = cap; ts = now end
        if now > ts then
          t = math.min(cap, t + (now - ts) * per_ms)
          ts = now
        end
        local allowed = 0
        local wait = 0
        if t >= 1 then
          t = t - 1
          allowed = 1
        else
          wait = math.ceil((1 - t) / per_ms)
        end
        redis.call('HSET', KEYS[1], 't', tostring(t), 'ts', tostring(ts))
        redis.call('PEXPIRE', KEYS[1], math.ceil(cap / per_ms) + 60000)
        return {allowed, wait}
        """;

    private readonly ConnectionMultiplexer _redis;
    private readonly TimeProvider _time;
    private readonly string _prefix;

    private RedisLimiter(ConnectionMultiplexer redis, TimeProvider time, string prefix)
    {
        _redis = redis;
        _time = time;
        _prefix = prefix;
    }

    /// <summary>Connects to HOST:PORT; keys are prefixed "embargo:gateway:" so one Redis can serve other things too.</summary>
    public static async Task<RedisLimiter> ConnectAsync(string endpoint, TimeProvider time, string prefix = "embargo:gateway:")
    {
        var options = ConfigurationOptions.Parse(endpoint);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 5000;
        options.SyncTimeout = 2000;
        options.AsyncTimeout = 2000;
        var redis = await ConnectionMultiplexer.ConnectAsync(options);
        return new RedisLimiter(redis, time, prefix);
    }

    public async ValueTask<LimitDecision> AcquireAsync(Grant grant, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var db = _redis.GetDatabase();
        if (grant.TokensPerDay is { } quota)
        {
            var used = (long?)await db.StringGetAsync(QuotaKey(grant, now)) ?? 0;
            if (used >= quota)
            {
                return new LimitDecision(false, Quota.SecondsToNextDay(now), $"{grant.Grantee} used its {quota} tokens for today (UTC)");
            }
        }
        var perMs = grant.RequestsPerMinute / 60_000.0;
        var result = (RedisResult[])(await db.ScriptEvaluateAsync(BucketScript, [_prefix + "bucket:" + grant.Grantee],
            [grant.RequestsPerMinute, perMs.ToString("R", CultureInfo.InvariantCulture), now.ToUnixTimeMilliseconds()]))!;
        return (long)result[0] == 1
            ? LimitDecision.Allow
            : new LimitDecision(false, Quota.RetrySeconds((long)result[1]), $"{grant.Grantee} may send {grant.RequestsPerMinute} requests a minute");
    }

    public async ValueTask AddUsageAsync(Grant grant, long tokens, CancellationToken ct)
    {
        if (tokens <= 0 || grant.TokensPerDay is null)
        {
            return;
        }
        var key = QuotaKey(grant, _time.GetUtcNow());
        var db = _redis.GetDatabase();
        await db.StringIncrementAsync(key, tokens);
        await db.KeyExpireAsync(key, TimeSpan.FromDays(2));
    }

    private RedisKey QuotaKey(Grant grant, DateTimeOffset now) => _prefix + "quota:" + grant.Grantee + ":" + Quota.Day(now);

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync();
}
