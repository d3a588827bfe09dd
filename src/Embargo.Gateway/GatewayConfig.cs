using System.Collections.Frozen;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Embargo.Protocol;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Embargo.Gateway;

// The YAML file as written (README "Gateway"): classes with init properties, keys in snake_case.
// Any key not declared here is refused by the deserializer, and the loader turns that into one line naming it.

public sealed class GatewayFile
{
    public string? Name { get; init; }
    public List<UpstreamSpec>? Upstreams { get; init; }
    public List<GrantSpec>? Grants { get; init; }
    public List<ScreenSpec>? Screens { get; init; }
    public AuditSpec? Audit { get; init; }
    public string? Redis { get; init; }
    public TlsSpec? Tls { get; init; }
}

public sealed class TlsSpec
{
    public string? Certificate { get; init; }
    public string? Key { get; init; }
}

public sealed class UpstreamSpec
{
    public string? Name { get; init; }
    public string? Url { get; init; }
    public string? Model { get; init; }
    public string? ApiKeyEnv { get; init; }
    public string? Certificate { get; init; }
    public string? CertifierKey { get; init; }
}

public sealed class GrantSpec
{
    public string? Grantee { get; init; }
    public string? KeySha256 { get; init; }
    public string? Tier { get; init; }
    public List<string>? Models { get; init; }
    public int? RequestsPerMinute { get; init; }
    public long? TokensPerDay { get; init; }
    public bool? AuditText { get; init; }
}

public sealed class ScreenSpec
{
    public string? Name { get; init; }
    public List<string>? ApplyTo { get; init; }
    public List<string>? Models { get; init; }
    public List<string>? Keywords { get; init; }
    public List<string>? Regex { get; init; }
    public int? MaxMatch { get; init; }
    public ClassifierSpec? Classifier { get; init; }
}

public sealed class ClassifierSpec
{
    public string? Url { get; init; }
    public string? Model { get; init; }
    public string? Kind { get; init; }
    public int? TimeoutMs { get; init; }
    public string? ApiKeyEnv { get; init; }
}

public sealed class AuditSpec
{
    public string? File { get; init; }
    public string? Server { get; init; }
    public string? TokenEnv { get; init; }
}

/// <summary>One upstream model server as the gateway serves it.</summary>
public sealed record Upstream
{
    public required string Name { get; init; }
    /// <summary>The chat-completions URL: URL + "/chat/completions".</summary>
    public required Uri ChatUrl { get; init; }
    public required string Model { get; init; }
    public string? ApiKey { get; init; }
    public required CertificateGate Certificate { get; init; }
}

/// <summary>A grant: who (by the sha256 of their key), at which tier, which models, how fast.</summary>
public sealed record Grant
{
    public required string Grantee { get; init; }
    public required Tier Tier { get; init; }
    public required FrozenSet<string> Models { get; init; }
    public required int RequestsPerMinute { get; init; }
    public long? TokensPerDay { get; init; }
    public bool AuditText { get; init; }
    /// <summary>"evaluation" for a key served before release to an evaluator of an open case (evaluation access); null otherwise.
    /// Written on every audit line of the key and counted apart in the metrics.</summary>
    public string? Access { get; init; }
}

public sealed record AuditSettings
{
    public string? File { get; init; }
    public Uri? Server { get; init; }
    public string? Token { get; init; }
}

/// <summary>A loaded, validated, compiled configuration: nothing in it is parsed again per request.</summary>
public sealed record GatewayConfig
{
    public required string Name { get; init; }
    public required IReadOnlyList<Upstream> Upstreams { get; init; }
    public required FrozenDictionary<string, Upstream> UpstreamsByName { get; init; }
    /// <summary>Grants by the lower-case hex sha256 of their key.</summary>
    public required FrozenDictionary<string, Grant> GrantsByKeySha256 { get; init; }
    public required ScreenSet Screens { get; init; }
    public required AuditSettings Audit { get; init; }
    public string? Redis { get; init; }
    /// <summary>The certificate (with its private key) the gateway serves https:// addresses with; null: http:// only.</summary>
    public X509Certificate2? TlsCertificate { get; init; }
    /// <summary>The certificates that followed it in its file (its intermediates), sent with it.</summary>
    public X509Certificate2Collection? TlsChain { get; init; }
}

