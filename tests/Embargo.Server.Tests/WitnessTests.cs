using System.Net;
using System.Text;
using System.Text.Json;
using Embargo.Ledger;
using Embargo.Server.Tests.Infrastructure;
using Embargo.Server.Witness;
using Microsoft.AspNetCore.Builder;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>
/// Witnesses (C2SP tlog-witness) over real HTTP on 127.0.0.1: the server asks each to cosign every new checkpoint and
/// serves it with the cosignatures it got; a witness that is down costs its cosignature only; a witness that holds a
/// forked history refuses, and the server reports it. SQLite, or PostgreSQL with EMBARGO_TEST_POSTGRES.
/// </summary>
public sealed class WitnessTests : IAsyncLifetime
{
    private const string Origin = "embargo.test/ledger";
    private readonly NoteSigner _ledgerKey = NoteSigner.Generate(Origin);
    private readonly List<(WebApplication App, string Dir)> _witnesses = [];
    private static readonly HttpClient Http = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var (app, dir) in _witnesses)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        _ledgerKey.Dispose();
    }

    private sealed record RunningWitness(WebApplication App, Uri Url, string VerifierKey, string SecretKey, string Dir)
    {
        public CosignatureVerifier Verifier => CosignatureVerifier.Parse(VerifierKey).Value;
    }

    private async Task<RunningWitness> StartWitnessAsync(string name, string? secret = null, string? dir = null)
    {
        secret ??= WitnessHost.GenerateKey(name).SecretKey;
        dir ??= Directory.CreateTempSubdirectory("embargo-witness-test-").FullName;
        var (app, url, vkey) = await WitnessHost.StartAsync(new WitnessSettings { SecretKey = secret, LogKeys = [_ledgerKey.VerifierKey], DataDirectory = dir }, default);
        _witnesses.Add((app, dir));
        return new RunningWitness(app, url, vkey, secret, dir);
    }

    private Task<EmbargoHost> StartServerAsync(IEnumerable<RunningWitness> witnesses, int quorum) =>
        EmbargoHost.StartAsync(witnesses: witnesses.Select(w => (w.Url.AbsoluteUri, w.VerifierKey)).ToList(), witnessQuorum: quorum, ledgerSigningKey: _ledgerKey.SecretKey);

    private async Task<HttpResponseMessage> AddCheckpointAsync(RunningWitness w, AddCheckpointRequest request) =>
        await Http.PostAsync(new Uri(w.Url, "add-checkpoint"), new StringContent(request.Format(), Encoding.UTF8, "text/plain"));

    private static async Task<JsonElement> WitnessStatusAsync(EmbargoHost host)
    {
        using var response = await host.Http.GetAsync(new Uri(host.Url, "api/ledger/witnesses"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static string StatusOf(JsonElement status, string name) =>
        status.GetProperty("witnesses").EnumerateArray().Single(w => w.GetProperty("name").GetString() == name).GetProperty("status").GetString()!;

    private static string Body(string note) => note[..(note.IndexOf("\n\n", StringComparison.Ordinal) + 1)];

    [Fact]
    public async Task WithThreeWitnessesOneDownAndQuorumTwoEveryCheckpointStillCarriesTwoValidCosignatures()
    {
        var regulator = await StartWitnessAsync("regulator.test/witness");
        var mailguard = await StartWitnessAsync("mailguard.test/witness");
        var down = await StartWitnessAsync("down.test/witness");
        await down.App.StopAsync();
        await using var host = await StartServerAsync([regulator, mailguard, down], quorum: 2);
        using var w = await ProtocolWorld.CreateAsync(host);
        var keys = new[] { regulator.Verifier, mailguard.Verifier, down.Verifier };

        var first = await CheckpointAsync(host);
        Assert.True(NoteVerifier.Parse(_ledgerKey.VerifierKey).Value.Open(first).IsOk);
        Assert.Equal(["regulator.test/witness", "mailguard.test/witness"], Cosignatures.RequireQuorum(first, keys, 2).Value.Select(c => c.Witness));

        // The ledger grows: the witnesses are asked again with a consistency proof from the size they cosigned.
        await w.DriveToAsync(Milestone.Mapping);
        var second = await CheckpointAsync(host);
        Assert.True(SizeOf(second) > SizeOf(first));
        Assert.Equal(["regulator.test/witness", "mailguard.test/witness"], Cosignatures.RequireQuorum(second, keys, 2).Value.Select(c => c.Witness));
        Assert.Equal(LedgerErrorKind.NoMatchingSignature, Cosignatures.RequireQuorum(second, keys, 3).Error?.Kind);

        var status = await WitnessStatusAsync(host);
        Assert.Equal((2, 2, SizeOf(second)), (status.GetProperty("quorum").GetInt32(), status.GetProperty("latestCosignatures").GetInt32(), status.GetProperty("latestSize").GetInt64()));
        Assert.Equal(("ok", "ok", "unreachable"), (StatusOf(status, "regulator.test/witness"), StatusOf(status, "mailguard.test/witness"), StatusOf(status, "down.test/witness")));
        var regulatorState = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(regulator.Dir, WitnessStore.FileName))).RootElement;
        Assert.Equal(SizeOf(second), regulatorState.GetProperty("logs").GetProperty(Origin).GetProperty("size").GetInt64());
    }

    [Fact]
    public async Task AWitnessFedAForkedHistoryRefusesTheLedgersCheckpointAndTheForkIsReported()
    {
        var regulator = await StartWitnessAsync("regulator.test/witness");
        var mailguard = await StartWitnessAsync("mailguard.test/witness");
        var split = await StartWitnessAsync("split.test/witness");
        // Someone holding the ledger key shows this witness another history: one leaf the real ledger never had.
        var forged = new MerkleTree();
        forged.AppendLeaf("{\"type\":\"forged\"}"u8);
        var forgedNote = _ledgerKey.Sign(new Checkpoint { Origin = Origin, Size = 1, RootHash = forged.Root() }.ToNoteBody());
        using (var accepted = await AddCheckpointAsync(split, new AddCheckpointRequest(0, [], forgedNote)))
        {
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        }

        await using var host = await StartServerAsync([regulator, mailguard, split], quorum: 2);
        using var w = await ProtocolWorld.CreateAsync(host);
        var checkpoint = await CheckpointAsync(host);
        Assert.True(SizeOf(checkpoint) > 1);
        var keys = new[] { regulator.Verifier, mailguard.Verifier, split.Verifier };
        Assert.Equal(["regulator.test/witness", "mailguard.test/witness"], Cosignatures.RequireQuorum(checkpoint, keys, 2).Value.Select(c => c.Witness));

        var status = await WitnessStatusAsync(host);
        Assert.Equal("refused-inconsistent", StatusOf(status, "split.test/witness"));
        var detail = status.GetProperty("witnesses").EnumerateArray().Single(x => x.GetProperty("name").GetString() == "split.test/witness").GetProperty("detail").GetString();
        Assert.Contains("not consistent", detail, StringComparison.Ordinal);

        // The witness says so itself, with the spec's status, and keeps what it held.
        var proof = await host.Anonymous.Ledger.ConsistencyAsync(from: 1, to: SizeOf(checkpoint));
        var note = checkpoint[..(checkpoint.IndexOf('\u2014', StringComparison.Ordinal))] + checkpoint.Split('\n').First(l => l.StartsWith("\u2014 " + Origin + " ", StringComparison.Ordinal)) + "\n";
        using var refused = await AddCheckpointAsync(split, new AddCheckpointRequest(1, proof.Proof.Select(Convert.FromBase64String).ToList(), note));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("forked", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var held = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(split.Dir, WitnessStore.FileName))).RootElement.GetProperty("logs").GetProperty(Origin);
        Assert.Equal((1L, Convert.ToBase64String(forged.Root())), (held.GetProperty("size").GetInt64(), held.GetProperty("root").GetString()));
    }

    [Fact]
    public async Task AWitnessPersistsWhatItCosignedAndAfterARestartAnswersAStaleOldSizeWith409AndItsSize()
    {
        var witness = await StartWitnessAsync("restart.test/witness");
        var tree = new MerkleTree();
        for (var i = 0; i < 3; i++)
        {
            tree.AppendLeaf(Encoding.UTF8.GetBytes($"leaf {i}"));
        }
        var note = _ledgerKey.Sign(new Checkpoint { Origin = Origin, Size = 3, RootHash = tree.Root() }.ToNoteBody());
        string line;
        using (var first = await AddCheckpointAsync(witness, new AddCheckpointRequest(0, [], note)))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            line = await first.Content.ReadAsStringAsync();
        }
        Assert.Single(Cosignatures.Find(note + line, [witness.Verifier]).Value);

        await witness.App.StopAsync();
        var again = await StartWitnessAsync("restart.test/witness", witness.SecretKey, witness.Dir);
        using var stale = await AddCheckpointAsync(again, new AddCheckpointRequest(0, [], note));
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
        Assert.Equal("text/x.tlog.size", stale.Content.Headers.ContentType?.MediaType);
        Assert.Equal("3\n", await stale.Content.ReadAsStringAsync());

        using var unknown = NoteSigner.Generate("unknown.test/log");
        var unknownNote = unknown.Sign(new Checkpoint { Origin = "unknown.test/log", Size = 3, RootHash = tree.Root() }.ToNoteBody());
        using var notFound = await AddCheckpointAsync(again, new AddCheckpointRequest(0, [], unknownNote));
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        using var malformed = await Http.PostAsync(new Uri(again.Url, "add-checkpoint"), new StringContent("old x\n\n" + note, Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }
}
