using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Embargo.Ledger;

/// <summary>C2SP signed-note conventions shared by <see cref="NoteSigner"/> and <see cref="NoteVerifier"/>.</summary>
internal static class SignedNote
{
    public const byte AlgorithmEd25519 = 0x01;
    public const string SignaturePrefix = "\u2014 ";
    public const string SecretKeyPrefix = "PRIVATE+KEY+";
    public const int MaxSignatureLines = 100;

    public static readonly SignatureAlgorithm Ed25519 = SignatureAlgorithm.Ed25519;

    /// <summary>Key ID = first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key).</summary>
    public static byte[] KeyId(string name, ReadOnlySpan<byte> publicKey)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[nameBytes.Length + 2 + publicKey.Length];
        nameBytes.CopyTo(input, 0);
        input[nameBytes.Length] = 0x0A;
        input[nameBytes.Length + 1] = AlgorithmEd25519;
        publicKey.CopyTo(input.AsSpan(nameBytes.Length + 2));
        return SHA256.HashData(input)[..4];
    }

    /// <summary>Splits "name+hex8+base64" and checks the name, the hex and the algorithm byte and length of the key.</summary>
    public static LedgerResult<(string Name, byte[] KeyId, byte[] KeyMaterial)> SplitKey(string key, int keyLength, string what, byte algorithm = AlgorithmEd25519)
    {
        var plus = key.IndexOf('+', StringComparison.Ordinal);
        if (plus <= 0)
        {
            return BadKey($"{what} must look like <name>+<key id>+<key>");
        }

        var name = key[..plus];
        if (!Text.IsValidName(name))
        {
            return BadKey($"{what} name is empty or contains whitespace or '+'");
        }

        var rest = key[(plus + 1)..];
        if (rest.Length < 10 || rest[8] != '+' || !rest[..8].All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            return BadKey($"{what} key id must be 8 lowercase hex digits");
        }

        var id = Convert.FromHexString(rest[..8]);
        if (!Text.TryDecodeBase64(rest[9..], out var material) || material.Length != 1 + keyLength)
        {
            return BadKey($"{what} key is not canonical base64 of {1 + keyLength} bytes");
        }

        if (material[0] != algorithm)
        {
            return BadKey(algorithm == AlgorithmEd25519
                ? $"{what} algorithm 0x{material[0]:x2} is not Ed25519 (0x01)"
                : $"{what} algorithm 0x{material[0]:x2} is not 0x{algorithm:x2}");
        }

        return LedgerResult<(string, byte[], byte[])>.Success((name, id, material[1..]));
    }

    public static string FormatKeyId(byte[] keyId) => Convert.ToHexStringLower(keyId);

    private static LedgerResult<(string, byte[], byte[])> BadKey(string message) =>
        LedgerResult<(string, byte[], byte[])>.Fail(LedgerErrorKind.BadKey, message);

    public static string Describe(string name, byte[] keyId) =>
        string.Create(CultureInfo.InvariantCulture, $"{name}+{FormatKeyId(keyId)}");
}

/// <summary>Signs note bodies with an Ed25519 key in the C2SP signed-note format. Dispose to release the key.</summary>
public sealed class NoteSigner : IDisposable
{
    private readonly Key _key;
    private readonly byte[] _keyId;

    private NoteSigner(string name, Key key, byte[] seed)
    {
        Name = name;
        _key = key;
        var publicKey = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        _keyId = SignedNote.KeyId(name, publicKey);
        var id = SignedNote.FormatKeyId(_keyId);
        VerifierKey = $"{name}+{id}+{Convert.ToBase64String([SignedNote.AlgorithmEd25519, .. publicKey])}";
        SecretKey = $"{SignedNote.SecretKeyPrefix}{name}+{id}+{Convert.ToBase64String([SignedNote.AlgorithmEd25519, .. seed])}";
    }

    /// <summary>The key name (usually the log's origin).</summary>
    public string Name { get; }

    /// <summary>"PRIVATE+KEY+&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x01 || seed)&gt;". Secret: never log it.</summary>
    public string SecretKey { get; }

    /// <summary>"&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x01 || public key)&gt;", what verifiers are given.</summary>
    public string VerifierKey { get; }

