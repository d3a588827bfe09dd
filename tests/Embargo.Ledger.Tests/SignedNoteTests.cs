namespace Embargo.Ledger.Tests;

/// <summary>C2SP signed-note: the published golang.org/x/mod/sumdb/note example key and note, plus tampering.</summary>
public class SignedNoteTests
{
    // The example from the Go reference implementation's documentation (sumdb/note), reused by the C2SP spec ecosystem.
    private const string ReferenceVerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    private const string ReferenceSecretKey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    private const string ReferenceText = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    private const string ReferenceNote = ReferenceText + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    [Fact]
    public void ReferenceSecretKeyYieldsThePublishedVerifierKey()
    {
        using var signer = NoteSigner.FromSecretKey(ReferenceSecretKey).Value;

        Assert.Equal("PeterNeumann", signer.Name);
        Assert.Equal(ReferenceVerifierKey, signer.VerifierKey);
        Assert.Equal(ReferenceSecretKey, signer.SecretKey);
    }

    [Fact]
    public void SigningTheReferenceTextReproducesThePublishedNoteByteForByte()
    {
        using var signer = NoteSigner.FromSecretKey(ReferenceSecretKey).Value;

        Assert.Equal(ReferenceNote, signer.Sign(ReferenceText));
    }

    [Fact]
    public void OpeningThePublishedNoteReturnsItsText()
    {
        var verifier = NoteVerifier.Parse(ReferenceVerifierKey).Value;

        var opened = verifier.Open(ReferenceNote);

        Assert.True(opened.IsOk, opened.ToString());
        Assert.Equal(ReferenceText, opened.Value);
        Assert.Equal("PeterNeumann", verifier.Name);
    }

    [Fact]
    public void EveryFlippedCharacterOfThePublishedNoteTextIsRejected()
    {
        var verifier = NoteVerifier.Parse(ReferenceVerifierKey).Value;
        for (var i = 0; i < ReferenceText.Length - 1; i++)
        {
            if (ReferenceText[i] == '\n')
            {
                continue;
            }

            var tampered = ReferenceNote[..i] + (char)(ReferenceNote[i] ^ 1) + ReferenceNote[(i + 1)..];
            Assert.Equal(LedgerErrorKind.BadSignature, verifier.Open(tampered).Error?.Kind);
        }
    }

    [Fact]
    public void EveryProperSubstringOrIncrementedByteOfTheVerifierKeyIsRejected()
    {
        var key = ReferenceVerifierKey;
        for (var i = 0; i <= key.Length; i++)
        {
            for (var j = i + 1; j <= key.Length; j++)
            {
                if (i != 0 || j != key.Length)
                {
                    Assert.False(NoteVerifier.Parse(key[i..j]).IsOk, key[i..j]);
                }
            }
        }

        for (var i = 0; i < key.Length; i++)
        {
            var mangled = key[..i] + (char)(key[i] + 1) + key[(i + 1)..];
            Assert.False(NoteVerifier.Parse(mangled).IsOk, mangled);
        }
    }

    [Fact]
    public void EveryProperSubstringOrIncrementedByteOfTheSecretKeyIsRejected()
    {
        var key = ReferenceSecretKey;
        for (var i = 0; i <= key.Length; i++)
        {
            for (var j = i + 1; j <= key.Length; j++)
            {
                if (i != 0 || j != key.Length)
                {
                    Assert.False(NoteSigner.FromSecretKey(key[i..j]).IsOk, key[i..j]);
                }
            }
        }

        for (var i = 0; i < key.Length; i++)
        {
            var mangled = key[..i] + (char)(key[i] + 1) + key[(i + 1)..];
            Assert.False(NoteSigner.FromSecretKey(mangled).IsOk, mangled);
        }
    }

