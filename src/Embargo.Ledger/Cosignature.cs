using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Embargo.Ledger;

/// <summary>
/// C2SP tlog-cosignature, Ed25519 type: key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4]; the signature is
/// u64 big-endian timestamp || Ed25519 over "cosignature/v1\ntime &lt;t&gt;\n" followed by the whole checkpoint body.
/// </summary>
public static class CosignatureV1
{
    /// <summary>The signature type byte of a timestamped Ed25519 cosignature.</summary>
    public const byte Algorithm = 0x04;

    /// <summary>Key id (4) + timestamp (8) + Ed25519 signature (64).</summary>
    public const int SignatureBlobLength = 4 + 8 + 64;

    public static byte[] KeyId(string name, ReadOnlySpan<byte> publicKey)
    {
        ArgumentNullException.ThrowIfNull(name);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[nameBytes.Length + 2 + publicKey.Length];
        nameBytes.CopyTo(input, 0);
        input[nameBytes.Length] = 0x0A;
        input[nameBytes.Length + 1] = Algorithm;
        publicKey.CopyTo(input.AsSpan(nameBytes.Length + 2));
        return SHA256.HashData(input)[..4];
    }

    /// <summary>The exact bytes a cosigner signs: the header line, the time line, then the note body (ending in a newline).</summary>
    public static byte[] Message(string checkpointBody, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(checkpointBody);
        ArgumentOutOfRangeException.ThrowIfNegative(timestamp);
        return Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"cosignature/v1\ntime {timestamp}\n{checkpointBody}"));
    }
}

/// <summary>A witness's Ed25519 cosigning key. Dispose to release it.</summary>
public sealed class CosignatureSigner : IDisposable
{
    private readonly Key _key;
    private readonly byte[] _keyId;

    private CosignatureSigner(string name, Key key, byte[] seed)
    {
        Name = name;
        _key = key;
        var publicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        _keyId = CosignatureV1.KeyId(name, publicKey);
        var id = SignedNote.FormatKeyId(_keyId);
        VerifierKey = $"{name}+{id}+{Convert.ToBase64String([CosignatureV1.Algorithm, .. publicKey])}";
        SecretKey = $"{SignedNote.SecretKeyPrefix}{name}+{id}+{Convert.ToBase64String([CosignatureV1.Algorithm, .. seed])}";
    }

    /// <summary>The witness name (a schema-less URL, e.g. "regulator.example/witness").</summary>
    public string Name { get; }

    /// <summary>"PRIVATE+KEY+&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x04 || seed)&gt;". Secret: never log it.</summary>
    public string SecretKey { get; }

    /// <summary>"&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x04 || public key)&gt;": the vkey logs and clients are given.</summary>
    public string VerifierKey { get; }

