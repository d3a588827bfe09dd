using System.Collections.Frozen;
using Embargo.Protocol;

namespace Embargo.Gateway;

/// <summary>
/// A configuration assembled in memory rather than read from a file: the server's own gateway builds one from its
/// releases, gateway grants and attached screens, and builds a new one whenever the ledger has grown.
/// </summary>
public static class GatewayParts
{
    public static Result<GatewayConfig> Assemble(string name, IReadOnlyList<Upstream> upstreams, IReadOnlyDictionary<string, Grant> grantsByKeySha256,
        IReadOnlyList<ScreenSpec> screens, AuditSettings audit)
    {
        var names = upstreams.Select(u => u.Name).ToHashSet(StringComparer.Ordinal);
        var compiled = ScreenSet.Compile(screens, names, name, _ => null);
        if (!compiled.IsOk)
        {
            return compiled.Error!;
        }
        return new GatewayConfig
        {
            Name = name,
            Upstreams = upstreams,
            UpstreamsByName = upstreams.ToFrozenDictionary(u => u.Name, StringComparer.Ordinal),
            GrantsByKeySha256 = grantsByKeySha256.ToFrozenDictionary(StringComparer.Ordinal),
            Screens = compiled.Value,
            Audit = audit,
        };
    }
}
