using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Embargo.Gateway.Tests;

/// <summary>A real redis-server (Debian's), started on a free port in its own directory and stopped after the test.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/redis-server";

    private readonly Process _process;
    private readonly string _directory;

    private RedisServer(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Endpoint = $"127.0.0.1:{port}";
    }

    public string Endpoint { get; }

    public static async Task<RedisServer> StartAsync()
    {
        var directory = Directory.CreateTempSubdirectory("embargo-redis-").FullName;
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var process = Process.Start(new ProcessStartInfo(Binary)
        {
            ArgumentList = { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        })!;
        // Ready when it says so (redis-server logs "Ready to accept connections" once it listens), or failed when it exits.
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var said = new System.Text.StringBuilder();
        void Read(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (said)
            {
                said.AppendLine(line);
            }
            if (line.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }
        }
        process.OutputDataReceived += (_, e) => Read(e.Data);
        process.ErrorDataReceived += (_, e) => Read(e.Data);
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"redis-server exited ({process.ExitCode}) before it listened on {port}"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, directory, port);
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
            using var probe = new TcpClient();
            await probe.ConnectAsync(IPAddress.Loopback, port);
            return server;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or SocketException)
        {
            await server.DisposeAsync();
            string output;
            lock (said)
            {
                output = said.ToString();
            }
            throw new InvalidOperationException($"redis-server did not listen on {port}: {e.Message}\n{output}", e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
