using System.Text.Json.Nodes;

namespace Embargo.Protocol;

public sealed record Actor(string Principal, string Organisation, Role Role);

/// <summary>
/// A ledger leaf: canonical JSON {"type": ..., "at": ISO-8601 UTC, "actor": {...}, "data": {...}}.
/// The leaf bytes are exactly the canonical UTF-8 JSON; they are what the Merkle tree hashes.
/// </summary>
public static class LedgerEvents
{
    public static byte[] Leaf(string type, DateTimeOffset at, Actor? actor, JsonObject data)
    {
        var node = new JsonObject
        {
            ["type"] = type,
            ["at"] = at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["actor"] = actor is null ? null : new JsonObject
            {
                ["principal"] = actor.Principal,
                ["organisation"] = actor.Organisation,
                ["role"] = actor.Role.Name(),
            },
            ["data"] = data,
        };
        return CanonicalJson.Canonicalize(node);
    }

    public static JsonObject? TryParse(ReadOnlySpan<byte> leaf)
    {
        try
        {
            return JsonNode.Parse(leaf) as JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
