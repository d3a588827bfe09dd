using Embargo.Ledger;
using Embargo.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Embargo.Server.Ledger;

/// <summary>Signs checkpoints (C2SP signed note, Ed25519). The key comes from configuration or DataDirectory/ledger.key.</summary>
public sealed class LedgerSigner
{
    private readonly NoteSigner _signer;
    private readonly NoteVerifier _verifier;

    public LedgerSigner(IOptions<EmbargoOptions> options)
    {
        var o = options.Value;
        Origin = o.LedgerOrigin;
        var secret = o.LedgerSigningKey;
        if (string.IsNullOrWhiteSpace(secret))
        {
            Directory.CreateDirectory(o.DataDirectory);
            var path = Path.Combine(o.DataDirectory, "ledger.key");
            if (!File.Exists(path))
            {
                var created = NoteSigner.Generate(o.LedgerOrigin);
                var tmp = path + ".tmp";
                File.Delete(tmp);
                FrontDoor.WritePrivateFile(tmp, created.SecretKey + "\n");
                File.Move(tmp, path);
            }
            secret = File.ReadAllText(path).Trim();
        }
        var parsed = NoteSigner.FromSecretKey(secret);
        if (!parsed.IsOk)
        {
            throw new InvalidOperationException($"the ledger signing key is invalid: {parsed.Error!.Message}");
        }
        _signer = parsed.Value;
        _verifier = NoteVerifier.Parse(_signer.VerifierKey).Value;
    }

    public string Origin { get; }
    public string VerifierKey => _signer.VerifierKey;

    /// <summary>The checkpoint in a note this server signed (signature under its key, its origin), or null.</summary>
    public Checkpoint? Open(string signedNote)
    {
        var body = _verifier.Open(signedNote);
        if (!body.IsOk)
        {
            return null;
        }
        var checkpoint = Checkpoint.Parse(body.Value);
        return checkpoint.IsOk && checkpoint.Value.Origin == Origin ? checkpoint.Value : null;
    }

    public string SignCheckpoint(long size, byte[] root) =>
        _signer.Sign(new Checkpoint { Origin = Origin, Size = size, RootHash = root, Extensions = [] }.ToNoteBody());
}
