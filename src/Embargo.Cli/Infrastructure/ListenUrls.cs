using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace Embargo.Cli.Infrastructure;

/// <summary>
/// `--urls` of the commands that listen (`serve`, `gateway`, `witness serve`): checked before anything starts, so a typo is
/// one line and exit code 2, not an exception from deep inside Kestrel; and a listener that cannot bind says so the same way.
/// </summary>
public static class ListenUrls
{
    private const string Example = "http://127.0.0.1:8700";

    /// <summary>The addresses, separated by ';', as Kestrel takes them: <c>http://HOST:PORT</c> with HOST an IP address,
    /// <c>localhost</c>, a name, <c>*</c> or <c>+</c> (every interface), PORT from 0 (any free port) to 65535, no path; or
    /// <c>http://unix:/absolute/path</c>; with <paramref name="https"/> (the gateway, which can hold a TLS certificate) https:// as
    /// well. Throws <see cref="UserInputException"/> naming the first that is not.</summary>
    public static string Check(string urls, bool https = false)
    {
        var parts = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            throw new UserInputException($"--urls is empty: give an address such as {Example}");
        }
        foreach (var part in parts)
        {
            if (Problem(part, https) is { } problem)
            {
                throw new UserInputException($"--urls '{Output.Safe(part)}': {problem}");
            }
        }
        return urls;
    }

    private static string? Problem(string url, bool https)
    {
        BindingAddress address;
        try
        {
            address = BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            return $"not an address such as {Example}";
        }
        if (!string.Equals(address.Scheme, "http", StringComparison.OrdinalIgnoreCase)
            && !(https && string.Equals(address.Scheme, "https", StringComparison.OrdinalIgnoreCase)))
        {
            return string.Equals(address.Scheme, "https", StringComparison.OrdinalIgnoreCase)
                ? "only http:// is served here; put a TLS terminator (nginx, a load balancer) in front for https"
                : $"the scheme must be http://, as in {Example}";
        }
        if (address.IsUnixPipe)
        {
            return Path.IsPathRooted(address.UnixPipePath) ? null : "a unix socket needs an absolute path, as in http://unix:/run/embargo.sock";
        }
        if (address.PathBase.Length > 0)
        {
            return "an address to listen on has no path";
        }
        var host = address.Host;
        var known = host is "*" or "+" || string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            || (host.StartsWith('[') && host.EndsWith(']') && IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
            || (IPAddress.TryParse(host, out var v4) && v4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && host.Count(c => c == '.') == 3)
            || Uri.CheckHostName(host) == UriHostNameType.Dns;
        if (!known)
        {
            return "the host is not a name or an IP address (an IPv6 address goes in brackets: http://[::1]:8700)";
        }
        if (address.Port is < 0 or > 65535)
        {
            return $"port {address.Port} is not from 0 to 65535";
        }
        return null;
    }

    /// <summary>Kestrel could not listen where <c>--urls</c> says (the port is taken, the address is not this machine's,
    /// the port needs privileges): the message names the address and the reason.</summary>
    public static bool CannotBind(Exception e) =>
        e is System.Net.Sockets.SocketException
        || (e is IOException && (e.InnerException is AddressInUseException or System.Net.Sockets.SocketException
            || e.Message.StartsWith("Failed to bind to address", StringComparison.Ordinal)));

    /// <summary>The one line for a listener that could not bind (<see cref="CannotBind"/>).</summary>
    public static UserInputException BindFailure(string urls, Exception e) =>
        new(e.Message.StartsWith("Failed to bind to address", StringComparison.Ordinal)
            ? $"--urls: {e.Message.ReplaceLineEndings(" ")}"
            : $"--urls '{urls}': cannot listen there: {e.Message.ReplaceLineEndings(" ")}");
}
