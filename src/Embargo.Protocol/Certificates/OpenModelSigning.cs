using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Embargo.Text;

namespace Embargo.Protocol.Certificates;

/// <summary>One file of a model in an OMS manifest: its path relative to the model root ('/'-separated) and sha256.</summary>
public sealed record OmsResource(string Name, string Sha256);

/// <summary>The outcome of verifying an OMS bundle: every check made, in order (the first failure ends the list).</summary>
public sealed record OmsVerification(IReadOnlyList<VerificationCheck> Checks)
{
    public bool Ok => Checks.Count > 0 && Checks.All(c => c.Ok);
    public VerificationCheck? FirstFailure => Checks.FirstOrDefault(c => !c.Ok);
}

/// <summary>
/// OpenSSF Model Signing (OMS) v1.0 (ossf/model-signing-spec, spec/v1.0.md): a Sigstore bundle (v0.3) holding a DSSE
/// envelope of an in-toto Statement v1 whose predicate (`https://model_signing/signature/v1.0`) lists every file of the
/// model with its digest. Signing uses the `key` method: ECDSA over PAE with the curve's hash (P-256/SHA-256,
/// P-384/SHA-384, P-521/SHA-512), the signature DER-encoded (RFC 3279) as Sigstore expects.
/// </summary>
public static class OpenModelSigning
{
    public const string PredicateType = "https://model_signing/signature/v1.0";
    public const string StatementType = "https://in-toto.io/Statement/v1";
    public const string BundleMediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";
    /// <summary>Excluded at the model root by default (spec §6.2).</summary>
    public static readonly IReadOnlyList<string> DefaultIgnored = [".git", ".gitignore", ".gitattributes", ".github"];

    private static readonly string[] KnownMediaTypes =
    [
        "application/vnd.dev.sigstore.bundle+json;version=0.1", "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3", BundleMediaType,
    ];

