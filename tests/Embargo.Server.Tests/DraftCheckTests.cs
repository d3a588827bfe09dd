using Embargo.Protocol.Certificates;

namespace Embargo.Server.Tests;

/// <summary>The certifier's check of a drafted statement (no server): any difference from what was asked is refused, naming it.</summary>
public sealed class DraftCheckTests
{
    private const string Case = "case_abc";
    private static readonly string Digest = "sha256:" + new string('a', 64);
    private static readonly string KeyId = new('k', 64);
    private static readonly (string Path, string Sha256)[] Files = [("config.json", new string('1', 64)), ("model.bin", new string('2', 64))];

    private static InTotoStatement Statement(string digestHex, string tier = "hosted", string @case = Case, string keyId = "", IReadOnlyList<CertifiedFile>? files = null) => new()
    {
        Type = InTotoStatement.StatementType,
        Subject = [new StatementSubject { Name = "Mesa Labs/camelid@1.0", Digest = new Dictionary<string, string> { ["sha256"] = digestHex } }],
        PredicateType = ReleasePredicate.Type,
        Predicate = new ReleasePredicate
        {
            Tier = tier,
            Case = @case,
            Model = "camelid@1.0",
            Developer = "Mesa Labs",
            Weights = files ?? Files.Select(f => new CertifiedFile { Path = f.Path, Bytes = 10, Sha256 = f.Sha256 }).ToList(),
            Findings = [],
            ReferenceModel = "frontier",
            Certifier = new CertifierIdentity { Organisation = "Assure", Principal = "prn_x", KeyId = keyId.Length == 0 ? KeyId : keyId },
            Ledger = new LedgerReference { Origin = "embargo.test/ledger", CertificationIndex = 7 },
            IssuedAt = new DateTimeOffset(2026, 1, 5, 9, 0, 0, TimeSpan.Zero),
        },
    };

    private static DraftExpectation Expected(WeightsEvidence? onDisk = null) => new()
    {
        CaseId = Case, Tier = "hosted", Registered = new WeightsEvidence(Digest, Files), OnDisk = onDisk, KeyId = KeyId,
    };

    private static string Refusal(InTotoStatement s, DraftExpectation? expected = null, string payloadType = DsseEnvelope.InTotoPayloadType)
    {
        var result = DraftCheck.Check(payloadType, Statements.Serialize(s), expected ?? Expected());
        Assert.False(result.IsOk, "the draft was accepted");
        Assert.Equal("certificate-draft", result.Error!.Rule);
        return result.Error.Message;
    }

    [Fact]
    public void ADraftMatchingWhatWasAskedIsAccepted()
    {
        var result = DraftCheck.Check(DsseEnvelope.InTotoPayloadType, Statements.Serialize(Statement(new string('a', 64))), Expected(new WeightsEvidence(Digest, Files)));
        Assert.True(result.IsOk, result.Error?.Message);
        Assert.Equal(Case, result.Value.Predicate.Case);
    }

    [Fact]
    public void ASubjectDigestOtherThanTheRegisteredManifestIsRefused() =>
        Assert.StartsWith("subject digest: the draft names sha256:" + new string('b', 64), Refusal(Statement(new string('b', 64))));

    [Fact]
    public void ASubjectDigestOtherThanTheWeightsOnDiskIsRefused()
    {
        var message = Refusal(Statement(new string('a', 64)), Expected(new WeightsEvidence("sha256:" + new string('c', 64), Files)));
        Assert.Contains("the weights on disk have manifest digest sha256:" + new string('c', 64), message);
    }

    [Fact]
    public void AFileWithAnotherHashThanRegisteredIsRefused()
    {
        var files = new List<CertifiedFile> { new() { Path = "config.json", Bytes = 10, Sha256 = new string('1', 64) }, new() { Path = "model.bin", Bytes = 10, Sha256 = new string('9', 64) } };
        Assert.StartsWith("weights: the draft gives model.bin sha256 " + new string('9', 64), Refusal(Statement(new string('a', 64), files: files)));
    }

    [Fact]
    public void ARegisteredFileMissingFromTheDraftIsRefused()
    {
        var files = new List<CertifiedFile> { new() { Path = "config.json", Bytes = 10, Sha256 = new string('1', 64) } };
        Assert.Equal("weights: the version's registered manifest has model.bin, which the draft does not name", Refusal(Statement(new string('a', 64), files: files)));
    }

    [Fact]
    public void AnotherTierThanAskedIsRefused() =>
        Assert.Equal("tier: the draft names open, the certifier asked for hosted", Refusal(Statement(new string('a', 64), tier: "open")));

    [Fact]
    public void AnotherCaseThanAskedIsRefused() =>
        Assert.Equal($"case: the draft names case_other, the certifier asked for {Case}", Refusal(Statement(new string('a', 64), @case: "case_other")));

    [Fact]
    public void AnotherCertifierKeyThanTheOneGivenIsRefused() =>
        Assert.StartsWith("certifier key: the draft names key ffffffffffffffff", Refusal(Statement(new string('a', 64), keyId: new string('f', 64))));

    [Fact]
    public void AnotherPayloadTypeIsRefused() =>
        Assert.StartsWith("payloadType: the draft is text/plain", Refusal(Statement(new string('a', 64)), payloadType: "text/plain"));

    [Fact]
    public void BytesThatAreNotAStatementAreRefused()
    {
        var result = DraftCheck.Check(DsseEnvelope.InTotoPayloadType, "{\"_type\":\"something else\"}"u8, Expected());
        Assert.False(result.IsOk);
        Assert.StartsWith("statement: ", result.Error!.Message);
    }
}