/// <summary>Reads gateway.yaml: one-line errors naming the key or the entry; relative paths are relative to the file.</summary>
public static partial class GatewayConfigLoader
{
    private static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    public const long MaxFileBytes = 1 << 20;


    /// <summary>Why <paramref name="path"/> cannot be an audit file, or null: it must be a regular file (or not exist yet), never
    /// a directory or a device such as /dev/null, whose writes vanish and whose audit would be nothing.</summary>
    internal static string? AuditFileProblem(string path)
    {
        if (Directory.Exists(path))
        {
            return "is a directory; name a file";
        }
        var real = path;
        try
        {
            if (File.Exists(path) && File.ResolveLinkTarget(path, returnFinalTarget: true) is { } target)
            {
                real = target.FullName;
            }
        }
        catch (IOException e)
        {
            return e.Message.ReplaceLineEndings(" ");
        }
        string[] special = ["/dev/", "/proc/", "/sys/"];
        if (OperatingSystem.IsLinux() && special.Any(prefix => real.StartsWith(prefix, StringComparison.Ordinal)))
        {
            return "is not a regular file (a device or a kernel file: the audit would be written nowhere)";
        }
        return null;
    }
    /// <param name="time">The clock the tls certificate's validity is judged by (default: the system's).</param>
    public static Result<GatewayConfig> Load(string path, Func<string, string?>? environment = null, TimeProvider? time = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var full = Path.GetFullPath(path);
        var where = Path.GetFileName(full);
        string text;
        try
        {
            if (new FileInfo(full).Length > MaxFileBytes)
            {
                return ProtocolError.Validation($"{where}: larger than {MaxFileBytes} bytes");
            }
            text = File.ReadAllText(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ProtocolError.Validation($"cannot read {path}: {e.Message}");
        }
        GatewayFile? file;
        try
        {
            file = Yaml.Deserialize<GatewayFile>(text);
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            var unknown = UnknownProperty().Match(e.Message + " " + inner);
            if (unknown.Success)
            {
                return ProtocolError.Validation($"{where} line {e.Start.Line}: unknown key '{Underscored(unknown.Groups[1].Value)}'");
            }
            // YamlDotNet names its .NET types here; say what the file got wrong instead.
            var said = e.Message + " " + inner;
            if (said.Contains("No node deserializer", StringComparison.Ordinal) || said.Contains("Invalid cast from", StringComparison.Ordinal)
                || said.Contains("Expected 'SequenceStart'", StringComparison.Ordinal) || said.Contains("Expected 'MappingStart'", StringComparison.Ordinal)
                || said.Contains("Expected 'Scalar'", StringComparison.Ordinal))
            {
                return ProtocolError.Validation(e.Start.Line == 1 && e.Start.Column == 1
                    ? $"{where}: the file must be a mapping of keys (upstreams:, grants:, screens:, audit:), not a list or a single value"
                    : $"{where} line {e.Start.Line}, column {e.Start.Column}: not the kind of value this key takes (a list where one value belongs, or the reverse; README \"Gateway\" shows every key)");
            }
            if (inner.StartsWith("The input string", StringComparison.Ordinal) || inner.StartsWith("Value was either too large or too small", StringComparison.Ordinal))
            {
                return ProtocolError.Validation($"{where} line {e.Start.Line}, column {e.Start.Column}: not a whole number in range for this key");
            }
            return ProtocolError.Validation($"{where} line {e.Start.Line}, column {e.Start.Column}: {inner.ReplaceLineEndings(" ")}");
        }
        if (file is null)
        {
            return ProtocolError.Validation($"{where}: the file is empty");
        }
        return Compile(file, Path.GetDirectoryName(full)!, where, Path.GetFileNameWithoutExtension(full), environment, time ?? TimeProvider.System);
    }

    private static string Underscored(string name) => UnderscoredNamingConvention.Instance.Apply(name);

    [GeneratedRegex("Property '([^']+)' not found")]
    private static partial Regex UnknownProperty();

    private static Result<GatewayConfig> Compile(GatewayFile file, string directory, string where, string defaultName, Func<string, string?> environment,
        TimeProvider time)
    {
        string Resolve(string p) => Path.GetFullPath(Path.Combine(directory, p));
        if (file.Upstreams is not { Count: > 0 })
        {
            return ProtocolError.Validation($"{where}: 'upstreams' needs at least one entry");
        }
        var upstreams = new List<Upstream>();
        var gates = new Dictionary<(string, string), CertificateGate>();
        for (var i = 0; i < file.Upstreams.Count; i++)
        {
            var u = file.Upstreams[i];
            var at = $"{where}: upstreams[{i}]";
            if (string.IsNullOrWhiteSpace(u.Name))
            {
                return ProtocolError.Validation($"{at}.name is required");
            }
            if (upstreams.Any(x => x.Name == u.Name))
            {
                return ProtocolError.Validation($"{at}.name '{u.Name}' appears twice");
            }
            if (!Uri.TryCreate(u.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
            {
                return ProtocolError.Validation($"{at}.url '{u.Url}' is not an http(s) URL");
            }
            if (string.IsNullOrWhiteSpace(u.Certificate) || string.IsNullOrWhiteSpace(u.CertifierKey))
            {
                return ProtocolError.Validation($"{at}: 'certificate' and 'certifier_key' are required (rule 1: nothing is served without a certificate)");
            }
            string? apiKey = null;
            if (u.ApiKeyEnv is not null)
            {
                apiKey = environment(u.ApiKeyEnv);
                if (string.IsNullOrEmpty(apiKey))
                {
                    return ProtocolError.Validation($"{at}.api_key_env: the environment variable {u.ApiKeyEnv} is not set");
                }
            }
            var certificate = Resolve(u.Certificate);
            var key = Resolve(u.CertifierKey);
            if (!gates.TryGetValue((certificate, key), out var gate))
            {
                var loaded = CertificateGate.Load(certificate, key);
                if (!loaded.IsOk)
                {
                    return ProtocolError.Validation($"{at}: {loaded.Error!.Message}");
                }
                gate = loaded.Value;
                gates[(certificate, key)] = gate;
            }
            upstreams.Add(new Upstream
            {
                Name = u.Name,
                ChatUrl = new Uri(url.AbsoluteUri.TrimEnd('/') + "/chat/completions"),
                Model = string.IsNullOrWhiteSpace(u.Model) ? u.Name : u.Model,
                ApiKey = apiKey,
                Certificate = gate,
            });
        }
        var names = upstreams.Select(u => u.Name).ToHashSet(StringComparer.Ordinal);

        if (file.Grants is not { Count: > 0 })
        {
            return ProtocolError.Validation($"{where}: 'grants' needs at least one entry");
        }
        var grants = new Dictionary<string, Grant>(StringComparer.Ordinal);
        for (var i = 0; i < file.Grants.Count; i++)
        {
            var g = file.Grants[i];
            var at = $"{where}: grants[{i}]";
            if (string.IsNullOrWhiteSpace(g.Grantee))
            {
                return ProtocolError.Validation($"{at}.grantee is required");
            }
            var sha = g.KeySha256?.Trim().ToLowerInvariant();
            if (sha is null || sha.Length != 64 || !sha.All(char.IsAsciiHexDigit))
            {
                return ProtocolError.Validation($"{at}.key_sha256 must be 64 hex digits (the sha256 of the key; keys are never stored)");
            }
            if (grants.ContainsKey(sha))
            {
                return ProtocolError.Validation($"{at}.key_sha256 is the same as another grant's");
            }
            if (!Tiers.TryParse(g.Tier, out var tier) || tier is not (Tier.Hosted or Tier.Api))
            {
                return ProtocolError.Validation($"{at}.tier '{g.Tier}' must be hosted or api");
            }
            if (g.Models is not { Count: > 0 })
            {
                return ProtocolError.Validation($"{at}.models needs at least one upstream name");
            }
            if (g.Models.FirstOrDefault(m => !names.Contains(m)) is { } missing)
            {
                return ProtocolError.Validation($"{at}.models names '{missing}', which is not an upstream");
            }
            if (g.RequestsPerMinute is not { } rpm || rpm < 1 || rpm > 1_000_000)
            {
                return ProtocolError.Validation($"{at}.requests_per_minute must be from 1 to 1000000");
            }
            if (g.TokensPerDay is < 1)
            {
                return ProtocolError.Validation($"{at}.tokens_per_day must be at least 1");
            }
            grants[sha] = new Grant
            {
                Grantee = g.Grantee,
                Tier = tier,
                Models = g.Models.ToFrozenSet(StringComparer.Ordinal),
                RequestsPerMinute = rpm,
                TokensPerDay = g.TokensPerDay,
                AuditText = g.AuditText ?? false,
            };
        }

        var screens = ScreenSet.Compile(file.Screens ?? [], names, where, environment);
        if (!screens.IsOk)
        {
            return screens.Error!;
        }

        var audit = new AuditSettings();
        if (file.Audit is { } a)
        {
            Uri? server = null;
            if (a.Server is not null && (!Uri.TryCreate(a.Server, UriKind.Absolute, out server) || (server.Scheme != Uri.UriSchemeHttp && server.Scheme != Uri.UriSchemeHttps)))
            {
                return ProtocolError.Validation($"{where}: audit.server '{a.Server}' is not an http(s) URL");
            }
            string? token = null;
            if (server is not null)
            {
                if (string.IsNullOrWhiteSpace(a.TokenEnv) || string.IsNullOrWhiteSpace(token = environment(a.TokenEnv)))
                {
                    return ProtocolError.Validation($"{where}: audit.server needs audit.token_env naming a set environment variable");
                }
            }
            var auditFile = a.File is null ? null : Resolve(a.File);
            if (auditFile is not null && AuditFileProblem(auditFile) is { } problem)
            {
                return ProtocolError.Validation($"{where}: audit.file {auditFile}: {problem}");
            }
            audit = new AuditSettings { File = auditFile, Server = server, Token = token };
        }
        if (file.Redis is not null && !RedisEndpoint.IsValid(file.Redis))
        {
            return ProtocolError.Validation($"{where}: redis '{file.Redis}' is not HOST:PORT");
        }
        X509Certificate2? tls = null;
        X509Certificate2Collection? chain = null;
        if (file.Tls is { } t)
        {
            if (string.IsNullOrWhiteSpace(t.Certificate) || string.IsNullOrWhiteSpace(t.Key))
            {
                return ProtocolError.Validation($"{where}: tls needs both certificate and key (PEM files)");
            }
            try
            {
                tls = X509Certificate2.CreateFromPemFile(Resolve(t.Certificate), Resolve(t.Key));
                var all = new X509Certificate2Collection();
                all.ImportFromPemFile(Resolve(t.Certificate));
                chain = new X509Certificate2Collection(all.Skip(1).ToArray());
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
            {
                return ProtocolError.Validation($"{where}: tls: cannot use the certificate {t.Certificate} with the key {t.Key}: {e.Message.ReplaceLineEndings(" ")}");
            }
            var now = time.GetUtcNow().UtcDateTime;
            if (tls.NotAfter.ToUniversalTime() < now || tls.NotBefore.ToUniversalTime() > now)
            {
                var (from, until) = (tls.NotBefore.ToUniversalTime(), tls.NotAfter.ToUniversalTime());
                tls.Dispose();
                return ProtocolError.Validation($"{where}: tls.certificate {t.Certificate} is valid from {from:yyyy-MM-dd HH:mm}Z to {until:yyyy-MM-dd HH:mm}Z, not now: callers would refuse it");
            }
        }
        return new GatewayConfig
        {
            Name = string.IsNullOrWhiteSpace(file.Name) ? defaultName : file.Name,
            Upstreams = upstreams,
            UpstreamsByName = upstreams.ToFrozenDictionary(u => u.Name, StringComparer.Ordinal),
            GrantsByKeySha256 = grants.ToFrozenDictionary(StringComparer.Ordinal),
            Screens = screens.Value,
            Audit = audit,
            Redis = file.Redis,
            TlsCertificate = tls,
            TlsChain = chain,
        };
    }
}

public static class RedisEndpoint
{
    public static bool IsValid(string text)
    {
        var colon = text.LastIndexOf(':');
        return colon > 0 && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536;
    }
}
