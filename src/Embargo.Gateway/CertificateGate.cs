using System.Security.Cryptography;
using Embargo.Protocol;
using Embargo.Protocol.Certificates;

namespace Embargo.Gateway;

/// <summary>
/// Rule 1 at run time: the release certificate (DSSE envelope) an upstream is served under. It is verified once when
/// the configuration loads, with the same code as `embargo verify` (<see cref="CertificateVerifier"/>); while the
/// gateway follows a server, the certificate's status there can end it later (flagged, revoked, superseded, unknown).
/// </summary>
public sealed class CertificateGate
{
    private volatile string? _refusal;

    private CertificateGate(string path, CertificateVerification verification, string? statementSha256)
    {
        Path = path;
        Verification = verification;
        StatementSha256 = statementSha256;
        if (verification.Ok && Tiers.TryParse(verification.Statement!.Predicate.Tier, out var tier))
        {
            CertifiedTier = tier;
        }
        else
        {
            _refusal = verification.Ok
                ? $"the certificate {System.IO.Path.GetFileName(path)} names an unknown tier"
                : $"the certificate {System.IO.Path.GetFileName(path)} does not verify: {verification.FirstFailure!.Name}: {verification.FirstFailure.Detail}";
        }
    }

    /// <summary>
    /// Evaluation access: the gate of a version served before release to the evaluators of its open cases (no certificate
    /// exists yet). It allows grants up to <paramref name="tier"/>; <paramref name="refusal"/>, when given, closes it.
    /// </summary>
    public static CertificateGate ForEvaluation(string label, Tier tier, string? refusal) => new(label, tier, refusal);

    private CertificateGate(string label, Tier tier, string? refusal)
    {
        Path = label;
        Verification = new CertificateVerification([], null);
        CertifiedTier = tier;
        _refusal = refusal;
    }

    public string Path { get; }
    public CertificateVerification Verification { get; }
    /// <summary>Hex sha256 of the DSSE payload bytes (the statement): how the server names the certificate's status.</summary>
    public string? StatementSha256 { get; }
    /// <summary>The highest tier the certificate allows; null when it does not verify.</summary>
    public Tier? CertifiedTier { get; }
    /// <summary>The certificate's id on the server, once a status check has named it.</summary>
    public string? CertificateId { get; private set; }
    /// <summary>Why the certificate does not allow serving now; null while it does.</summary>
    public string? Refusal => _refusal;

    /// <summary>Reads both files; a file that cannot be read is a configuration error, a certificate that does not verify is not
    /// (the gateway starts and refuses to serve that upstream, saying why).</summary>
    public static Result<CertificateGate> Load(string certificatePath, string keyPath)
    {
        string envelope, pem;
        try
        {
            envelope = File.ReadAllText(certificatePath);
            pem = File.ReadAllText(keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ProtocolError.Validation($"cannot read the certificate or certifier key: {e.Message}");
        }
        var verification = CertificateVerifier.Verify(envelope, pem, null, null);
        string? sha = null;
        if (verification.Ok)
        {
            var parsed = DsseEnvelope.Parse(envelope);
            sha = Convert.ToHexStringLower(SHA256.HashData(parsed.Value.PayloadBytes()));
        }
        return new CertificateGate(certificatePath, verification, sha);
    }

    /// <summary>A gate from an envelope and certifier key held in memory (the server's own gateway reads both from its store).</summary>
    public static CertificateGate FromText(string label, string envelope, string certifierKeyPem)
    {
        var verification = CertificateVerifier.Verify(envelope, certifierKeyPem, null, null);
        var sha = verification.Ok ? Convert.ToHexStringLower(SHA256.HashData(DsseEnvelope.Parse(envelope).Value.PayloadBytes())) : null;
        return new CertificateGate(label, verification, sha);
    }

    /// <summary>Null when a grant at <paramref name="tier"/> may be served; otherwise why not.</summary>
    public string? RefusalFor(Tier tier)
    {
        if (_refusal is { } refusal)
        {
            return refusal;
        }
        return CertifiedTier >= tier ? null : $"the certificate allows tier {CertifiedTier!.Value.Name()}, below the grant's {tier.Name()}";
    }

    /// <summary>Applies a status read from the server: anything but "valid" ends serving; "valid" restores it (a status the server
    /// reports is the ledger's word, and a flag can be cleared there by re-certification).</summary>
    public void ApplyStatus(string? certificateId, string status)
    {
        if (!Verification.Ok)
        {
            return;
        }
        CertificateId = certificateId ?? CertificateId;
        _refusal = status == "valid" ? null : $"the certificate {CertificateId ?? System.IO.Path.GetFileName(Path)} is {status} on the server";
    }

    /// <summary>Ends serving when the server could not confirm the status for too long (fail closed).</summary>
    public void MarkUnconfirmed(string why)
    {
        if (Verification.Ok)
        {
            _refusal = $"the certificate's status could not be confirmed on the server: {why}";
        }
    }
}