    /// <summary>A fresh random key. A bad name is a caller bug and throws.</summary>
    public static NoteSigner Generate(string name)
    {
        if (!Text.IsValidName(name))
        {
            throw new ArgumentException("A note key name must be non-empty, without whitespace or '+'.", nameof(name));
        }

        var key = Key.Create(SignedNote.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return new NoteSigner(name, key, key.Export(KeyBlobFormat.RawPrivateKey));
    }

    /// <summary>Parses "PRIVATE+KEY+&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x01 || seed)&gt;", checking the key id.</summary>
    public static LedgerResult<NoteSigner> FromSecretKey(string skey)
    {
        ArgumentNullException.ThrowIfNull(skey);
        if (!skey.StartsWith(SignedNote.SecretKeyPrefix, StringComparison.Ordinal))
        {
            return LedgerResult<NoteSigner>.Fail(LedgerErrorKind.BadKey, "secret key must start with PRIVATE+KEY+");
        }

        var split = SignedNote.SplitKey(skey[SignedNote.SecretKeyPrefix.Length..], 32, "secret key");
        if (!split.IsOk)
        {
            return split.Error;
        }

        var (name, keyId, seed) = split.Value;
        var key = Key.Import(SignedNote.Ed25519, seed, KeyBlobFormat.RawPrivateKey);
        var signer = new NoteSigner(name, key, seed);
        if (!signer._keyId.AsSpan().SequenceEqual(keyId))
        {
            signer.Dispose();
            return LedgerResult<NoteSigner>.Fail(LedgerErrorKind.BadKey, "secret key id does not match its name and key");
        }

        return LedgerResult<NoteSigner>.Success(signer);
    }

    /// <summary>
    /// Returns the signed note: the body, a blank line and one signature line. The body must be non-empty,
    /// end in a newline and contain no control characters other than newline; anything else is a caller bug.
    /// </summary>
    public string Sign(string noteBody)
    {
        ArgumentNullException.ThrowIfNull(noteBody);
        if (noteBody.Length == 0 || !noteBody.EndsWith('\n'))
        {
            throw new ArgumentException("A note body must be non-empty and end with a newline.", nameof(noteBody));
        }

        if (!Text.IsValidNoteText(noteBody, out var problem))
        {
            throw new ArgumentException($"A note body must be valid text: {problem}.", nameof(noteBody));
        }

        var signature = SignedNote.Ed25519.Sign(_key, Encoding.UTF8.GetBytes(noteBody));
        var blob = Convert.ToBase64String([.. _keyId, .. signature]);
        return $"{noteBody}\n{SignedNote.SignaturePrefix}{Name} {blob}\n";
    }

    public void Dispose() => _key.Dispose();

    public override string ToString() => $"NoteSigner({VerifierKey})";
}

/// <summary>Verifies C2SP signed notes against one Ed25519 verifier key.</summary>
public sealed class NoteVerifier
{
    private readonly PublicKey _publicKey;
    private readonly byte[] _keyId;

    private NoteVerifier(string name, byte[] keyId, PublicKey publicKey, string verifierKey)
    {
        Name = name;
        _keyId = keyId;
        _publicKey = publicKey;
        VerifierKey = verifierKey;
    }

    /// <summary>The key name signature lines must carry.</summary>
    public string Name { get; }

    /// <summary>The verifier key string this was parsed from.</summary>
    public string VerifierKey { get; }

    /// <summary>Parses "&lt;name&gt;+&lt;key id&gt;+&lt;base64(0x01 || public key)&gt;", checking that the key id matches.</summary>
    public static LedgerResult<NoteVerifier> Parse(string vkey)
    {
        ArgumentNullException.ThrowIfNull(vkey);
        var split = SignedNote.SplitKey(vkey, 32, "verifier key");
        if (!split.IsOk)
        {
            return split.Error;
        }

        var (name, keyId, raw) = split.Value;
        if (!SignedNote.KeyId(name, raw).AsSpan().SequenceEqual(keyId))
        {
            return LedgerResult<NoteVerifier>.Fail(LedgerErrorKind.BadKey, "verifier key id does not match its name and key");
        }

        if (!PublicKey.TryImport(SignedNote.Ed25519, raw, KeyBlobFormat.RawPublicKey, out var publicKey) || publicKey is null)
        {
            return LedgerResult<NoteVerifier>.Fail(LedgerErrorKind.BadKey, "verifier key is not an Ed25519 public key");
        }

        return LedgerResult<NoteVerifier>.Success(new NoteVerifier(name, keyId, publicKey, vkey));
    }

    /// <summary>
    /// Checks the note's syntax, then the signature line(s) by this key's name and key id (others are ignored),
    /// and returns the body (ending in a newline). Any failing line by this key rejects the note.
    /// </summary>
    public LedgerResult<string> Open(string signedNote)
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
        if (block.Length == 0)
        {
            return Malformed("no signature lines");
        }

        var lines = block[..^1].Split('\n');
        if (lines.Length > SignedNote.MaxSignatureLines)
        {
            return Malformed($"more than {SignedNote.MaxSignatureLines} signature lines");
        }

        var matched = false;
        byte[]? bodyBytes = null;
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

            if (fields[0] != Name || !blob.AsSpan(0, 4).SequenceEqual(_keyId))
            {
                continue; // a signature by some other key: not ours to judge
            }

            bodyBytes ??= Encoding.UTF8.GetBytes(body);
            if (blob.Length != 4 + SignedNote.Ed25519.SignatureSize
                || !SignedNote.Ed25519.Verify(_publicKey, bodyBytes, blob.AsSpan(4)))
            {
                return LedgerResult<string>.Fail(LedgerErrorKind.BadSignature,
                    $"signature by {SignedNote.Describe(Name, _keyId)} on line {i + 1} does not verify");
            }

            matched = true;
        }

        return matched
            ? LedgerResult<string>.Success(body)
            : LedgerResult<string>.Fail(LedgerErrorKind.NoMatchingSignature,
                $"note has no signature by {SignedNote.Describe(Name, _keyId)}");
    }

    public override string ToString() => $"NoteVerifier({VerifierKey})";

    private static LedgerResult<string> Malformed(string message) =>
        LedgerResult<string>.Fail(LedgerErrorKind.Malformed, $"signed note: {message}");
}
