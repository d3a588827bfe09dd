using System.Text;
using System.Text.Json;

namespace Embargo.Ledger.Tests;

/// <summary>cosignature/v1 against published and independently produced vectors (vectors/cosignature/README.md).</summary>
public sealed class CosignatureVectorTests
{
    private static readonly JsonElement Vectors = Load();

    private static JsonElement Load()
    {
        using var stream = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "vectors", "cosignature", "cosignature-v1.json"));
        return JsonDocument.Parse(stream).RootElement.Clone();
    }

    private static string S(JsonElement e, string name) => e.GetProperty(name).GetString()!;

    [Fact]
    public void TheSignedMessageIsTheSpecsExampleByteForByte()
    {
        var example = Vectors.GetProperty("spec_example");
        var message = CosignatureV1.Message(S(example, "checkpoint_body"), example.GetProperty("timestamp").GetInt64());
        Assert.Equal(S(example, "signed_message"), Encoding.UTF8.GetString(message));
    }

    [Fact]
    public void TheSpecsExampleLineParsesToItsKeyIdAndTimestamp()
    {
        var example = Vectors.GetProperty("spec_example");
        var note = ParsedNote.Parse(S(example, "checkpoint_body") + "\n" + S(example, "line") + "\n");
        Assert.True(note.IsOk, note.Error?.Message);
        var signature = Assert.Single(note.Value.Signatures);
        Assert.Equal("witness.example.com/w1", signature.Name);
        Assert.Equal(CosignatureV1.SignatureBlobLength, signature.Blob.Length);
        Assert.Equal(S(example, "key_id"), Convert.ToHexStringLower(signature.Blob[..4]));
        Assert.Equal(example.GetProperty("timestamp").GetInt64(), (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(signature.Blob.AsSpan(4, 8)));
    }

    [Fact]
    public void APublishedWitnessKeyParsesAndItsKeyIdRecomputesWithType0x04()
    {
        foreach (var v in Vectors.GetProperty("vkeys").EnumerateArray())
        {
            var parsed = CosignatureVerifier.Parse(S(v, "vkey"));
            Assert.True(parsed.IsOk, parsed.Error?.Message);
            // The same key read as a plain Ed25519 note key (type 0x01) is refused: the type byte is part of the key.
            Assert.False(NoteVerifier.Parse(S(v, "vkey")).IsOk);
        }
    }

    [Fact]
    public void APublishedCosignatureCarriesItsTimestampBigEndianAfterTheKeyId()
    {
        foreach (var v in Vectors.GetProperty("timestamps").EnumerateArray())
        {
            var blob = Convert.FromBase64String(S(v, "signature"));
            Assert.Equal(S(v, "key_id"), Convert.ToHexStringLower(blob[..4]));
            Assert.Equal(v.GetProperty("timestamp").GetInt64(), (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(blob.AsSpan(4, 8)));
        }
    }

    [Fact]
    public void TheSignerReproducesTheOpenSslKnownAnswerLineExactly()
    {
        var ka = Vectors.GetProperty("known_answer");
        using var signer = CosignatureSigner.FromSeed(S(ka, "name"), Convert.FromHexString(S(ka, "seed")));
        Assert.Equal(S(ka, "vkey"), signer.VerifierKey);
        Assert.Equal(S(ka, "line") + "\n", signer.Cosign(S(ka, "checkpoint_body"), ka.GetProperty("timestamp").GetInt64()));
    }

    [Fact]
    public void TheKnownAnswerLineVerifiesAndAnyChangedByteFails()
    {
        var ka = Vectors.GetProperty("known_answer");
        var verifier = CosignatureVerifier.Parse(S(ka, "vkey")).Value;
        var body = S(ka, "checkpoint_body");
        var line = S(ka, "line") + "\n";
        var found = Cosignatures.Find(body + "\n" + line, [verifier]);
        Assert.True(found.IsOk, found.Error?.Message);
        Assert.Equal(ka.GetProperty("timestamp").GetInt64(), Assert.Single(found.Value).Timestamp);

        var blob = ParsedNote.ParseSignatureLines(line).Value[0].Blob;
        foreach (var at in new[] { 5, 11, 12, 40, 75 })
        {
            var changed = (byte[])blob.Clone();
            changed[at] ^= 0x01;
            var result = verifier.Verify(body, new NoteSignature(S(ka, "name"), changed));
            Assert.Equal(LedgerErrorKind.BadSignature, result.Error?.Kind);
        }
        var otherBody = body.Replace("20852163", "20852164", StringComparison.Ordinal);
        Assert.Equal(LedgerErrorKind.BadSignature, verifier.Verify(otherBody, new NoteSignature(S(ka, "name"), blob)).Error?.Kind);
    }

    [Fact]
    public void ASignerRoundTripsThroughItsSecretAndVerifierKeys()
    {
        using var generated = CosignatureSigner.Generate("w.example/one");
        using var again = CosignatureSigner.FromSecretKey(generated.SecretKey).Value;
        Assert.Equal(generated.VerifierKey, again.VerifierKey);
        var body = "log.example\n3\n" + Convert.ToBase64String(new byte[32]) + "\n";
        var verifier = CosignatureVerifier.Parse(generated.VerifierKey).Value;
        Assert.Equal(17, verifier.Verify(body, ParsedNote.ParseSignatureLines(again.Cosign(body, 17)).Value[0]).Value);
    }
}
