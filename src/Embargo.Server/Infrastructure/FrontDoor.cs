using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Infrastructure;

/// <summary>
/// What every request meets before an endpoint: Kestrel without a Server header and with a request body limit,
/// security headers on every response, throttling of failed authentication per client address, and the server's
/// secrets (SQLite file, keys, data-protection keys) readable by its own user only.
/// </summary>
public static class FrontDoor
{
    public const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode PrivateDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static IServiceCollection AddFrontDoor(this IServiceCollection services)
    {
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<EmbargoOptions>>((kestrel, options) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.Value.MaxRequestBodyBytes;
        });
        services.AddSingleton<AuthThrottle>();
        services.AddOptions<ProblemDetailsOptions>().Configure<IOptions<EmbargoOptions>>((problems, options) =>
        {
            var previous = problems.CustomizeProblemDetails;
            problems.CustomizeProblemDetails = context =>
            {
                previous?.Invoke(context);
                if (context.ProblemDetails.Status == StatusCodes.Status413PayloadTooLarge && context.ProblemDetails.Detail is null)
                {
                    context.ProblemDetails.Detail = $"the request body is larger than the limit of {options.Value.MaxRequestBodyBytes} bytes";
                }
            };
        });
        // Without a certificate there is no XML encryptor on Linux; the key files are protected by their mode (0600 in a
        // 0700 directory) instead, so the warning that says so on every first start is not shown.
        services.AddLogging(logging => logging.AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error));
        services.AddDataProtection().SetApplicationName("embargo");
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<EmbargoOptions>, ILoggerFactory>((keys, options, logs) =>
            keys.XmlRepository = new PrivateKeyRepository(new DirectoryInfo(Path.Combine(options.Value.DataDirectory, "data-protection-keys")), logs));
        return services;
    }

    /// <summary>First in the pipeline: headers are added when the response starts, so errors and 401/429 carry them too.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            if (!headers.ContainsKey("Content-Security-Policy"))
            {
                headers.ContentSecurityPolicy = "frame-ancestors 'none'";
            }
            if (context.Request.Path.StartsWithSegments("/api"))
            {
                headers.CacheControl = "no-store";
            }
            return Task.CompletedTask;
        });
        return next(context);
    });

    /// <summary>Before authentication: a client address with too many recent failures gets 429 for any credential.</summary>
    public static IApplicationBuilder UseAuthThrottle(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var throttle = context.RequestServices.GetRequiredService<AuthThrottle>();
        if (context.Request.Headers.Authorization.Count > 0 && throttle.RetryAfter(context.Connection.RemoteIpAddress) is { } wait)
        {
            var seconds = Math.Max(1, (long)Math.Ceiling(wait.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await Results.Problem($"too many failed authentications from this address; retry after {seconds} s",
                statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests").ExecuteAsync(context);
            return;
        }
        await next(context);
    });

    /// <summary>
    /// Creates the SQLite database file 0600 before EF opens it (SQLite creates -wal and -shm with the database
    /// file's mode), and takes group/other access away from an existing one and its -wal/-shm/-journal.
    /// </summary>
    public static void PrepareSqliteFile(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        var path = builder.DataSource;
        if (OperatingSystem.IsWindows() || builder.Mode == SqliteOpenMode.Memory || string.IsNullOrEmpty(path) || path == ":memory:"
            || path.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory && !Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, PrivateDirectory);
        }
        if (!File.Exists(path))
        {
            try
            {
                using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateFile });
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another replica created it first; it is tightened below.
            }
        }
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
        {
            Restrict(file);
        }
    }

    /// <summary>Writes a new secret file readable by its owner only (created with the mode, never widened first).</summary>
    public static void WritePrivateFile(string path, string text)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = PrivateFile;
        }
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(text);
    }

    private static void Restrict(string file)
    {
        if (!OperatingSystem.IsWindows() && File.Exists(file) && (File.GetUnixFileMode(file) & ~PrivateFile) != 0)
        {
            File.SetUnixFileMode(file, File.GetUnixFileMode(file) & PrivateFile);
        }
    }

    /// <summary>PersistKeysToFileSystem, with the directory 0700 and every key file 0600.</summary>
    private sealed class PrivateKeyRepository : IXmlRepository
    {
        private readonly DirectoryInfo _directory;
        private readonly FileSystemXmlRepository _files;

        public PrivateKeyRepository(DirectoryInfo directory, ILoggerFactory logs)
        {
            _directory = directory;
            if (!OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory.FullName, PrivateDirectory);
                File.SetUnixFileMode(directory.FullName, PrivateDirectory);
            }
            _files = new FileSystemXmlRepository(directory, logs);
        }

        public IReadOnlyCollection<XElement> GetAllElements() => _files.GetAllElements();

        public void StoreElement(XElement element, string friendlyName)
        {
            _files.StoreElement(element, friendlyName);
            if (!OperatingSystem.IsWindows())
            {
                foreach (var file in _directory.EnumerateFiles("*.xml"))
                {
                    Restrict(file.FullName);
                }
            }
        }
    }
}

/// <summary>
/// Failed authentications per client address (IPv6 by /64) in a fixed window on the injected clock: after
/// <see cref="EmbargoOptions.AuthFailureLimit"/> failures the address is refused (429, Retry-After) until the window
/// that began with its first failure ends. Success does not reset the count (one valid token must not unlock guessing).
/// </summary>
public sealed class AuthThrottle(TimeProvider time, IOptions<EmbargoOptions> options)
{
    private const int MaxTracked = 100_000;
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    private sealed class Window(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; } = start;
        public int Failures { get; set; }
    }

    private TimeSpan Length => options.Value.AuthFailureWindow;

    public void RecordFailure(IPAddress? address)
    {
        var key = Key(address);
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (!_windows.TryGetValue(key, out var window) || now - window.Start >= Length)
            {
                if (_windows.Count >= MaxTracked)
                {
                    foreach (var (k, w) in _windows)
                    {
                        if (now - w.Start >= Length)
                        {
                            _windows.TryRemove(k, out _);
                        }
                    }
                }
                window = new Window(now);
                _windows[key] = window;
            }
            window.Failures++;
        }
    }

    /// <summary>How long the address must wait, or null when it may try.</summary>
    public TimeSpan? RetryAfter(IPAddress? address)
    {
        if (!_windows.TryGetValue(Key(address), out var window))
        {
            return null;
        }
        lock (_gate)
        {
            var left = window.Start + Length - time.GetUtcNow();
            return window.Failures >= options.Value.AuthFailureLimit && left > TimeSpan.Zero ? left : null;
        }
    }

    private static string Key(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            Array.Clear(bytes, 8, 8);
            return new IPAddress(bytes) + "/64";
        }
        return address.ToString();
    }
}
