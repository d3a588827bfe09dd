using Embargo.Protocol.Certificates;

namespace Embargo.Protocol.Tests;

/// <summary>
/// A certificate someone hands over may be malformed on purpose. What `embargo verify` (and every other reader of JSON in
/// Embargo, through the same JsonErrorText) says about it is in the JSON's terms — the member, the line and column, the
/// kind of value — never .NET's: before, a number for payloadType read "could not be converted to System.String", a missing
/// member "…for type 'Embargo.Protocol.Certificates.DsseEnvelope'".
/// </summary>
public sealed class MalformedJsonMessageTests
{
    private const string Sig = """{"keyid":"k","sig":"eHg="}""";

    [Theory]
    [InlineData("nope", "not JSON (line 1, column 2): 'nope' is an invalid JSON literal. Expected the literal 'null'")]
    [InlineData("", "not JSON: the text is empty")]
    [InlineData("""{"payloadType":"t","payload":"eHg=","signatures":[""", "not JSON (line 1, column 51): the text ends before its objects and lists are closed")]
    [InlineData("""{"payloadType":5,"payload":"eHg=","signatures":[""" + Sig + "]}", "payloadType (line 1, column 17): expected a string, found a number")]
    [InlineData("""{"payloadType":"t","payload":"eHg=","signatures":"all of them"}""", "signatures (line 1, column 63): expected a list")]
    [InlineData("""{"payloadType":"t","payload":"eHg=","signatures":[{"keyid":"k","sig":[]}]}""", "signatures[0].sig (line 1, column 71): expected a string, found a list")]
    [InlineData("""{"payloadType":"t"}""", "missing required members 'payload', 'signatures'")]
    [InlineData("""{"payloadType":"t","payload":"eHg=","signatures":[{"sig":"eHg="}]}""", "missing required member 'keyid' in signatures[0]")]
    [InlineData("""{"payloadType":"t","payload":"eHg=","signatures":[""" + Sig + """],"extra":1}""", "unknown member 'extra' (line 1, column 87)")]
    [InlineData("""{"payloadType":"t","payload":"eHg=","signatures":[{"keyid":"k","sig":"eHg=","alg":"x"}]}""", "unknown member 'alg' in signatures[0] (line 1, column 83)")]
    [InlineData("""{"payloadType":"t","payloadType":"u","payload":"eHg=","signatures":[""" + Sig + "]}", "member 'payloadType' appears twice (line 1, column 37)")]
    [InlineData("""{"payloadType":null,"payload":"eHg=","signatures":[""" + Sig + "]}", "payloadType (line 1, column 20): null is not allowed")]
    public void AMalformedEnvelopeIsDescribedByItsMemberAndPositionNotByDotNetTypes(string json, string expected)
    {
        var parsed = DsseEnvelope.Parse(json);

        Assert.False(parsed.IsOk);
        Assert.Equal($"the envelope is not a DSSE JSON envelope: {expected}", parsed.Error!.Message);
    }

    [Fact]
    public void AStatementWithAMemberOfTheWrongKindNamesTheMember()
    {
        var parsed = Statements.Parse("""{"_type":"https://in-toto.io/Statement/v1","subject":{"name":"w"}}"""u8);

        Assert.False(parsed.IsOk);
        Assert.Equal("the statement is malformed: subject (line 1, column 55): expected a list", parsed.Error!.Message);
    }
}
