using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NSec.Cryptography;
using Embargo.Text;

namespace Embargo.Weights;

/// <summary>Seals a model directory for the <c>downloadable</c> tier and unseals it again.
/// <para>Each file is encrypted in fixed-size chunks with AES-256-GCM under a per-file key
/// HKDF-SHA256(data key, salt = seal id, info = "embargo-weights-v1 file" || file id). Chunk i's nonce is
/// 0x00000000 || u64be(i); its associated data binds the file id, i, a final-chunk flag, the file's total length,
/// the chunk size and the file's path, so chunks cannot be reordered, dropped, truncated, appended or moved between
/// files. A file of n bytes has max(1, ceil(n / chunk)) chunks (an empty file has one empty final chunk).</para>
/// <para>The 32-byte data key is random per seal and wrapped to each grantee: X25519(ephemeral, grantee) →
/// HKDF-SHA256(salt = ephemeral pub || grantee pub, info = "embargo-weights-v1 wrap" || seal id) → AES-256-GCM
/// (zero nonce: the key is single-use) with the seal id as associated data.</para>
/// <para>Unsealing writes into a temporary directory beside the output and moves it into place only after every
/// chunk authenticated, every file's SHA-256 matched and the manifest digest matched; otherwise it deletes it.</para></summary>
public static class WeightsSealer
{
    public const string ManifestFileName = "sealed.json";
    public const int TagSize = 16;
    public const long MaxManifestBytes = 64L * 1024 * 1024;
    private static readonly byte[] ChunkLabel = "embargo-weights-v1 chunk\0"u8.ToArray();
    private static readonly byte[] FileKeyLabel = "embargo-weights-v1 file"u8.ToArray();
    private static readonly byte[] MacLabel = "embargo-weights-v1 manifest mac"u8.ToArray();
    private static readonly byte[] WrapLabel = "embargo-weights-v1 wrap"u8.ToArray();

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static long ChunkCount(long bytes, int chunkSize) => bytes == 0 ? 1 : (bytes + chunkSize - 1) / chunkSize;

    public static long SealedLength(long bytes, int chunkSize) => bytes + ChunkCount(bytes, chunkSize) * TagSize;

    /// <summary>Seals with recipients given as public key files.</summary>
    public static async Task<WeightsResult<SealedManifest>> SealAsync(string sourceDir, string outDir, IReadOnlyList<string> recipientFiles,
        SealOptions? options, IProgress<HashProgress>? progress, CancellationToken ct)
    {
        var keys = new List<byte[]>();
        foreach (var file in recipientFiles)
        {
            var k = KeyFiles.ReadPublic(file);
            if (!k.IsOk) return k.Error;
            keys.Add(k.Value);
        }
        return await SealAsync(sourceDir, outDir, keys, options, progress, ct);
    }

    public static async Task<WeightsResult<SealedManifest>> SealAsync(string sourceDir, string outDir, IReadOnlyList<byte[]> recipients,
        SealOptions? options, IProgress<HashProgress>? progress, CancellationToken ct)
    {
        options ??= new SealOptions();
        if (options.ChunkSize is < 1 or > SealOptions.MaxChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"chunk size must be 1..{SealOptions.MaxChunkSize}");
        }
        if (recipients.Count == 0)
        {
            return new WeightsError(WeightsErrorKind.InvalidKeyFile, outDir, "at least one recipient public key is needed");
        }
        var listed = ManifestBuilder.ListFiles(sourceDir);
        if (!listed.IsOk) return listed.Error;
        var files = listed.Value;
        var prepared = PrepareOutput(outDir);
        if (!prepared.IsOk) return prepared.Error;
        var (temp, fullOut) = prepared.Value;

