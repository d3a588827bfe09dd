using System.Net;
using System.Text.Json.Nodes;
using Embargo.Ledger;
using Embargo.Protocol;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Embargo.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static Embargo.Server.Tests.Infrastructure.Api;

namespace Embargo.Server.Tests;

/// <summary>Rule 7: every state change is appended to the ledger before it is acknowledged; the ledger's proofs verify.</summary>
public sealed class Rule7LedgerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private EmbargoHost Host => fixture.Host;

    [Fact]
    public async Task EveryAcknowledgedStateChangeIsALeafOfTheRightType()
    {
        var start = await LedgerSizeAsync(Host);
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Certified);
        var release = await w.ReleaseAsync("hosted");
        var ack = await w.MailParty.Disclosures.AcknowledgeAsync(w.PhishingDisclosure!.Id, default);
        Assert.True(ack.Acknowledged);

        var leaves = await LeavesAsync(Host, start);
        string[] expected =
        [
            .. Enumerable.Repeat("organisation.created", 9),
            .. Enumerable.Repeat("principal.created", 10),
            "reference-model.registered", "model.registered", "model.version.registered", "case.opened",
            "threat-model.added", "threat-model.added", "case.advanced", "case.advanced",
            // Rule 10 (hosted): each threat model evaluated tool-augmented and assisted, then on the base weights.
            "condition.registered", "evaluation.recorded", "evaluation.recorded", "condition.registered", "evaluation.recorded", "evaluation.recorded",
            "evaluation.recorded", "evaluation.recorded", "case.advanced", "finding.recorded", "finding.recorded", "case.advanced",
            "finding.disclosed", "finding.disclosed", "deadline.set", "mitigation.reported", "evaluation.recorded", "mitigation.verified",
            "case.advanced", "certification.approved", "certificate.issued", "release.published", "disclosure.acknowledged",
        ];
        Assert.Equal(expected, leaves.Select(l => l.Type));
        Assert.Equal(Enumerable.Range(0, leaves.Count).Select(i => start + i), leaves.Select(l => l.Index));
        Assert.Equal(release.LedgerIndex, leaves.Single(l => l.Type == "release.published").Index);
        Assert.Equal(w.Certificate!.CertificationIndex, leaves.Single(l => l.Type == "certification.approved").Index);
        Assert.Equal(w.Certificate.IssuedIndex, leaves.Single(l => l.Type == "certificate.issued").Index);
        Assert.All(leaves, l => Assert.NotNull(l.Json["at"]));
        var opened = leaves.Single(l => l.Type == "case.opened");
        Assert.Equal(w.CaseId, opened.Data["case"]!.GetValue<string>());
        Assert.Equal("developer", opened.Json["actor"]!["role"]!.GetValue<string>());
        Assert.Equal(w.DeveloperOrg, opened.Json["actor"]!["organisation"]!.GetValue<string>());
    }

    [Fact]
    public async Task RefusedRequestsAddNoLeaf()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Disclosed);
        var checkpoint = await CheckpointAsync(Host);
        await Refused(HttpStatusCode.Conflict, "rule-2", () => w.AdvanceAsync("certification"));
        await Refused(HttpStatusCode.Forbidden, "rule-3", () => w.Developer.Mitigations.SetDeadlineAsync(w.PhishingMitigation.Id,
            new SetDeadlineRequest { DueAt = Host.Time.GetUtcNow().AddDays(1) }, default));
        await Refused(HttpStatusCode.Forbidden, "separation-of-duties", () => w.ApproveAsync(w.Developer, "hosted"));
        await Refused(HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("open"));
        await Refused(HttpStatusCode.BadRequest, null, () => w.AdvanceAsync("nowhere"));
        await Refused(HttpStatusCode.NotFound, null, () => w.Developer.Cases.AdvanceAsync("case_doesnotexist", new AdvanceCaseRequest { To = "mapping" }, default));
        Assert.Equal(checkpoint, await CheckpointAsync(Host));
    }

    [Fact]
    public async Task FiftyConcurrentWritersGetDistinctContiguousIndicesAndTheCheckpointVerifies()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var start = await LedgerSizeAsync(Host);
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            w.SubmitAsync(ProtocolWorld.Evaluation(ProtocolWorld.Bio, 0.2 + (i / 1000.0), 0.2))));
        var indices = results.Select(r => r.LedgerIndex).Order().ToList();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => start + i), indices);
        Assert.Equal(50, results.Select(r => r.Id).Distinct().Count());

        var checkpoint = await CheckpointAsync(Host);
        Assert.Equal(start + 50, SizeOf(checkpoint));
        var leaves = await LeavesAsync(Host, start);
        Assert.Equal(50, leaves.Count);
        Assert.All(leaves, l => Assert.Equal("evaluation.recorded", l.Type));
        Assert.Equal(results.Select(r => r.Id).Order(StringComparer.Ordinal), leaves.Select(l => l.Data["evaluation"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        foreach (var r in results)
        {
            Assert.Equal(r.Id, leaves.Single(l => l.Index == r.LedgerIndex).Data["evaluation"]!.GetValue<string>());
        }

        var vkey = (await Host.Anonymous.Ledger.KeyAsync(default)).Trim();
        var jsonl = await LeavesTextAsync(Host);
        var verified = OfflineLedgerVerifier.Verify(jsonl, checkpoint, vkey);
        Assert.True(verified.IsOk, verified.ToString());
        Assert.Equal(start + 50, verified.Value.Size);
    }

    [Fact]
    public async Task TheCheckpointDoesNotVerifyWithALeafChanged()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var checkpoint = await CheckpointAsync(Host);
        var vkey = (await Host.Anonymous.Ledger.KeyAsync(default)).Trim();
        var leaves = await LeavesAsync(Host);
        var jsonl = string.Concat(leaves.Select(l => LedgerJsonl.FormatLine(l.Index, l.Bytes) + "\n"));
        Assert.True(OfflineLedgerVerifier.Verify(jsonl, checkpoint, vkey).IsOk);
        var forged = leaves.Select(l => l.Index == leaves.Count / 2 ? l with { Bytes = System.Text.Encoding.UTF8.GetBytes(l.Text.Replace("\"type\":\"", "\"type\":\"x", StringComparison.Ordinal)) } : l);
        var forgedJsonl = string.Concat(forged.Select(l => LedgerJsonl.FormatLine(l.Index, l.Bytes) + "\n"));
        Assert.False(OfflineLedgerVerifier.Verify(forgedJsonl, checkpoint, vkey).IsOk);
    }

    [Fact]
    public async Task InclusionProofVerifiesAgainstTheCheckpointRoot()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var checkpoint = await CheckpointAsync(Host);
        var size = SizeOf(checkpoint);
        var root = RootOf(checkpoint);
        var leaves = await LeavesAsync(Host);
        foreach (var index in new[] { 0, size / 3, size - 1 }.Distinct())
        {
            var proof = await Host.Anonymous.Ledger.InclusionAsync(index: index, size: size, ct: default);
            var leafHash = MerkleHash.HashLeaf(leaves[(int)index].Bytes);
            Assert.Equal(Convert.ToBase64String(leafHash), proof.LeafHash);
            Assert.Equal(Convert.ToBase64String(root), proof.RootHash);
            var path = proof.Proof.Select(Convert.FromBase64String).ToList();
            var ok = MerkleVerifier.VerifyInclusion(index, size, leafHash, path, root);
            Assert.True(ok.IsOk, ok.ToString());

            // The same proof does not place a different leaf there.
            var other = MerkleHash.HashLeaf(leaves[(int)((index + 1) % size)].Bytes);
            Assert.False(MerkleVerifier.VerifyInclusion(index, size, other, path, root).IsOk);
        }
    }

    [Fact]
    public async Task ConsistencyProofBetweenTwoCheckpointsVerifies()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        var first = await CheckpointAsync(Host);
        await w.DriveToAsync(Milestone.Evaluated);
        var second = await CheckpointAsync(Host);
        var (from, to) = (SizeOf(first), SizeOf(second));
        Assert.True(to > from);
        var proof = await Host.Anonymous.Ledger.ConsistencyAsync(from: from, to: to, ct: default);
        Assert.Equal(Convert.ToBase64String(RootOf(first)), proof.FromRoot);
        Assert.Equal(Convert.ToBase64String(RootOf(second)), proof.ToRoot);
        var path = proof.Proof.Select(Convert.FromBase64String).ToList();
        var ok = MerkleVerifier.VerifyConsistency(from, to, RootOf(first), RootOf(second), path);
        Assert.True(ok.IsOk, ok.ToString());
        var wrongRoot = (byte[])RootOf(first).Clone();
        wrongRoot[0] ^= 1;
        Assert.False(MerkleVerifier.VerifyConsistency(from, to, wrongRoot, RootOf(second), path).IsOk);
    }

    [Fact]
    public async Task ProofRequestsOutsideTheTreeAreBadInput()
    {
        var size = await LedgerSizeAsync(Host);
        await Refused(HttpStatusCode.BadRequest, null, () => Host.Anonymous.Ledger.InclusionAsync(index: size, ct: default));
        await Refused(HttpStatusCode.BadRequest, null, () => Host.Anonymous.Ledger.ConsistencyAsync(from: 0, to: size, ct: default));
        await Refused(HttpStatusCode.BadRequest, null, () => Host.Anonymous.Ledger.ConsistencyAsync(from: 1, to: size + 1, ct: default));
    }

    [Fact]
    public async Task RefusalsMixedIntoConcurrentWritesDoNotDisturbTheLedger()
    {
        using var w = await ProtocolWorld.CreateAsync(Host);
        await w.DriveToAsync(Milestone.Testing);
        var start = await LedgerSizeAsync(Host);
        var accepted = Enumerable.Range(0, 20).Select(i => w.SubmitAsync(ProtocolWorld.Evaluation(ProtocolWorld.Bio, 0.3, 0.3))).ToList();
        var refused = Enumerable.Range(0, 20).Select(_ => Refused(HttpStatusCode.Conflict, "rule-1", () => w.ReleaseAsync("open"))).ToList();
        await Task.WhenAll(refused);
        var results = await Task.WhenAll(accepted);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => start + i), results.Select(r => r.LedgerIndex).Order());
        var checkpoint = await CheckpointAsync(Host);
        Assert.Equal(start + 20, SizeOf(checkpoint));
        var vkey = (await Host.Anonymous.Ledger.KeyAsync(default)).Trim();
        Assert.True(OfflineLedgerVerifier.Verify(await LeavesTextAsync(Host), checkpoint, vkey).IsOk);
    }

    [Fact]
    public async Task AUnitThatFailsToSaveInTheMiddleOfABatchIsRolledBackAloneAndTheOthersCommit()
    {
        // Its own server: when this breaks, it must not take the other tests' server with it.
        await using var host = await EmbargoHost.StartAsync();
        using var a = await ProtocolWorld.CreateAsync(host);
        await a.DriveToAsync(Milestone.Testing);
        var start = await LedgerSizeAsync(host);
        var duplicate = (await host.Admin.Organisations.ListAsync(default)).First(o => o.Id == a.DeveloperOrg).Name;
        var failingId = Ids.New("org");

        List<Task<EvaluationDto>> evaluations;
        Task<Result<string>> failing;
        await using (var gate = await WriterGate.CloseAsync(host))
        {
            // Ten units queue, then one that appends a leaf and adds an organisation whose name is taken (its SaveChanges
            // fails on the unique index, after the ten before it were saved in the same transaction), then ten more.
            evaluations = Enumerable.Range(0, 10).Select(i => a.SubmitAsync(ProtocolWorld.Evaluation(ProtocolWorld.Bio, 0.3, 0.3))).ToList();
            await gate.QueuedAsync(10);
            failing = gate.Writer.ExecuteAsync<string>(Caller.System, (uow, _) =>
            {
                uow.Db.Organisations.Add(new OrganisationEntity { Id = failingId, Name = duplicate, CreatedAt = uow.Now });
                uow.Append("organisation.created", new JsonObject { ["organisation"] = failingId, ["name"] = duplicate });
                return Task.FromResult<Result<string>>(failingId);
            }, default);
            await gate.QueuedAsync(11);
            evaluations.AddRange(Enumerable.Range(10, 10).Select(i => a.SubmitAsync(ProtocolWorld.Evaluation(ProtocolWorld.Bio, 0.3, 0.3))));
            await gate.QueuedAsync(21);
            await gate.OpenAsync();
        }

        await Assert.ThrowsAsync<DbUpdateException>(() => failing);
        var results = await Task.WhenAll(evaluations);
        var leaves = await LeavesAsync(host, start);
        Assert.Equal(20, leaves.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => start + i), leaves.Select(l => l.Index));
        Assert.All(leaves, l => Assert.Equal("evaluation.recorded", l.Type));
        foreach (var r in results)
        {
            Assert.Equal(r.Id, leaves.Single(l => l.Index == r.LedgerIndex).Data["evaluation"]!.GetValue<string>());
        }
        Assert.Equal(20, (await a.CaseAsync()).Evaluations.Count(e => e.Capability == ProtocolWorld.Bio));
        Assert.DoesNotContain(await host.Admin.Organisations.ListAsync(default), o => o.Id == failingId);
        var checkpoint = await CheckpointAsync(host);
        Assert.Equal(start + 20, SizeOf(checkpoint));
        var vkey = (await host.Anonymous.Ledger.KeyAsync(default)).Trim();
        Assert.True(OfflineLedgerVerifier.Verify(await LeavesTextAsync(host), checkpoint, vkey).IsOk);

        // And the server still takes writes afterwards.
        var next = await a.SubmitAsync(ProtocolWorld.NotSignificant(ProtocolWorld.Phishing));
        Assert.Equal(start + 20, next.LedgerIndex);
    }
}
