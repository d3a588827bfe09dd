using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Embargo.Protocol.Certificates;

namespace Embargo.Protocol.Tests;

/// <summary>
/// OpenSSF Model Signing v1.0: the spec's own test vectors and the reference implementation's signed folders
/// (vectors/oms, provenance in its README), and bundles Embargo signs, verified by the spec's procedure.
/// </summary>
public sealed class OpenModelSigningTests : IDisposable
{
    private static readonly string Vectors = Path.Combine(AppContext.BaseDirectory, "vectors", "oms");
    private static string Reference(string name) => Path.Combine(Vectors, "model-transparency", name);
    private static readonly string ReferenceKey = File.ReadAllText(Reference("signing-key-pub.pem"));

    private readonly string _dir = Directory.CreateTempSubdirectory("embargo-oms-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("key.bundle.json", "key")]
    [InlineData("certificate.bundle.json", "certificate")]
    [InlineData("sigstore.bundle.json", "sigstore")]
    public void TheSpecsValidBundlesParseAndNameTheirSigningMethod(string file, string method)
    {
        var parsed = OpenModelSigning.Inspect(File.ReadAllText(Path.Combine(Vectors, "spec", "valid", file)));

        Assert.True(parsed.IsOk, parsed.Error?.Message);
        Assert.Equal(method, parsed.Value);
    }

    [Theory]
    [InlineData("invalid/empty.bundle.json", "not JSON")]
    [InlineData("invalid/missing-envelope.bundle.json", "dsseEnvelope is missing")]
    [InlineData("invalid/missing-tlog-entries.bundle.json", "the sigstore method needs at least one tlogEntries entry")]
    [InlineData("invalid/missing-verification-material.bundle.json", "verificationMaterial is missing")]
    [InlineData("invalid-payload/wrong-predicate.bundle.json", "predicateType is 'https://example.com/wrong-predicate/v1.0', not https://model_signing/signature/v1.0")]
    public void TheSpecsInvalidBundlesAreRefusedWithTheReason(string file, string reason)
    {
        var parsed = OpenModelSigning.Inspect(File.ReadAllText(Path.Combine(Vectors, "spec", file)));

        Assert.False(parsed.IsOk);
        Assert.StartsWith(reason, parsed.Error!.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("v1.0.0-elliptic-key", "signme-1", null)]      // one file, its resource named "." (before the spec said basename)
    [InlineData("v1.0.1-elliptic-key", "", "ignore-me")]       // verified with --ignore-paths, as the reference's own test does
    [InlineData("v1.1.0-elliptic-key", "", null)]              // ignore-me recorded in serialization.ignore_paths
    public void TheReferenceImplementationsSignedModelsVerifyWithItsKey(string folder, string file, string? ignore)
    {
        var model = Path.Combine(Reference(folder), file);
        var bundle = Path.Combine(Reference(folder), "model.sig");

        var result = OpenModelSigning.Verify(File.ReadAllText(bundle), ReferenceKey, model, bundle, ignore is null ? null : [ignore]);

        Assert.True(result.Ok, result.FirstFailure?.Detail);
        Assert.Equal(["bundle", "key", "signature", "statement", "files"], result.Checks.Select(c => c.Name));
    }

    [Fact]
    public void TheSpecsValidKeyBundleVerifiesAgainstTheReferenceFilesItSigns()
    {
        // The same manifest as v1.1.0-elliptic-key (signme-1, signme-2; ignore-me ignored), the same P-384 key.
        var model = Reference("v1.1.0-elliptic-key");

        var result = OpenModelSigning.Verify(File.ReadAllText(Path.Combine(Vectors, "spec", "valid", "key.bundle.json")), ReferenceKey, model, Path.Combine(model, "model.sig"));

        Assert.True(result.Ok, result.FirstFailure?.Detail);
    }

    [Fact]
    public void AnUnsignedExtraFileInTheReferenceModelFailsNamingIt()
    {
        var model = CopyOf(Reference("v1.1.0-elliptic-key"));
        File.WriteAllText(Path.Combine(model, "extra.bin"), "not signed");

        var result = OpenModelSigning.Verify(File.ReadAllText(Path.Combine(model, "model.sig")), ReferenceKey, model, Path.Combine(model, "model.sig"));

        Assert.False(result.Ok);
        Assert.Equal(("files", "'extra.bin' is in " + model + " but not signed (and not ignored)"), (result.FirstFailure!.Name, result.FirstFailure.Detail));
    }

    [Fact]
    public void ASignedBundleVerifiesAndItsSignatureIsDerWithTheDerSpkiHint()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var model = SampleModel();

        var bundle = OpenModelSigning.Sign("weights", Resources(model), key);

        Assert.True(bundle.IsOk, bundle.Error?.Message);
        var result = OpenModelSigning.Verify(bundle.Value, key.ExportSubjectPublicKeyInfoPem(), model);
        Assert.True(result.Ok, result.FirstFailure?.Detail);
        var json = JsonNode.Parse(bundle.Value)!;
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())), (string)json["verificationMaterial"]!["publicKey"]!["hint"]!);
        var sig = Convert.FromBase64String((string)json["dsseEnvelope"]!["signatures"]![0]!["sig"]!);
        Assert.Equal(0x30, sig[0]); // an ASN.1 SEQUENCE (DER), not the 64-byte r‖s .NET produces by default
        var payload = Convert.FromBase64String((string)json["dsseEnvelope"]!["payload"]!);
        Assert.True(key.VerifyData(DsseEnvelope.Pae(DsseEnvelope.InTotoPayloadType, payload), sig, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }

    [Fact]
    public void TheStatementListsResourcesSortedByNameWithTheRootDigestOfTheirDigests()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var model = SampleModel();

        var json = JsonNode.Parse(OpenModelSigning.Sign("weights", Resources(model).Reverse(), key).Value)!;

        var statement = JsonNode.Parse(Convert.FromBase64String((string)json["dsseEnvelope"]!["payload"]!))!;
        Assert.Equal("https://model_signing/signature/v1.0", (string)statement["predicateType"]!);
        var names = statement["predicate"]!["resources"]!.AsArray().Select(r => (string)r!["name"]!).ToArray();
        Assert.Equal(["a.safetensors", "config.json", "sub/b.safetensors"], names);
        // Independently: sha256 over the raw digests in that order.
        var raw = statement["predicate"]!["resources"]!.AsArray().SelectMany(r => Convert.FromHexString((string)r!["digest"]!)).ToArray();
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(raw)), (string)statement["subject"]![0]!["digest"]!["sha256"]!);
        Assert.Equal("files", (string)statement["predicate"]!["serialization"]!["method"]!);
    }

    [Fact]
    public void AChangedFileFailsNamingItAndBothDigests()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var model = SampleModel();
        var bundle = OpenModelSigning.Sign("weights", Resources(model), key).Value;
        File.AppendAllText(Path.Combine(model, "config.json"), " ");

        var result = OpenModelSigning.Verify(bundle, key.ExportSubjectPublicKeyInfoPem(), model);

        Assert.Equal("files", result.FirstFailure!.Name);
        Assert.StartsWith("'config.json' differs: sha256 ", result.FirstFailure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AMissingSignedFileFails()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var model = SampleModel();
        var bundle = OpenModelSigning.Sign("weights", Resources(model), key).Value;
        File.Delete(Path.Combine(model, "sub", "b.safetensors"));

        var result = OpenModelSigning.Verify(bundle, key.ExportSubjectPublicKeyInfoPem(), model);

        Assert.Equal(("files", $"'sub/b.safetensors' is signed but missing from {model}"), (result.FirstFailure!.Name, result.FirstFailure.Detail));
    }

    [Fact]
    public void AnotherKeyIsAKeyMismatchBeforeAnySignatureCheck()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var model = SampleModel();
        var bundle = OpenModelSigning.Sign("weights", Resources(model), key).Value;

        var result = OpenModelSigning.Verify(bundle, other.ExportSubjectPublicKeyInfoPem(), model);

        Assert.Equal("key", result.FirstFailure!.Name);
        Assert.StartsWith("key mismatch", result.FirstFailure.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEditedStatementNoLongerVerifies()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var model = SampleModel();
        var json = JsonNode.Parse(OpenModelSigning.Sign("weights", Resources(model), key).Value)!;
        var payload = Encoding.UTF8.GetString(Convert.FromBase64String((string)json["dsseEnvelope"]!["payload"]!));
        json["dsseEnvelope"]!["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.Replace("\"weights\"", "\"weights2\"", StringComparison.Ordinal)));

        var result = OpenModelSigning.Verify(json.ToJsonString(), key.ExportSubjectPublicKeyInfoPem(), model);

        Assert.Equal("signature", result.FirstFailure!.Name);
    }

    [Fact]
    public void AnEcdsaKeyOnACurveOutsideTheRegistryIsRefusedForSigning()
    {
        using var brainpool = ECDsa.Create(ECCurve.NamedCurves.brainpoolP256r1); // 256 bits, but not P-256

        var signed = OpenModelSigning.Sign("weights", [new OmsResource("a", new string('0', 64))], brainpool);

        Assert.False(signed.IsOk);
        Assert.StartsWith("an OMS key must be ECDSA on P-256, P-384 or P-521", signed.Error!.Message, StringComparison.Ordinal);
    }

    private string SampleModel()
    {
        var model = Path.Combine(_dir, "weights-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(Path.Combine(model, "sub"));
        File.WriteAllText(Path.Combine(model, "config.json"), "{\"sample\": true}");
        File.WriteAllBytes(Path.Combine(model, "a.safetensors"), [1, 2, 3, 4]);
        File.WriteAllBytes(Path.Combine(model, "sub", "b.safetensors"), [5, 6, 7]);
        File.WriteAllText(Path.Combine(model, ".gitattributes"), "ignored by default");
        return model;
    }

    private static IEnumerable<OmsResource> Resources(string model) =>
        new[] { "a.safetensors", "config.json", "sub/b.safetensors" }
            .Select(n => new OmsResource(n, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(model, n))))));

    private string CopyOf(string folder)
    {
        var copy = Path.Combine(_dir, Path.GetFileName(folder));
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(folder))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }
        return copy;
    }
}