        var dataKey = RandomNumberGenerator.GetBytes(32);
        try
        {
            var sealId = RandomNumberGenerator.GetBytes(16);
            Directory.CreateDirectory(Path.Combine(temp, "blobs"));
            var sealedFiles = await PerFile.RunAsync(files.Select(f => (f.Path, f.Bytes)).ToList(), options.DegreeOfParallelism, progress,
                (i, hashed, token) =>
                {
                    var blob = $"blobs/{i.ToString("D6", CultureInfo.InvariantCulture)}";
                    return SealFile(files[i], Path.Combine(temp, blob), blob, dataKey, sealId, options.ChunkSize, hashed, token);
                }, ct);
            if (!sealedFiles.IsOk)
            {
                DeleteQuietly(temp);
                return sealedFiles.Error;
            }
            var list = sealedFiles.Value.ToList();
            var unsigned = new SealedManifest
            {
                Format = SealedManifest.CurrentFormat, Cipher = SealedManifest.CurrentCipher,
                SealId = Convert.ToHexStringLower(sealId), ChunkSize = options.ChunkSize,
                ManifestDigest = ManifestDigest.Compute(list.Select(f => (f.Path, f.Sha256))),
                Files = list, Recipients = [], Mac = "",
            };
            var wrapped = new List<WrappedKey>();
            foreach (var recipient in recipients)
            {
                var w = Wrap(dataKey, sealId, recipient);
                if (!w.IsOk)
                {
                    DeleteQuietly(temp);
                    return w.Error;
                }
                if (wrapped.All(x => x.KeyId != w.Value.KeyId)) wrapped.Add(w.Value);
            }
            var manifest = unsigned with { Recipients = wrapped, Mac = Mac(dataKey, sealId, unsigned) };
            await File.WriteAllTextAsync(Path.Combine(temp, ManifestFileName), JsonSerializer.Serialize(manifest, Json), ct);
            Directory.Move(temp, fullOut);
            return WeightsResult<SealedManifest>.Ok(manifest);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            DeleteQuietly(temp);
            return new WeightsError(WeightsErrorKind.Io, outDir, e.Message);
        }
        catch
        {
            DeleteQuietly(temp);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    private static WeightsResult<SealedFile> SealFile(ManifestBuilder.SourceFile file, string blobPath, string blob, byte[] dataKey, byte[] sealId,
        int chunkSize, Action<long> progress, CancellationToken ct)
    {
        var fileId = RandomNumberGenerator.GetBytes(16);
        var key = FileKey(dataKey, sealId, fileId);
        var chunks = ChunkCount(file.Bytes, chunkSize);
        var plain = new byte[chunkSize];
        var cipher = new byte[chunkSize + TagSize];
        var aad = ChunkAad(fileId, file.Bytes, chunkSize, file.Path);
        Span<byte> nonce = stackalloc byte[12];
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var input = new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            using var output = new FileStream(blobPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
            for (long i = 0; i < chunks; i++)
            {
                ct.ThrowIfCancellationRequested();
                var want = (int)Math.Min(chunkSize, file.Bytes - (i * chunkSize));
                var got = input.ReadAtLeast(plain.AsSpan(0, want), want, throwOnEndOfStream: false);
                if (got != want)
                {
                    return new WeightsError(WeightsErrorKind.Io, file.Path, $"file changed while sealing ({file.Bytes} bytes listed, ended early)");
                }
                hash.AppendData(plain, 0, want);
                SetChunk(aad, i, i == chunks - 1);
                SetNonce(nonce, i);
                gcm.Encrypt(nonce, plain.AsSpan(0, want), cipher.AsSpan(0, want), cipher.AsSpan(want, TagSize), aad);
                output.Write(cipher, 0, want + TagSize);
                progress(want);
            }
            if (input.ReadByte() != -1)
            {
                return new WeightsError(WeightsErrorKind.Io, file.Path, $"file changed while sealing (grew past {file.Bytes} bytes)");
            }
            return WeightsResult<SealedFile>.Ok(new SealedFile
            {
                Path = file.Path, Bytes = file.Bytes, Sha256 = Convert.ToHexStringLower(hash.GetHashAndReset()),
                FileId = Convert.ToHexStringLower(fileId), Chunks = chunks, Blob = blob,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, file.Path, e.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>
    /// Rewrites <c>sealed.json</c> with another recipients list (atomically). The manifest MAC does not cover the
    /// wrapped keys, so a developer can publish a seal without them and each grantee can put back the one key
    /// the Embargo server released to it.
    /// </summary>
    public static WeightsResult<SealedManifest> ReplaceRecipients(string sealedDir, IReadOnlyList<WrappedKey> recipients)
    {
        var read = ReadManifest(sealedDir);
        if (!read.IsOk)
        {
            return read;
        }
        var updated = read.Value with { Recipients = recipients };
        var path = Path.Combine(sealedDir, ManifestFileName);
        var temp = path + ".tmp";
        try
        {
            File.WriteAllText(temp, JsonSerializer.Serialize(updated, Json));
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            return new WeightsError(WeightsErrorKind.Io, path, e.Message);
        }
        return WeightsResult<SealedManifest>.Ok(updated);
    }

    /// <summary>Reads and validates <c>sealed.json</c> (shape, paths, lengths); does not need a key.</summary>
    public static WeightsResult<SealedManifest> ReadManifest(string sealedDir)
    {
        var path = Path.Combine(sealedDir, ManifestFileName);
        SealedManifest? m;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return new WeightsError(WeightsErrorKind.NotFound, path, "no sealed.json: not a sealed weights directory");
            if (info.Length > MaxManifestBytes) return new WeightsError(WeightsErrorKind.HeaderTooLarge, path, $"sealed.json exceeds {MaxManifestBytes / (1024 * 1024)} MiB");
            m = JsonSerializer.Deserialize<SealedManifest>(File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            return new WeightsError(WeightsErrorKind.InvalidSealedManifest, path, $"not valid sealed-manifest JSON ({JsonErrorText.Describe(e)})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, path, e.Message);
        }
        WeightsError Bad(string message) => new(WeightsErrorKind.InvalidSealedManifest, path, message);
        if (m is null || m.Files is null || m.Recipients is null) return Bad("sealed.json is empty or incomplete");
        if (m.Format != SealedManifest.CurrentFormat) return Bad($"unsupported format \"{m.Format}\"");
        if (m.Cipher != SealedManifest.CurrentCipher) return Bad($"unsupported cipher \"{m.Cipher}\"");
        if (m.ChunkSize is < 1 or > SealOptions.MaxChunkSize) return Bad($"chunk size {m.ChunkSize} out of range");
        if (!IsHex(m.SealId, 16)) return Bad("sealId is not 32 hex digits");
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var blobs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in m.Files)
        {
            if (f is null || !SafeRelativePath(f.Path)) return Bad($"unsafe or invalid file path \"{SafetensorsReader.Clip(f?.Path ?? "")}\"");
            if (!paths.Add(f.Path)) return Bad($"file \"{SafetensorsReader.Clip(f.Path)}\" listed twice");
            if (f.Blob is null || !System.Text.RegularExpressions.Regex.IsMatch(f.Blob, "^blobs/[0-9]{6,9}$") || !blobs.Add(f.Blob)) return Bad($"invalid blob name for \"{SafetensorsReader.Clip(f.Path)}\"");
            if (!IsHex(f.FileId, 16)) return Bad($"fileId of \"{SafetensorsReader.Clip(f.Path)}\" is not 32 hex digits");
            if (!IsHex(f.Sha256, 32)) return Bad($"sha256 of \"{SafetensorsReader.Clip(f.Path)}\" is not 64 hex digits");
            if (f.Bytes < 0 || f.Chunks != ChunkCount(f.Bytes, m.ChunkSize)) return Bad($"length of \"{SafetensorsReader.Clip(f.Path)}\" does not match its chunk count");
        }
        return WeightsResult<SealedManifest>.Ok(m);
    }

    /// <summary>Unseals with an identity given as a private key file.</summary>
    public static async Task<WeightsResult<WeightsManifest>> UnsealAsync(string sealedDir, string identityFile, string outDir,
        IProgress<HashProgress>? progress, CancellationToken ct)
    {
        var key = KeyFiles.ReadPrivate(identityFile);
        if (!key.IsOk) return key.Error;
        try
        {
            return await UnsealAsync(sealedDir, key.Value, outDir, progress, Environment.ProcessorCount, ct);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key.Value);
        }
    }

    public static async Task<WeightsResult<WeightsManifest>> UnsealAsync(string sealedDir, byte[] identityPrivateKey, string outDir,
        IProgress<HashProgress>? progress, int degreeOfParallelism, CancellationToken ct)
    {
        var read = ReadManifest(sealedDir);
        if (!read.IsOk) return read.Error;
        var m = read.Value;
        var manifestPath = Path.Combine(sealedDir, ManifestFileName);
        var unwrapped = Unwrap(m, identityPrivateKey, manifestPath);
        if (!unwrapped.IsOk) return unwrapped.Error;
        var dataKey = unwrapped.Value;
        try
        {
            var sealId = Convert.FromHexString(m.SealId);
            if (!CryptographicOperations.FixedTimeEquals(Convert.FromHexString(Mac(dataKey, sealId, m)), IsHex(m.Mac, 32) ? Convert.FromHexString(m.Mac) : new byte[32]))
            {
                return new WeightsError(WeightsErrorKind.Tampered, manifestPath, "sealed.json was modified (manifest MAC does not verify)");
            }
            var prepared = PrepareOutput(outDir);
            if (!prepared.IsOk) return prepared.Error;
            var (temp, fullOut) = prepared.Value;
            try
            {
                var unsealed = await PerFile.RunAsync(m.Files.Select(f => (f.Path, f.Bytes)).ToList(), degreeOfParallelism, progress,
                    (i, hashed, token) => UnsealFile(m.Files[i], sealedDir, temp, dataKey, sealId, m.ChunkSize, hashed, token) is { } error
                        ? error
                        : WeightsResult<bool>.Ok(true), ct);
                if (!unsealed.IsOk)
                {
                    DeleteQuietly(temp);
                    return unsealed.Error;
                }
                var files = m.Files.Select(f => new ManifestFile { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256, Format = "other" })
                    .OrderBy(f => f.Path, ManifestDigest.PathOrder).ToList();
                var digest = ManifestDigest.Compute(files);
                if (digest != m.ManifestDigest)
                {
                    DeleteQuietly(temp);
                    return new WeightsError(WeightsErrorKind.Tampered, manifestPath, $"restored files digest to {digest}, not the sealed {m.ManifestDigest}");
                }
                Directory.Move(temp, fullOut);
                return WeightsResult<WeightsManifest>.Ok(new WeightsManifest { Digest = digest, Files = files });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                DeleteQuietly(temp);
                return new WeightsError(WeightsErrorKind.Io, outDir, e.Message);
            }
            catch
            {
                DeleteQuietly(temp);
                throw;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    private static WeightsError? UnsealFile(SealedFile f, string sealedDir, string temp, byte[] dataKey, byte[] sealId, int chunkSize,
        Action<long> progress, CancellationToken ct)
    {
        var blobPath = Path.Combine(sealedDir, f.Blob);
        var display = $"{blobPath} ({f.Path})";
        var fileId = Convert.FromHexString(f.FileId);
        var key = FileKey(dataKey, sealId, fileId);
        var plain = new byte[chunkSize];
        var cipher = new byte[chunkSize + TagSize];
        var aad = ChunkAad(fileId, f.Bytes, chunkSize, f.Path);
        Span<byte> nonce = stackalloc byte[12];
        try
        {
            var info = new FileInfo(blobPath);
            if (!info.Exists)
            {
                return new WeightsError(WeightsErrorKind.Tampered, display, "sealed blob is missing");
            }
            var expected = SealedLength(f.Bytes, chunkSize);
            if (info.Length != expected)
            {
                return new WeightsError(WeightsErrorKind.Tampered, display,
                    $"sealed blob is {info.Length} bytes, expected {expected} (chunks dropped, truncated or appended)");
            }
            var target = Path.Combine(temp, f.Path.Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            using var gcm = new AesGcm(key, TagSize);
            using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            using var input = new FileStream(blobPath, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0);
            for (long i = 0; i < f.Chunks; i++)
            {
                ct.ThrowIfCancellationRequested();
                var want = (int)Math.Min(chunkSize, f.Bytes - (i * chunkSize));
                if (input.ReadAtLeast(cipher.AsSpan(0, want + TagSize), want + TagSize, throwOnEndOfStream: false) != want + TagSize)
                {
                    return new WeightsError(WeightsErrorKind.Tampered, display, $"sealed blob ended inside chunk {i}");
                }
                SetChunk(aad, i, i == f.Chunks - 1);
                SetNonce(nonce, i);
                try
                {
                    gcm.Decrypt(nonce, cipher.AsSpan(0, want), cipher.AsSpan(want, TagSize), plain.AsSpan(0, want), aad);
                }
                catch (AuthenticationTagMismatchException)
                {
                    return new WeightsError(WeightsErrorKind.Tampered, display,
                        $"chunk {i} of {f.Chunks} failed authentication (modified, reordered, moved from another file or from another seal)");
                }
                hash.AppendData(plain, 0, want);
                output.Write(plain, 0, want);
                progress(want);
            }
            var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (!string.Equals(sha, f.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                return new WeightsError(WeightsErrorKind.Tampered, display, $"decrypted file hashes to {sha}, not the sealed {f.Sha256}");
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, display, e.Message);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    private static WeightsResult<WrappedKey> Wrap(byte[] dataKey, byte[] sealId, byte[] recipientPublic)
    {
        PublicKey recipient;
        try
        {
            recipient = PublicKey.Import(KeyAgreementAlgorithm.X25519, recipientPublic, KeyBlobFormat.RawPublicKey);
        }
        catch (FormatException)
        {
            return new WeightsError(WeightsErrorKind.InvalidKeyFile, KeyFiles.KeyId(recipientPublic), "not a valid X25519 public key");
        }
        using var ephemeral = Key.Create(KeyAgreementAlgorithm.X25519);
        var ephemeralPublic = ephemeral.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        var wrapKey = WrapKey(ephemeral, recipient, ephemeralPublic, recipientPublic, sealId);
        if (wrapKey is null)
        {
            return new WeightsError(WeightsErrorKind.InvalidKeyFile, KeyFiles.KeyId(recipientPublic), "X25519 key agreement failed (low-order public key)");
        }
        try
        {
            var output = new byte[32 + TagSize];
            using var gcm = new AesGcm(wrapKey, TagSize);
            gcm.Encrypt(new byte[12], dataKey, output.AsSpan(0, 32), output.AsSpan(32), sealId);
            return WeightsResult<WrappedKey>.Ok(new WrappedKey
            {
                KeyId = KeyFiles.KeyId(recipientPublic),
                EphemeralPublicKey = Convert.ToBase64String(ephemeralPublic),
                WrappedDataKey = Convert.ToBase64String(output),
            });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(wrapKey);
        }
    }

    private static WeightsResult<byte[]> Unwrap(SealedManifest m, byte[] identityPrivateKey, string manifestPath)
    {
        Key identity;
        try
        {
            identity = Key.Import(KeyAgreementAlgorithm.X25519, identityPrivateKey, KeyBlobFormat.RawPrivateKey);
        }
        catch (FormatException)
        {
            return new WeightsError(WeightsErrorKind.InvalidKeyFile, manifestPath, "identity is not a valid X25519 private key");
        }
        using (identity)
        {
            var identityPublic = identity.PublicKey.Export(KeyBlobFormat.RawPublicKey);
            var keyId = KeyFiles.KeyId(identityPublic);
            var entry = m.Recipients.FirstOrDefault(r => r?.KeyId == keyId);
            if (entry is null)
            {
                return new WeightsError(WeightsErrorKind.NoKeyForIdentity, manifestPath, $"sealed for other keys: no wrapped key for identity {keyId}");
            }
            var ephemeralPublic = new byte[32];
            var wrapped = new byte[32 + TagSize];
            if (!Convert.TryFromBase64String(entry.EphemeralPublicKey ?? "", ephemeralPublic, out var n1) || n1 != 32
                || !Convert.TryFromBase64String(entry.WrappedDataKey ?? "", wrapped, out var n2) || n2 != 32 + TagSize)
            {
                return new WeightsError(WeightsErrorKind.KeyUnwrapFailed, manifestPath, $"wrapped key for {keyId} is malformed");
            }
            PublicKey ephemeral;
            try
            {
                ephemeral = PublicKey.Import(KeyAgreementAlgorithm.X25519, ephemeralPublic, KeyBlobFormat.RawPublicKey);
            }
            catch (FormatException)
            {
                return new WeightsError(WeightsErrorKind.KeyUnwrapFailed, manifestPath, $"wrapped key for {keyId} has an invalid ephemeral key");
            }
            var wrapKey = WrapKey(identity, ephemeral, ephemeralPublic, identityPublic, Convert.FromHexString(m.SealId));
            if (wrapKey is null)
            {
                return new WeightsError(WeightsErrorKind.KeyUnwrapFailed, manifestPath, $"key agreement failed for {keyId}");
            }
            try
            {
                var dataKey = new byte[32];
                using var gcm = new AesGcm(wrapKey, TagSize);
                gcm.Decrypt(new byte[12], wrapped.AsSpan(0, 32), wrapped.AsSpan(32), dataKey, Convert.FromHexString(m.SealId));
                return WeightsResult<byte[]>.Ok(dataKey);
            }
            catch (AuthenticationTagMismatchException)
            {
                return new WeightsError(WeightsErrorKind.KeyUnwrapFailed, manifestPath, $"wrapped key for {keyId} does not open with this identity (wrong key or tampered)");
            }
            finally
            {
                CryptographicOperations.ZeroMemory(wrapKey);
            }
        }
    }

    /// <summary>HKDF-SHA256(X25519(own, peer), salt = ephemeralPublic || recipientPublic, info = label || sealId).</summary>
    private static byte[]? WrapKey(Key own, PublicKey peer, byte[] ephemeralPublic, byte[] recipientPublic, byte[] sealId)
    {
        using var shared = KeyAgreementAlgorithm.X25519.Agree(own, peer);
        if (shared is null) return null;
        return KeyDerivationAlgorithm.HkdfSha256.DeriveBytes(shared, [.. ephemeralPublic, .. recipientPublic], [.. WrapLabel, .. sealId], 32);
    }

    private static byte[] FileKey(byte[] dataKey, byte[] sealId, byte[] fileId) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey, 32, sealId, [.. FileKeyLabel, .. fileId]);

    private static string Mac(byte[] dataKey, byte[] sealId, SealedManifest m)
    {
        var macKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, dataKey, 32, sealId, MacLabel);
        try
        {
            return Convert.ToHexStringLower(HMACSHA256.HashData(macKey, Encoding.UTF8.GetBytes(m.CanonicalText())));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(macKey);
        }
    }

    /// <summary>label || fileId(16) || u64be chunk index || u8 final || u64be total length || u32be chunk size || u32be path length || path.</summary>
    private static byte[] ChunkAad(byte[] fileId, long totalBytes, int chunkSize, string path)
    {
        var pathBytes = Encoding.UTF8.GetBytes(path);
        var aad = new byte[ChunkLabel.Length + 16 + 8 + 1 + 8 + 4 + 4 + pathBytes.Length];
        var s = aad.AsSpan();
        ChunkLabel.CopyTo(s);
        s = s[ChunkLabel.Length..];
        fileId.CopyTo(s);
        BinaryPrimitives.WriteInt64BigEndian(s[(16 + 8 + 1)..], totalBytes);
        BinaryPrimitives.WriteInt32BigEndian(s[(16 + 8 + 1 + 8)..], chunkSize);
        BinaryPrimitives.WriteInt32BigEndian(s[(16 + 8 + 1 + 8 + 4)..], pathBytes.Length);
        pathBytes.CopyTo(s[(16 + 8 + 1 + 8 + 4 + 4)..]);
        return aad;
    }

    private static void SetChunk(byte[] aad, long index, bool final)
    {
        var s = aad.AsSpan(ChunkLabel.Length + 16);
        BinaryPrimitives.WriteInt64BigEndian(s, index);
        s[8] = final ? (byte)1 : (byte)0;
    }

    private static void SetNonce(Span<byte> nonce, long index)
    {
        nonce[..4].Clear();
        BinaryPrimitives.WriteInt64BigEndian(nonce[4..], index);
    }

    private static bool IsHex(string? s, int bytes) =>
        s is not null && s.Length == bytes * 2 && s.All(char.IsAsciiHexDigit);

    /// <summary>Relative, <c>/</c>-separated, no empty, <c>.</c> or <c>..</c> segments, no backslash or control characters.</summary>
    public static bool SafeRelativePath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path.Length > 4096 || path.StartsWith('/') || path.Any(c => c == '\\' || char.IsControl(c) || c == ':'))
        {
            return false;
        }
        return path.Split('/').All(seg => seg.Length > 0 && seg != "." && seg != "..");
    }

    /// <summary>Checks the output does not exist and returns a fresh temporary directory beside it.</summary>
    private static WeightsResult<(string Temp, string Full)> PrepareOutput(string outDir)
    {
        var full = Path.GetFullPath(outDir.TrimEnd('/', Path.DirectorySeparatorChar) is { Length: > 0 } t ? t : outDir);
        if (Directory.Exists(full) || File.Exists(full))
        {
            return new WeightsError(WeightsErrorKind.OutputExists, outDir, "output already exists; refusing to overwrite");
        }
        var parent = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(parent);
            var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.partial-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}");
            Directory.CreateDirectory(temp);
            return WeightsResult<(string, string)>.Ok((temp, full));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return new WeightsError(WeightsErrorKind.Io, outDir, e.Message);
        }
    }

    private static void DeleteQuietly(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
