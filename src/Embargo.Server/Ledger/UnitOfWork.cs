using System.Text.Json.Nodes;
using Embargo.Ledger;
using Embargo.Protocol;
using Embargo.Server.Auth;
using Embargo.Server.Storage;

namespace Embargo.Server.Ledger;

/// <summary>
/// One state change: its reads and writes on <see cref="Db"/> and the ledger leaves it appends commit in
/// the same transaction (rule 7), before the caller hears back.
/// </summary>
public sealed class UnitOfWork
{
    private readonly List<(long Index, byte[] Hash)> _appended = [];

    internal UnitOfWork(EmbargoDb db, Caller caller, DateTimeOffset now, long nextIndex)
    {
        Db = db;
        Caller = caller;
        Now = now;
        NextIndex = nextIndex;
    }

    public EmbargoDb Db { get; }
    public Caller Caller { get; }
    public DateTimeOffset Now { get; }
    internal long NextIndex { get; private set; }
    internal IReadOnlyList<(long Index, byte[] Hash)> Appended => _appended;

    /// <summary>Appends an event leaf; returns its ledger index.</summary>
    public long Append(string type, JsonObject data)
    {
        var leaf = LedgerEvents.Leaf(type, Now, Caller == Caller.System ? null : Caller.Actor, data);
        var hash = MerkleHash.HashLeaf(leaf);
        var index = NextIndex++;
        Db.LedgerLeaves.Add(new LedgerLeafEntity { Index = index, Data = leaf, Hash = hash });
        _appended.Add((index, hash));
        return index;
    }
}
