using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Embargo.Ledger;
using Embargo.Protocol;
using Embargo.Protocol.Certificates;

namespace Embargo.Server.Tests;

/// <summary>
/// The verifier's scan after the certification event, on a ledger built and signed here (no server): each leaf that
/// revokes, flags, supersedes or denies fails the check, naming its index and type; unrelated leaves do not.
/// </summary>
public sealed class CertificateRevocationScanTests
{
    private const string Origin = "embargo.test/ledger";
    private const string Case = "case_a";
    private const string Certificate = "cert_a";
    private static readonly string Digest = "sha256:" + new string('a', 64);
    private static readonly DateTimeOffset At = new(2026, 1, 5, 9, 0, 0, TimeSpan.Zero);

    private static byte[] Leaf(string type, JsonObject data) => LedgerEvents.Leaf(type, At, new Actor("prn_x", "org_x", Role.Certifier), data);

    /// <summary>Leaves 0–2: an unrelated event, the approval and the issuance of cert_a; then <paramref name="later"/>.</summary>
    private static CertificateVerification VerifyWith(params byte[][] later)
    {
        using var key = SigningKey.Generate();
        var statement = Statements.Serialize(new InTotoStatement
        {
            Type = InTotoStatement.StatementType,
            Subject = [new StatementSubject { Name = "Mesa Labs/camelid@1.0", Digest = new Dictionary<string, string> { ["sha256"] = new string('a', 64) } }],
            PredicateType = ReleasePredicate.Type,
            Predicate = new ReleasePredicate
            {
                Tier = "hosted", Case = Case, Model = "camelid@1.0", Developer = "Mesa Labs", Weights = [], Findings = [], ReferenceModel = "frontier",
                Certifier = new CertifierIdentity { Organisation = "Assure", Principal = "prn_x", KeyId = key.PublicKey.KeyId },
                Ledger = new LedgerReference { Origin = Origin, CertificationIndex = 1 },
                IssuedAt = At,
            },
        });
        var envelope = DsseEnvelope.Sign(statement, DsseEnvelope.InTotoPayloadType, key);
        var leaves = new List<byte[]>
        {
            Leaf("organisation.created", new JsonObject { ["organisation"] = "org_x" }),
            Leaf("certification.approved", new JsonObject { ["certificate"] = Certificate, ["case"] = Case, ["manifestDigest"] = Digest, ["tier"] = "hosted" }),
            Leaf("certificate.issued", new JsonObject
            {
                ["certificate"] = Certificate, ["case"] = Case, ["statementSha256"] = Convert.ToHexStringLower(SHA256.HashData(statement)),
                ["signatures"] = new JsonArray(envelope.Signatures.Select(s => (JsonNode?)new JsonObject { ["keyid"] = s.KeyId, ["sig"] = s.Sig }).ToArray()),
            }),
        };
        leaves.AddRange(later);
        var tree = new MerkleTree();
        var jsonl = new StringBuilder();
        for (var i = 0; i < leaves.Count; i++)
        {
            tree.AppendLeaf(leaves[i]);
            jsonl.Append(LedgerJsonl.FormatLine(i, leaves[i])).Append('\n');
        }
        using var note = NoteSigner.Generate(Origin);
        var checkpoint = note.Sign(new Checkpoint { Origin = Origin, Size = tree.Size, RootHash = tree.Root() }.ToNoteBody());
        return CertificateVerifier.Verify(envelope.ToJson(), key.PublicKey.Pem, new LedgerEvidence(jsonl.ToString(), checkpoint, note.VerifierKey), null);
    }

    private static void FailsNaming(CertificateVerification result, string leaf)
    {
        Assert.False(result.Ok);
        Assert.Equal(CertificateVerifier.RevocationCheck, result.FirstFailure!.Name);
        Assert.StartsWith(leaf, result.FirstFailure.Detail);
    }

    [Fact]
    public void WithNothingAfterTheIssuanceButUnrelatedLeavesTheCertificateVerifiesAndRevocationWasChecked()
    {
        var result = VerifyWith(
            Leaf("certificate.revoked", new JsonObject { ["certificate"] = "cert_other", ["case"] = "case_other", ["reason"] = "another case" }),
            Leaf("case.denied", new JsonObject { ["case"] = "case_other", ["tier"] = "open", ["reason"] = "another case" }),
            Leaf("certificate.issued", new JsonObject { ["certificate"] = "cert_other", ["case"] = "case_other" }));
        Assert.True(result.Ok, result.FirstFailure?.Detail);
        Assert.True(result.RevocationChecked);
    }

    [Fact]
    public void ARevocationLeafFailsNamingItsIndexAndType() =>
        FailsNaming(VerifyWith(Leaf("certificate.revoked", new JsonObject { ["certificate"] = Certificate, ["case"] = Case, ["reason"] = "denied" })), "leaf 3 (certificate.revoked)");

    [Fact]
    public void AFlagLeafFailsNamingItsIndexAndType() =>
        FailsNaming(VerifyWith(
            Leaf("reference-model.registered", new JsonObject { ["referenceModel"] = "ref_b" }),
            Leaf("certificate.flagged-for-reevaluation", new JsonObject { ["certificate"] = Certificate, ["case"] = Case, ["rule"] = "rule-5" })),
            "leaf 4 (certificate.flagged-for-reevaluation)");

    [Fact]
    public void ASupersedingCertificateForTheSameCaseFailsNamingItsLeaf() =>
        FailsNaming(VerifyWith(Leaf("certificate.issued", new JsonObject { ["certificate"] = "cert_b", ["case"] = Case })), "leaf 3 (certificate.issued) supersedes");

    [Fact]
    public void AnExplicitSupersededLeafFailsNamingIt() =>
        FailsNaming(VerifyWith(Leaf("certificate.superseded", new JsonObject { ["certificate"] = Certificate, ["case"] = Case })), "leaf 3 (certificate.superseded)");

    [Fact]
    public void ADenialOfTheCaseFailsNamingItsLeaf() =>
        FailsNaming(VerifyWith(Leaf("case.denied", new JsonObject { ["case"] = Case, ["tier"] = "hosted", ["reason"] = "no" })), "leaf 3 (case.denied)");
}