    /// <summary>
    /// The `publicKey.hint`: the hex SHA-256 of the key's DER SubjectPublicKeyInfo. (The reference implementation,
    /// sigstore/model-transparency, hashes the PEM text of the same SPKI instead; <see cref="Verify"/> accepts either.)
    /// </summary>
    public static string KeyHint(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));

    private static string PemHint(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(PemText(key))));

    /// <summary>The SPKI PEM with 64-character lines and a final newline (as OpenSSL and Python's cryptography write it).</summary>
    public static string PemText(ECDsa key) => key.ExportSubjectPublicKeyInfoPem().ReplaceLineEndings("\n") + "\n";

    /// <summary>The hash OMS pairs with the curve (the algorithm registry's key types); null for any other key.</summary>
    public static HashAlgorithmName? HashFor(ECDsa key) => key.ExportParameters(false).Curve.Oid?.Value switch
    {
        "1.2.840.10045.3.1.7" => HashAlgorithmName.SHA256, // P-256
        "1.3.132.0.34" => HashAlgorithmName.SHA384,        // P-384
        "1.3.132.0.35" => HashAlgorithmName.SHA512,        // P-521
        _ => null,
    };

    /// <summary>SHA-256 over the concatenated raw digests of the resources in name order (spec §6.5.1).</summary>
    public static string RootDigest(IEnumerable<string> sortedHexDigests)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var hex in sortedHexDigests)
        {
            hash.AppendData(Convert.FromHexString(hex));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The resources in canonical order: by name, Unicode code point (ordinal) order.</summary>
    public static IReadOnlyList<OmsResource> Canonical(IEnumerable<OmsResource> resources) =>
        [.. resources.Select(r => r with { Sha256 = r.Sha256.ToLowerInvariant() }).OrderBy(r => r.Name, StringComparer.Ordinal)];

    /// <summary>An OMS v1.0 bundle (key method, files serialisation, sha256) for the model named <paramref name="modelName"/>.</summary>
    public static Result<string> Sign(string modelName, IEnumerable<OmsResource> resources, ECDsa key)
    {
        if (HashFor(key) is not { } hashAlgorithm)
        {
            return ProtocolError.Validation("an OMS key must be ECDSA on P-256, P-384 or P-521 (the OMS algorithm registry)");
        }
        var sorted = Canonical(resources);
        if (sorted.Count == 0)
        {
            return ProtocolError.Validation("an OMS manifest needs at least one file");
        }
        if (sorted.Select(r => r.Name).Distinct(StringComparer.Ordinal).Count() != sorted.Count)
        {
            return ProtocolError.Validation("an OMS manifest names every file once");
        }
        foreach (var r in sorted)
        {
            if (CanonicalName(r.Name) != r.Name)
            {
                return ProtocolError.Validation($"'{r.Name}' is not a canonical relative path ('/'-separated, no '.', '..' or empty parts)");
            }
            if (r.Sha256.Length != 64 || !r.Sha256.All(char.IsAsciiHexDigit))
            {
                return ProtocolError.Validation($"the sha256 of '{r.Name}' is not 64 hex digits");
            }
        }
        var payload = Statement(modelName, sorted);
        var signature = key.SignData(DsseEnvelope.Pae(DsseEnvelope.InTotoPayloadType, payload), hashAlgorithm, DSASignatureFormat.Rfc3279DerSequence);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("mediaType", BundleMediaType);
            w.WriteStartObject("verificationMaterial");
            w.WriteStartObject("publicKey");
            w.WriteString("hint", KeyHint(key));
            w.WriteEndObject();
            w.WriteStartArray("tlogEntries");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartObject("dsseEnvelope");
            w.WriteString("payload", Convert.ToBase64String(payload));
            w.WriteString("payloadType", DsseEnvelope.InTotoPayloadType);
            w.WriteStartArray("signatures");
            w.WriteStartObject();
            w.WriteString("sig", Convert.ToBase64String(signature));
            w.WriteString("keyid", "");
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    /// <summary>The OMS bundle for the weights a release certificate names (its predicate's files and their sha256).</summary>
    public static Result<string> SignCertified(string certificateEnvelope, string modelName, ECDsa key)
    {
        var envelope = DsseEnvelope.Parse(certificateEnvelope);
        if (!envelope.IsOk)
        {
            return envelope.Error!;
        }
        var statement = Statements.Parse(envelope.Value.PayloadBytes());
        return statement.IsOk
            ? Sign(modelName, statement.Value.Predicate.Weights.Select(f => new OmsResource(f.Path, f.Sha256)), key)
            : statement.Error!;
    }

    private static byte[] Statement(string modelName, IReadOnlyList<OmsResource> sorted)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("_type", StatementType);
            w.WriteStartArray("subject");
            w.WriteStartObject();
            w.WriteString("name", modelName);
            w.WriteStartObject("digest");
            w.WriteString("sha256", RootDigest(sorted.Select(r => r.Sha256)));
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteString("predicateType", PredicateType);
            w.WriteStartObject("predicate");
            w.WriteStartArray("resources");
            foreach (var r in sorted)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Name);
                w.WriteString("digest", r.Sha256);
                w.WriteString("algorithm", "sha256");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("serialization");
            w.WriteString("method", "files");
            w.WriteString("hash_type", "sha256");
            w.WriteBoolean("allow_symlinks", false);
            w.WriteStartArray("ignore_paths");
            foreach (var p in DefaultIgnored)
            {
                w.WriteStringValue(p);
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>'/'-separated, no leading '/', no '.', '..' or empty components (spec §6.1.2); null when it cannot be made so.</summary>
    public static string? CanonicalName(string name)
    {
        if (name.Length == 0 || name.StartsWith('/') || name.Contains('\\', StringComparison.Ordinal))
        {
            return null;
        }
        var parts = name.Split('/').Where(p => p.Length > 0 && p != ".").ToList();
        return parts.Count == 0 || parts.Contains("..") ? null : string.Join('/', parts);
    }

    /// <summary>
    /// The spec's verification procedure (§8) for the `key` method: the bundle's shape and media type, the key (its hint or
    /// raw bytes against <paramref name="publicKeyPem"/>), the DSSE signature, the statement and predicate, then every file
    /// of <paramref name="modelPath"/> (a directory or one file) against the manifest — a file missing, different or not
    /// listed (and not ignored) fails. <paramref name="signaturePath"/> is left out of the enumeration when it lies inside;
    /// <paramref name="ignorePaths"/> are further paths relative to the model root the verifier leaves out (the reference
    /// CLI's --ignore-paths), besides the defaults and the bundle's own serialization.ignore_paths.
    /// </summary>
    public static OmsVerification Verify(string bundleJson, string publicKeyPem, string modelPath, string? signaturePath = null, IReadOnlyList<string>? ignorePaths = null)
    {
        var checks = new List<VerificationCheck>();
        OmsVerification Fail(string name, string detail)
        {
            checks.Add(new VerificationCheck(name, false, detail));
            return new OmsVerification(checks);
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bundleJson);
        }
        catch (JsonException e)
        {
            return Fail("bundle", JsonErrorText.Describe(e));
        }
        using (doc)
        {
            if (Bundle(doc.RootElement) is { } bundleProblem)
            {
                return Fail("bundle", bundleProblem);
            }
            var root = doc.RootElement;
            var material = root.GetProperty("verificationMaterial");
            var media = root.GetProperty("mediaType").GetString()!;
            if (!material.TryGetProperty("publicKey", out var publicKey))
            {
                var method = material.TryGetProperty("x509CertificateChain", out _) ? "certificate" : "sigstore";
                return Fail("bundle", $"signing method '{method}' is not supported offline (it needs a trusted root CA{(method == "sigstore" ? " and the Rekor log" : "")}); this verifier checks the 'key' method");
            }
            checks.Add(new VerificationCheck("bundle", true, $"{media}, signing method 'key'"));

            ECDsa key;
            try
            {
                key = ECDsa.Create();
                key.ImportFromPem(publicKeyPem);
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                return Fail("key", "the given public key is not an ECDSA public key PEM (SubjectPublicKeyInfo)");
            }
            using (key)
            {
                if (HashFor(key) is not { } hashAlgorithm)
                {
                    return Fail("key", "OMS keys are ECDSA on P-256, P-384 or P-521 (the OMS algorithm registry); the given key is on another curve");
                }
                if (KeyMatches(publicKey, key) is { } keyProblem)
                {
                    return Fail("key", keyProblem);
                }
                checks.Add(new VerificationCheck("key", true, $"ECDSA P-{key.KeySize} key {KeyHint(key)[..16]}… is the one the bundle names"));

                var envelope = root.GetProperty("dsseEnvelope");
                byte[] payload;
                try
                {
                    payload = Convert.FromBase64String(envelope.GetProperty("payload").GetString()!);
                }
                catch (FormatException)
                {
                    return Fail("signature", "dsseEnvelope.payload is not base64");
                }
                var pae = DsseEnvelope.Pae(DsseEnvelope.InTotoPayloadType, payload);
                var verified = false;
                foreach (var signature in envelope.GetProperty("signatures").EnumerateArray())
                {
                    try
                    {
                        var sig = Convert.FromBase64String(signature.GetProperty("sig").GetString()!);
                        verified |= key.VerifyData(pae, sig, hashAlgorithm, DSASignatureFormat.Rfc3279DerSequence);
                    }
                    catch (FormatException)
                    {
                        // Not base64: not a signature by this key.
                    }
                }
                if (!verified)
                {
                    return Fail("signature", $"no DSSE signature verifies under the given key (ECDSA, {hashAlgorithm.Name}, DER)");
                }
                checks.Add(new VerificationCheck("signature", true, $"DSSE signature verifies (ECDSA P-{key.KeySize}, {hashAlgorithm.Name}, DER)"));

                var statement = Statement(payload);
                if (!statement.IsOk)
                {
                    return Fail("statement", statement.Error!.Message);
                }
                var manifest = statement.Value;
                checks.Add(new VerificationCheck("statement", true,
                    $"in-toto Statement v1, {PredicateType}, model '{manifest.SubjectName}', {manifest.Resources.Count} resources ({manifest.Method}, {manifest.HashType})"));

                var files = CheckFiles(manifest with { IgnorePaths = [.. manifest.IgnorePaths, .. ignorePaths ?? []] }, modelPath, signaturePath);
                checks.Add(files);
                return new OmsVerification(checks);
            }
        }
    }

    /// <summary>
    /// Parses a bundle as the OMS schemas describe it, without keys or files: the outer layers, then the decoded statement
    /// and predicate. Answers the signing method (key, certificate or sigstore), or why the bundle is not an OMS bundle.
    /// </summary>
    public static Result<string> Inspect(string bundleJson)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bundleJson);
        }
        catch (JsonException e)
        {
            return ProtocolError.Validation(JsonErrorText.Describe(e));
        }
        using (doc)
        {
            if (Bundle(doc.RootElement) is { } problem)
            {
                return ProtocolError.Validation(problem);
            }
            var material = doc.RootElement.GetProperty("verificationMaterial");
            var method = material.TryGetProperty("publicKey", out _) ? "key" : material.TryGetProperty("x509CertificateChain", out _) ? "certificate" : "sigstore";
            byte[] payload;
            try
            {
                payload = Convert.FromBase64String(doc.RootElement.GetProperty("dsseEnvelope").GetProperty("payload").GetString()!);
            }
            catch (FormatException)
            {
                return ProtocolError.Validation("dsseEnvelope.payload is not base64");
            }
            var statement = Statement(payload);
            return statement.IsOk ? method : statement.Error!;
        }
    }

    /// <summary>What the bundle schema requires of the outer layers (schemas/v1.0/bundle.schema.json, envelope.schema.json).</summary>
    private static string? Bundle(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "not a JSON object";
        }
        foreach (var p in root.EnumerateObject())
        {
            if (p.Name is not ("mediaType" or "verificationMaterial" or "dsseEnvelope"))
            {
                return $"unexpected member '{p.Name}' (a bundle has mediaType, verificationMaterial and dsseEnvelope)";
            }
        }
        if (!root.TryGetProperty("mediaType", out var media) || media.ValueKind != JsonValueKind.String)
        {
            return "mediaType is missing";
        }
        if (!KnownMediaTypes.Contains(media.GetString(), StringComparer.Ordinal))
        {
            return $"mediaType '{media.GetString()}' is not a Sigstore bundle media type";
        }
        if (!root.TryGetProperty("verificationMaterial", out var material) || material.ValueKind != JsonValueKind.Object)
        {
            return "verificationMaterial is missing";
        }
        var hasKey = material.TryGetProperty("publicKey", out var publicKey);
        var hasChain = material.TryGetProperty("x509CertificateChain", out _);
        var hasCertificate = material.TryGetProperty("certificate", out _);
        if (!hasKey && !hasChain && !hasCertificate)
        {
            return "verificationMaterial names no key, certificate chain or certificate";
        }
        if (hasKey && (publicKey.ValueKind != JsonValueKind.Object
            || !(Text(publicKey, "hint") is { Length: > 0 } || Text(publicKey, "rawBytes") is { Length: > 0 })))
        {
            return "verificationMaterial.publicKey needs a hint or rawBytes";
        }
        if (!hasKey && !hasChain && (!material.TryGetProperty("tlogEntries", out var tlog) || tlog.ValueKind != JsonValueKind.Array || tlog.GetArrayLength() == 0))
        {
            return "the sigstore method needs at least one tlogEntries entry";
        }
        if (!root.TryGetProperty("dsseEnvelope", out var envelope) || envelope.ValueKind != JsonValueKind.Object)
        {
            return "dsseEnvelope is missing";
        }
        foreach (var p in envelope.EnumerateObject())
        {
            if (p.Name is not ("payload" or "payloadType" or "signatures"))
            {
                return $"dsseEnvelope has an unexpected member '{p.Name}'";
            }
        }
        if (Text(envelope, "payload") is not { Length: > 0 })
        {
            return "dsseEnvelope.payload is missing";
        }
        if (Text(envelope, "payloadType") != DsseEnvelope.InTotoPayloadType)
        {
            return $"dsseEnvelope.payloadType must be {DsseEnvelope.InTotoPayloadType}";
        }
        if (!envelope.TryGetProperty("signatures", out var signatures) || signatures.ValueKind != JsonValueKind.Array || signatures.GetArrayLength() == 0)
        {
            return "dsseEnvelope.signatures needs at least one signature";
        }
        foreach (var s in signatures.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Object || Text(s, "sig") is not { Length: > 0 }
                || (s.TryGetProperty("keyid", out var keyId) && keyId.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                || s.EnumerateObject().Any(p => p.Name is not ("sig" or "keyid")))
            {
                return "each DSSE signature has a base64 'sig' and at most a 'keyid' (a string or null)";
            }
        }
        return null;
    }

    private static string? Text(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>The bundle's key identifier against the given key: a hint (hex SHA-256 of the SPKI, DER or PEM), or the raw key (older bundles).</summary>
    private static string? KeyMatches(JsonElement publicKey, ECDsa key)
    {
        if (Text(publicKey, "hint") is { Length: > 0 } hint)
        {
            var wanted = hint.ToLowerInvariant();
            return wanted == KeyHint(key) || wanted == PemHint(key) ? null
                : $"key mismatch: the bundle names key {hint}, the given key is {KeyHint(key)} (sha256 of its DER SubjectPublicKeyInfo)";
        }
        byte[] raw;
        try
        {
            raw = Convert.FromBase64String(Text(publicKey, "rawBytes")!);
        }
        catch (FormatException)
        {
            return "verificationMaterial.publicKey.rawBytes is not base64";
        }
        var text = Encoding.ASCII.GetString(raw);
        using var other = ECDsa.Create();
        try
        {
            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                other.ImportFromPem(text);
            }
            else
            {
                other.ImportSubjectPublicKeyInfo(raw, out _);
            }
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            return "verificationMaterial.publicKey.rawBytes is not an ECDSA public key";
        }
        return other.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()) ? null
            : "key mismatch: the bundle carries another public key than the given one";
    }

    private sealed record Manifest(string SubjectName, string Method, string HashType, long? ShardSize, bool AllowSymlinks,
        IReadOnlyList<string> IgnorePaths, IReadOnlyList<OmsResource> Resources);

    /// <summary>The decoded statement, checked as statement.schema.json and predicate.schema.json require (spec §8.3).</summary>
    private static Result<Manifest> Statement(byte[] payload)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(payload);
        }
        catch (JsonException)
        {
            return ProtocolError.Validation("the DSSE payload is not JSON");
        }
        using (doc)
        {
            var s = doc.RootElement;
            if (s.ValueKind != JsonValueKind.Object)
            {
                return ProtocolError.Validation("the DSSE payload is not a JSON object");
            }
            if (Text(s, "_type") != StatementType)
            {
                return ProtocolError.Validation($"_type must be {StatementType}");
            }
            if (Text(s, "predicateType") != PredicateType)
            {
                return ProtocolError.Validation($"predicateType is '{Text(s, "predicateType")}', not {PredicateType}");
            }
            if (!s.TryGetProperty("subject", out var subjects) || subjects.ValueKind != JsonValueKind.Array || subjects.GetArrayLength() != 1
                || subjects[0].ValueKind != JsonValueKind.Object || Text(subjects[0], "name") is not { Length: > 0 } subjectName
                || !subjects[0].TryGetProperty("digest", out var digestSet) || digestSet.ValueKind != JsonValueKind.Object
                || Text(digestSet, "sha256") is not { Length: 64 } rootDigest || !rootDigest.All(IsLowerHex))
            {
                return ProtocolError.Validation("subject must be exactly one entry with a name and a sha256 root digest");
            }
            if (!s.TryGetProperty("predicate", out var predicate) || predicate.ValueKind != JsonValueKind.Object
                || predicate.EnumerateObject().Any(p => p.Name is not ("resources" or "serialization")))
            {
                return ProtocolError.Validation("predicate must be an object with exactly resources and serialization");
            }
            if (!predicate.TryGetProperty("serialization", out var ser) || ser.ValueKind != JsonValueKind.Object)
            {
                return ProtocolError.Validation("predicate.serialization is missing");
            }
            var method = Text(ser, "method");
            var hashType = Text(ser, "hash_type");
            if (method is not ("files" or "shards"))
            {
                return ProtocolError.Validation($"serialization.method '{method}' is neither files nor shards");
            }
            if (hashType is not ("sha256" or "blake2b" or "blake3"))
            {
                return ProtocolError.Validation($"serialization.hash_type '{hashType}' is not in the OMS algorithm registry");
            }
            if (hashType != "sha256")
            {
                return ProtocolError.Validation($"serialization.hash_type '{hashType}' is not supported by this verifier (sha256 is)");
            }
            if (!ser.TryGetProperty("allow_symlinks", out var symlinks) || symlinks.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                return ProtocolError.Validation("serialization.allow_symlinks must be true or false");
            }
            long? shardSize = null;
            var hasShardSize = ser.TryGetProperty("shard_size", out var shard);
            if (method == "shards")
            {
                if (!hasShardSize || shard.ValueKind != JsonValueKind.Number || !shard.TryGetInt64(out var size) || size <= 0)
                {
                    return ProtocolError.Validation("serialization.shard_size must be a positive integer for the shards method");
                }
                shardSize = size;
            }
            else if (hasShardSize)
            {
                return ProtocolError.Validation("serialization.shard_size must be absent for the files method");
            }
            var ignore = new List<string>();
            if (ser.TryGetProperty("ignore_paths", out var ignored))
            {
                if (ignored.ValueKind != JsonValueKind.Array || ignored.EnumerateArray().Any(p => p.ValueKind != JsonValueKind.String || p.GetString()!.Length == 0))
                {
                    return ProtocolError.Validation("serialization.ignore_paths must be an array of non-empty strings");
                }
                ignore.AddRange(ignored.EnumerateArray().Select(p => p.GetString()!));
            }
            if (!predicate.TryGetProperty("resources", out var resources) || resources.ValueKind != JsonValueKind.Array || resources.GetArrayLength() == 0)
            {
                return ProtocolError.Validation("predicate.resources must list at least one file");
            }
            var list = new List<OmsResource>();
            foreach (var r in resources.EnumerateArray())
            {
                if (r.ValueKind != JsonValueKind.Object || Text(r, "name") is not { Length: > 0 } name || Text(r, "digest") is not { } digest
                    || digest.Length != 64 || !digest.All(IsLowerHex) || Text(r, "algorithm") != hashType)
                {
                    return ProtocolError.Validation("each resource needs a name, a lowercase hex sha256 digest and algorithm equal to hash_type");
                }
                list.Add(new OmsResource(name, digest));
            }
            for (var i = 1; i < list.Count; i++)
            {
                if (string.CompareOrdinal(list[i - 1].Name, list[i].Name) >= 0)
                {
                    return ProtocolError.Validation($"resources are not sorted by name (or repeat one): '{list[i - 1].Name}' before '{list[i].Name}'");
                }
            }
            var computedRoot = RootDigest(list.Select(r => r.Sha256));
            if (computedRoot != rootDigest)
            {
                return ProtocolError.Validation($"the subject's root digest {rootDigest} is not the sha256 of the resource digests ({computedRoot})");
            }
            return new Manifest(subjectName, method, hashType, shardSize, symlinks.ValueKind == JsonValueKind.True, ignore, list);
        }
    }

    private static bool IsLowerHex(char c) => c is >= '0' and <= '9' or >= 'a' and <= 'f';

    /// <summary>Spec §8.4: enumerate, hash and compare; every listed file present and equal, nothing unlisted.</summary>
    private static VerificationCheck CheckFiles(Manifest manifest, string modelPath, string? signaturePath)
    {
        const string name = "files";
        var full = Path.GetFullPath(modelPath);
        var single = File.Exists(full);
        if (!single && !Directory.Exists(full))
        {
            return new VerificationCheck(name, false, $"{modelPath} is neither a file nor a directory");
        }
        var excluded = signaturePath is null ? null : Path.GetFullPath(signaturePath);
        Dictionary<string, string> files;
        if (single)
        {
            files = new(StringComparer.Ordinal) { [Path.GetFileName(full)] = full };
        }
        else
        {
            files = new(StringComparer.Ordinal);
            var ignore = new HashSet<string>(manifest.IgnorePaths.Select(p => p.Trim('/')), StringComparer.Ordinal);
            if (Enumerate(full, full, manifest.AllowSymlinks, ignore, excluded, files) is { } problem)
            {
                return new VerificationCheck(name, false, problem);
            }
        }
        if (files.Count == 0)
        {
            return new VerificationCheck(name, false, $"{modelPath} holds no file to verify");
        }
        // Older single-file bundles name their one resource "." (spec: the basename).
        var resources = single && manifest.Resources.Count == 1 && manifest.Resources[0].Name == "."
            ? [manifest.Resources[0] with { Name = files.Keys.Single() }]
            : manifest.Resources;
        var expected = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, digest) in Digests(files, manifest.ShardSize))
        {
            expected[path] = digest;
        }
        foreach (var r in resources)
        {
            if (!expected.TryGetValue(r.Name, out var actual))
            {
                return new VerificationCheck(name, false, $"'{r.Name}' is signed but missing from {modelPath}");
            }
            if (actual != r.Sha256)
            {
                return new VerificationCheck(name, false, $"'{r.Name}' differs: sha256 {actual}, signed {r.Sha256}");
            }
        }
        var signed = resources.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        if (expected.Keys.FirstOrDefault(k => !signed.Contains(k)) is { } unsigned)
        {
            return new VerificationCheck(name, false, $"'{unsigned}' is in {modelPath} but not signed (and not ignored)");
        }
        var count = manifest.ShardSize is null ? resources.Count : files.Count;
        return new VerificationCheck(name, true, $"{count} files match their signed sha256 and no unsigned file is present");
    }

    private static string? Enumerate(string root, string dir, bool followLinks, HashSet<string> ignore, string? excluded, Dictionary<string, string> files)
    {
        foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, entry.FullName).Replace(Path.DirectorySeparatorChar, '/');
            var top = relative.Split('/')[0];
            // An ignored top-level name is skipped whole: nothing under it is enumerated.
            if (DefaultIgnored.Contains(top) || ignore.Contains(relative) || entry.FullName == excluded)
            {
                continue;
            }
            var target = entry;
            if (entry.LinkTarget is not null)
            {
                if (!followLinks)
                {
                    return $"'{relative}' is a symbolic link and the bundle says allow_symlinks: false";
                }
                target = entry.ResolveLinkTarget(returnFinalTarget: true) ?? entry;
            }
            if (target is DirectoryInfo)
            {
                if (Enumerate(root, entry.FullName, followLinks, ignore, excluded, files) is { } problem)
                {
                    return problem;
                }
            }
            else if (target is FileInfo)
            {
                files[relative] = target.FullName;
            }
        }
        return null;
    }

    /// <summary>(name, sha256) per file, or per byte range "path:start:end" with shards (empty files produce none).</summary>
    private static IEnumerable<(string Name, string Digest)> Digests(Dictionary<string, string> files, long? shardSize)
    {
        foreach (var (relative, path) in files)
        {
            if (shardSize is not { } size)
            {
                using var stream = File.OpenRead(path);
                yield return (relative, Convert.ToHexStringLower(SHA256.HashData(stream)));
                continue;
            }
            using var file = File.OpenRead(path);
            var length = file.Length;
            var buffer = new byte[1 << 20];
            for (long start = 0; start < length; start += size)
            {
                var end = Math.Min(length, start + size);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                file.Position = start;
                var left = end - start;
                while (left > 0)
                {
                    var read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                    if (read == 0)
                    {
                        break;
                    }
                    hash.AppendData(buffer, 0, read);
                    left -= read;
                }
                yield return (string.Create(CultureInfo.InvariantCulture, $"{relative}:{start}:{end}"), Convert.ToHexStringLower(hash.GetHashAndReset()));
            }
        }
    }
}