    [Fact]
    public void VerifierKeyWithAnUnknownAlgorithmIsABadKey()
    {
        // Same key material behind algorithm byte 0x02 instead of 0x01.
        var result = NoteVerifier.Parse("PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
        Assert.Equal(LedgerErrorKind.BadKey, result.Error?.Kind);
        Assert.Contains("algorithm 0x02", result.Error?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GeneratedKeysRoundTripThroughTheirStrings()
    {
        using var signer = NoteSigner.Generate("log.example/embargo");
        using var reloaded = NoteSigner.FromSecretKey(signer.SecretKey).Value;
        var verifier = NoteVerifier.Parse(signer.VerifierKey).Value;

        Assert.Equal(signer.VerifierKey, reloaded.VerifierKey);
        Assert.StartsWith("log.example/embargo+", signer.VerifierKey, StringComparison.Ordinal);
        Assert.Equal("hello\n", verifier.Open(reloaded.Sign("hello\n")).Value);
    }

    [Fact]
    public void NoteSignedByAnotherKeyIsRejected()
    {
        using var signer = NoteSigner.Generate("alice");
        using var other = NoteSigner.Generate("bob");

        var result = NoteVerifier.Parse(signer.VerifierKey).Value.Open(other.Sign("text\n"));

        Assert.Equal(LedgerErrorKind.NoMatchingSignature, result.Error?.Kind);
    }

    [Fact]
    public void SignatureByAnotherKeyWithTheSameNameIsRejected()
    {
        using var signer = NoteSigner.Generate("log.example");
        using var impostor = NoteSigner.Generate("log.example");
        var verifier = NoteVerifier.Parse(signer.VerifierKey).Value;

        var result = verifier.Open(impostor.Sign("text\n"));

        Assert.Equal(LedgerErrorKind.NoMatchingSignature, result.Error?.Kind);
    }

    [Fact]
    public void ImpostorSignatureUnderTheRightKeyIdFailsAsBadSignature()
    {
        using var signer = NoteSigner.Generate("log.example");
        using var impostor = NoteSigner.Generate("log.example");
        var genuineBlob = Convert.FromBase64String(signer.Sign("text\n").Split(' ')[^1].TrimEnd('\n'));
        var forgedBlob = Convert.FromBase64String(impostor.Sign("text\n").Split(' ')[^1].TrimEnd('\n'));
        genuineBlob.AsSpan(0, 4).CopyTo(forgedBlob); // claim the genuine key id

        var note = "text\n\n\u2014 log.example " + Convert.ToBase64String(forgedBlob) + "\n";
        var result = NoteVerifier.Parse(signer.VerifierKey).Value.Open(note);

        Assert.Equal(LedgerErrorKind.BadSignature, result.Error?.Kind);
    }

    [Fact]
    public void SignaturesByUnknownKeysAreIgnoredWhenOursIsPresent()
    {
        using var signer = NoteSigner.Generate("log.example");
        using var witness = NoteSigner.Generate("witness.example");
        var signed = signer.Sign("text\n");
        var witnessLine = witness.Sign("text\n")["text\n\n".Length..];

        var result = NoteVerifier.Parse(signer.VerifierKey).Value.Open(signed + witnessLine);

        Assert.True(result.IsOk, result.ToString());
        Assert.Equal("text\n", result.Value);
    }

    [Theory]
    [InlineData("text\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")] // no blank line
    [InlineData("text\n\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")] // no final newline
    [InlineData("text\n\n-- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")] // not an em dash
    [InlineData("text\n\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM\n")] // bad base64
    [InlineData("text\n\n\u2014 PeterNeumann  x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")] // two spaces
    [InlineData("text\n\n\u2014 PeterNeumann AAAA\n")] // too short to carry a key id and a signature
    [InlineData("text\n\n")] // no signature lines
    [InlineData("te\txt\n\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")] // control character
    public void MalformedNotesAreRejectedAsMalformed(string note)
    {
        var result = NoteVerifier.Parse(ReferenceVerifierKey).Value.Open(note);

        Assert.Equal(LedgerErrorKind.Malformed, result.Error?.Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a+b")]
    [InlineData("tab\tname")]
    public void InvalidKeyNamesAreCallerBugs(string name)
    {
        Assert.Throws<ArgumentException>(() => NoteSigner.Generate(name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("no final newline")]
    [InlineData("bell\a\n")]
    public void SigningInvalidTextIsACallerBug(string body)
    {
        using var signer = NoteSigner.Generate("log.example");
        Assert.Throws<ArgumentException>(() => signer.Sign(body));
    }
}