    /// <summary>A fresh random key. A bad name is a caller bug and throws.</summary>
    public static CosignatureSigner Generate(string name)
    {
        if (!Text.IsValidName(name))
        {
            throw new ArgumentException("A witness name must be non-empty, without whitespace or '+'.", nameof(name));
        }

        var key = Key.Create(SignedNote.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new CosignatureSigner(name, key, key.Export(KeyBlobFormat.RawPrivateKey));
    }

    /// <summary>From a 32-byte Ed25519 seed (test vectors; keys from elsewhere).</summary>
    public static CosignatureSigner FromSeed(string name, ReadOnlySpan<byte> seed)
    {
        if (!Text.IsValidName(name) || seed.Length != 32)
        {
            throw new ArgumentException("A witness name must be valid and the seed 32 bytes.", nameof(seed));
        }

        var key = Key.Import(SignedNote.Ed25519, seed, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new CosignatureSigner(name, key, seed.ToArray());
    }

    /// <summary>Parses "PRIVATE+KEY+&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x04 || seed)&gt;", checking the key id.</summary>
    public static LedgerResult<CosignatureSigner> FromSecretKey(string skey)
    {
        ArgumentNullException.ThrowIfNull(skey);
        if (!skey.StartsWith(SignedNote.SecretKeyPrefix, StringComparison.Ordinal))
        {
            return LedgerResult<CosignatureSigner>.Fail(LedgerErrorKind.BadKey, "witness key must start with PRIVATE+KEY+");
        }

        var split = SignedNote.SplitKey(skey[SignedNote.SecretKeyPrefix.Length..], 32, "witness key", CosignatureV1.Algorithm);
        if (!split.IsOk)
        {
            return split.Error;
        }

        var (name, keyId, seed) = split.Value;
        var signer = FromSeed(name, seed);
        if (!signer._keyId.AsSpan().SequenceEqual(keyId))
        {
            signer.Dispose();
            return LedgerResult<CosignatureSigner>.Fail(LedgerErrorKind.BadKey, "witness key id does not match its name and key");
        }

        return LedgerResult<CosignatureSigner>.Success(signer);
    }

    /// <summary>
    /// The cosignature line "— &lt;name&gt; base64(key id || u64 timestamp || signature)\n" over a checkpoint body
    /// (ending in a newline). A body that is not valid note text or a negative time is a caller bug and throws.
    /// </summary>
    public string Cosign(string checkpointBody, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(checkpointBody);
        if (checkpointBody.Length == 0 || !checkpointBody.EndsWith('\n') || !Text.IsValidNoteText(checkpointBody, out _))
        {
            throw new ArgumentException("A checkpoint body must be valid note text ending with a newline.", nameof(checkpointBody));
        }

        var signature = SignedNote.Ed25519.Sign(_key, CosignatureV1.Message(checkpointBody, timestamp));
        var blob = new byte[CosignatureV1.SignatureBlobLength];
        _keyId.CopyTo(blob, 0);
        BinaryPrimitives.WriteUInt64BigEndian(blob.AsSpan(4), (ulong)timestamp);
        signature.CopyTo(blob, 12);
        return $"{SignedNote.SignaturePrefix}{Name} {Convert.ToBase64String(blob)}\n";
    }

    public void Dispose() => _key.Dispose();

    public override string ToString() => $"CosignatureSigner({VerifierKey})";
}

/// <summary>Verifies cosignature/v1 (Ed25519) lines of one witness.</summary>
public sealed class CosignatureVerifier
{
    private readonly PublicKey _publicKey;
    private readonly byte[] _keyId;

    private CosignatureVerifier(string name, byte[] keyId, PublicKey publicKey, string verifierKey)
    {
        Name = name;
        _keyId = keyId;
        _publicKey = publicKey;
        VerifierKey = verifierKey;
    }

    public string Name { get; }

    public string VerifierKey { get; }

    /// <summary>"name+keyid" for messages.</summary>
    public string Describe() => SignedNote.Describe(Name, _keyId);

    /// <summary>Parses "&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x04 || public key)&gt;", checking that the key id matches.</summary>
    public static LedgerResult<CosignatureVerifier> Parse(string vkey)
    {
        ArgumentNullException.ThrowIfNull(vkey);
        var split = SignedNote.SplitKey(vkey, 32, "witness verifier key", CosignatureV1.Algorithm);
        if (!split.IsOk)
        {
            return split.Error;
        }

        var (name, keyId, raw) = split.Value;
        if (!CosignatureV1.KeyId(name, raw).AsSpan().SequenceEqual(keyId))
        {
            return LedgerResult<CosignatureVerifier>.Fail(LedgerErrorKind.BadKey, "witness verifier key id does not match its name and key");
        }

        if (!PublicKey.TryImport(SignedNote.Ed25519, raw, KeyBlobFormat.RawPublicKey, out var publicKey) || publicKey is null)
        {
            return LedgerResult<CosignatureVerifier>.Fail(LedgerErrorKind.BadKey, "witness verifier key is not an Ed25519 public key");
        }

        return LedgerResult<CosignatureVerifier>.Success(new CosignatureVerifier(name, keyId, publicKey, vkey));
    }

    /// <summary>True when the signature line is by this witness (same name and key id), whether or not it verifies.</summary>
    public bool Owns(NoteSignature signature)
    {
        ArgumentNullException.ThrowIfNull(signature);
        return signature.Name == Name && signature.Blob.Length >= 4 && signature.Blob.AsSpan(0, 4).SequenceEqual(_keyId);
    }

    /// <summary>Verifies a line this witness <see cref="Owns"/> over the checkpoint body; returns its timestamp.</summary>
    public LedgerResult<long> Verify(string checkpointBody, NoteSignature signature)
    {
        ArgumentNullException.ThrowIfNull(checkpointBody);
        ArgumentNullException.ThrowIfNull(signature);
        if (!Owns(signature))
        {
            return LedgerResult<long>.Fail(LedgerErrorKind.NoMatchingSignature, $"the signature line is not by {Describe()}");
        }

        if (signature.Blob.Length != CosignatureV1.SignatureBlobLength)
        {
            return LedgerResult<long>.Fail(LedgerErrorKind.BadSignature, $"cosignature by {Describe()} is {signature.Blob.Length} bytes, not {CosignatureV1.SignatureBlobLength}");
        }

        var timestamp = BinaryPrimitives.ReadUInt64BigEndian(signature.Blob.AsSpan(4, 8));
        if (timestamp > long.MaxValue)
        {
            return LedgerResult<long>.Fail(LedgerErrorKind.BadSignature, $"cosignature by {Describe()} has a timestamp above 2^63 - 1");
        }

        return SignedNote.Ed25519.Verify(_publicKey, CosignatureV1.Message(checkpointBody, (long)timestamp), signature.Blob.AsSpan(12))
            ? LedgerResult<long>.Success((long)timestamp)
            : LedgerResult<long>.Fail(LedgerErrorKind.BadSignature, $"cosignature by {Describe()} does not verify");
    }

    public override string ToString() => $"CosignatureVerifier({VerifierKey})";
}

/// <summary>One signature line of a note: the key name and the decoded base64 (key id first).</summary>
public sealed record NoteSignature(string Name, byte[] Blob)
{
    /// <summary>The line as it appears in a note, with its final newline.</summary>
    public string ToLine() => $"{SignedNote.SignaturePrefix}{Name} {Convert.ToBase64String(Blob)}\n";
}

/// <summary>A note split into its text and every signature line (any number of keys), syntax checked, nothing verified.</summary>
public sealed record ParsedNote(string Body, IReadOnlyList<NoteSignature> Signatures)
{
    /// <summary>Splits a signed note strictly (the same rules as <see cref="NoteVerifier.Open"/>).</summary>
    public static LedgerResult<ParsedNote> Parse(string signedNote)
    {
        ArgumentNullException.ThrowIfNull(signedNote);
        if (!Text.IsValidNoteText(signedNote, out var problem))
        {
            return Malformed(problem);
        }

        if (!signedNote.EndsWith('\n'))
        {
            return Malformed("must end with a newline");
        }

        var split = signedNote.LastIndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0)
        {
            return Malformed("no blank line between the text and the signatures");
        }

        var body = signedNote[..(split + 1)];
        var block = signedNote[(split + 2)..];
        return block.Length == 0 ? Malformed("no signature lines") : ParseLines(body, block);
    }

    /// <summary>Parses signature lines only (e.g. a witness's add-checkpoint response), each ending in a newline.</summary>
    public static LedgerResult<IReadOnlyList<NoteSignature>> ParseSignatureLines(string block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (block.Length == 0 || !block.EndsWith('\n') || !Text.IsValidNoteText(block, out _))
        {
            return LedgerResult<IReadOnlyList<NoteSignature>>.Fail(LedgerErrorKind.Malformed, "signature lines: not newline-terminated note text");
        }

        var parsed = ParseLines("", block);
        return parsed.IsOk ? LedgerResult<IReadOnlyList<NoteSignature>>.Success(parsed.Value.Signatures) : parsed.Error;
    }

    /// <summary>The note again: body, blank line, the signature lines in order.</summary>
    public string Format() => Body + "\n" + string.Concat(Signatures.Select(s => s.ToLine()));

    private static LedgerResult<ParsedNote> ParseLines(string body, string block)
    {
        var lines = block[..^1].Split('\n');
        if (lines.Length > SignedNote.MaxSignatureLines)
        {
            return Malformed($"more than {SignedNote.MaxSignatureLines} signature lines");
        }

        var signatures = new List<NoteSignature>(lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (!line.StartsWith(SignedNote.SignaturePrefix, StringComparison.Ordinal))
            {
                return Malformed($"signature line {i + 1} does not start with an em dash and a space");
            }

            var fields = line[SignedNote.SignaturePrefix.Length..].Split(' ');
            if (fields.Length != 2 || !Text.IsValidName(fields[0]))
            {
                return Malformed($"signature line {i + 1} is not '— <name> <signature>'");
            }

            if (!Text.TryDecodeBase64(fields[1], out var blob) || blob.Length < 5)
            {
                return Malformed($"signature line {i + 1} does not carry base64 of a key id and a signature");
            }

            signatures.Add(new NoteSignature(fields[0], blob));
        }

        return LedgerResult<ParsedNote>.Success(new ParsedNote(body, signatures));
    }

    private static LedgerResult<ParsedNote> Malformed(string message) =>
        LedgerResult<ParsedNote>.Fail(LedgerErrorKind.Malformed, $"signed note: {message}");
}

/// <summary>One witness whose cosignature verified on a checkpoint.</summary>
public sealed record Cosigned(string Witness, string VerifierKey, long Timestamp);

/// <summary>Counting cosignatures on a checkpoint against a set of trusted witness keys.</summary>
public static class Cosignatures
{
    /// <summary>
    /// Every given witness whose cosignature on the note verifies, each counted once however many lines it has.
    /// Lines by other keys are ignored; a line by a given witness that does not verify rejects the note (as a note
    /// verifier does), and so does the same key given twice.
    /// </summary>
    public static LedgerResult<IReadOnlyList<Cosigned>> Find(string signedNote, IReadOnlyList<CosignatureVerifier> witnesses)
    {
        ArgumentNullException.ThrowIfNull(witnesses);
        var note = ParsedNote.Parse(signedNote);
        if (!note.IsOk)
        {
            return note.Error;
        }

        if (witnesses.Select(w => w.Describe()).Distinct(StringComparer.Ordinal).Count() != witnesses.Count)
        {
            return LedgerResult<IReadOnlyList<Cosigned>>.Fail(LedgerErrorKind.BadKey, "the same witness key is given twice: each counts once towards a quorum");
        }

        var found = new List<Cosigned>();
        foreach (var witness in witnesses)
        {
            Cosigned? latest = null;
            foreach (var line in note.Value.Signatures.Where(witness.Owns))
            {
                var verified = witness.Verify(note.Value.Body, line);
                if (!verified.IsOk)
                {
                    return verified.Error;
                }

                if (latest is null || verified.Value > latest.Timestamp)
                {
                    latest = new Cosigned(witness.Name, witness.VerifierKey, verified.Value);
                }
            }

            if (latest is not null)
            {
                found.Add(latest);
            }
        }

        return LedgerResult<IReadOnlyList<Cosigned>>.Success(found);
    }

    /// <summary><see cref="Find"/>, failing unless at least <paramref name="quorum"/> distinct given witnesses cosigned.</summary>
    public static LedgerResult<IReadOnlyList<Cosigned>> RequireQuorum(string signedNote, IReadOnlyList<CosignatureVerifier> witnesses, int quorum)
    {
        ArgumentNullException.ThrowIfNull(witnesses);
        if (quorum < 1 || quorum > witnesses.Count)
        {
            return LedgerResult<IReadOnlyList<Cosigned>>.Fail(LedgerErrorKind.IndexOutOfRange,
                $"a quorum of {quorum} needs between 1 and {witnesses.Count} witness keys");
        }

        var found = Find(signedNote, witnesses);
        if (!found.IsOk || found.Value.Count >= quorum)
        {
            return found;
        }

        var cosigned = found.Value.Count == 0 ? "none" : string.Join(", ", found.Value.Select(c => c.Witness));
        return LedgerResult<IReadOnlyList<Cosigned>>.Fail(LedgerErrorKind.NoMatchingSignature,
            $"{found.Value.Count} of the {witnesses.Count} given witnesses cosigned the checkpoint ({cosigned}), the quorum is {quorum}");
    }
}
