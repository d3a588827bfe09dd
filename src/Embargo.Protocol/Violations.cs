using Embargo.Contracts;

namespace Embargo.Protocol;

/// <summary>The life of a rule-4 sighting. Only the last three are public.</summary>
public static class ViolationStatus
{
    /// <summary>Reported with evidence; seen only by the version's regulator(s), its developer and the reporter. Marks nobody.</summary>
    public const string Pending = "pending";
    /// <summary>The regulator found the sighting unfounded. Never public; the ledger holds only a hash of the reason.</summary>
    public const string Rejected = "rejected";
    /// <summary>The regulator confirmed it: a violation, public, the developer marked.</summary>
    public const string Confirmed = "confirmed";
    /// <summary>The developer's dispute was upheld: the violation no longer counts toward the mark.</summary>
    public const string Overturned = "overturned";
    /// <summary>A regulator lifted the mark: the violation stays on record but no longer marks.</summary>
    public const string Lifted = "lifted";

    public static bool IsPublic(string status) => status is Confirmed or Overturned or Lifted;
}

/// <summary>One file of the weights seen, or of a registered version.</summary>
public sealed record EvidenceFile(string Path, long Bytes, string Sha256);

/// <summary>How the weights seen match a registered version: <c>manifest</c> (every file) or <c>partial</c>.</summary>
public sealed record SightingMatch(string Kind, int MatchedFiles, long MatchedBytes, long VersionBytes);

/// <summary>
/// Rule 4 with due process, as pure decisions of state (who may take each step is the access table's, see
/// <see cref="Access"/>). A sighting needs evidence that recomputes; the regulator of the
/// version's cases confirms it before anyone is marked; the developer may dispute once; a regulator decides the
/// dispute or lifts the mark. Every refusal names <c>rule-4</c>.
/// </summary>
public static class ViolationRules
{
    public const string Rule = "rule-4";

    /// <summary>
    /// A partial match counts when the version's files whose sha256 appears among the files seen (whatever their
    /// path: renaming does not hide weights) hold at least this share of the version's bytes. Weighing by bytes
    /// means small files many models share (config, tokenizer) never match on their own; empty files never count.
    /// </summary>
    public const double PartialMatchShare = 0.5;

    public const int MaxFiles = 10_000;
    public const int MaxTensors = 100_000;
    public const int MaxPath = 1_024;
    public const int MaxSource = 2_000;
    public const int MaxText = 4_000;

    /// <summary>
    /// Checks the scan result sent with a report: bounded, well-formed, and its manifest digest recomputes from its
    /// file list with <paramref name="manifestDigest"/> (the weights manifest formula). Returns the normalised files.
    /// </summary>
    public static Result<IReadOnlyList<EvidenceFile>> CheckEvidence(SightingEvidenceDto? evidence, Func<IEnumerable<(string Path, string Sha256)>, string> manifestDigest)
    {
        if (evidence is null)
        {
            return ProtocolError.Validation("evidence is required: the scan result of the weights seen (manifestDigest and files)");
        }
        var digest = Sha256Digest.Parse(evidence.ManifestDigest, "evidence.manifestDigest");
        if (!digest.IsOk)
        {
            return digest.Error!;
        }
        if (evidence.Files is null || evidence.Files.Count is 0 or > MaxFiles)
        {
            return ProtocolError.Validation($"evidence.files must list 1–{MaxFiles} files with their sha256");
        }
        var files = new List<EvidenceFile>(evidence.Files.Count);
        for (var i = 0; i < evidence.Files.Count; i++)
        {
            var f = evidence.Files[i];
            var member = $"evidence.files[{i}]";
            if (f is null)
            {
                return ProtocolError.Validation($"{member} is null");
            }
            if (string.IsNullOrEmpty(f.Path) || f.Path.Length > MaxPath || f.Path.StartsWith('/') || f.Path.Contains('\\', StringComparison.Ordinal)
                || f.Path.Any(char.IsControl) || f.Path.Split('/').Any(s => s is "" or "." or ".."))
            {
                return ProtocolError.Validation($"{member}.path must be a relative '/'-separated path of at most {MaxPath} characters, without '.' or '..' segments or control characters");
            }
            if (f.Bytes < 0)
            {
                return ProtocolError.Validation($"{member}.bytes must be ≥ 0");
            }
            var sha = Sha256Digest.Parse(f.Sha256, $"{member}.sha256");
            if (!sha.IsOk)
            {
                return sha.Error!;
            }
            files.Add(new EvidenceFile(f.Path, f.Bytes, sha.Value.Hex));
        }
        if (files.Select(f => f.Path).Distinct(StringComparer.Ordinal).Count() != files.Count)
        {
            return ProtocolError.Validation("evidence.files names a path twice");
        }
        if (evidence.Tensors is { } tensors)
        {
            if (tensors.Count > MaxTensors)
            {
                return ProtocolError.Validation($"evidence.tensors lists more than {MaxTensors} tensors");
            }
            var paths = files.Select(f => f.Path).ToHashSet(StringComparer.Ordinal);
            for (var i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                var member = $"evidence.tensors[{i}]";
                if (t is null || !paths.Contains(t.File ?? ""))
                {
                    return ProtocolError.Validation($"{member}.file must name one of evidence.files");
                }
                if (string.IsNullOrEmpty(t.Name) || t.Name.Length > 512 || t.Name.Any(char.IsControl))
                {
                    return ProtocolError.Validation($"{member}.name must be 1–512 characters without control characters");
                }
                // GGUF's quantised types carry an underscore (Q8_0, Q4_K, IQ2_XXS).
                if (string.IsNullOrEmpty(t.Dtype) || t.Dtype.Length > 32 || !t.Dtype.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                {
                    return ProtocolError.Validation($"{member}.dtype must be 1–32 ASCII letters, digits or underscores");
                }
                if (t.Shape is null || t.Shape.Count > 16 || t.Shape.Any(d => d < 0))
                {
                    return ProtocolError.Validation($"{member}.shape must have at most 16 dimensions, each ≥ 0");
                }
            }
        }
        var computed = manifestDigest(files.Select(f => (f.Path, f.Sha256)));
        if (computed != digest.Value.ToString())
        {
            return ProtocolError.Validation($"evidence.manifestDigest {digest.Value} does not recompute from evidence.files (computed {computed})");
        }
        return files;
    }

    /// <summary>How the weights seen match one registered version, or null when they do not (see <see cref="PartialMatchShare"/>).</summary>
    public static SightingMatch? Match(string seenDigest, IReadOnlyList<EvidenceFile> seen, string versionDigest, IReadOnlyList<EvidenceFile> version)
    {
        var versionBytes = version.Sum(f => f.Bytes);
        if (string.Equals(seenDigest, versionDigest, StringComparison.Ordinal))
        {
            return new SightingMatch("manifest", version.Count, versionBytes, versionBytes);
        }
        var seenHashes = seen.Select(f => f.Sha256).ToHashSet(StringComparer.Ordinal);
        var matched = version.Where(f => f.Bytes > 0 && seenHashes.Contains(f.Sha256)).ToList();
        var matchedBytes = matched.Sum(f => f.Bytes);
        return matched.Count > 0 && versionBytes > 0 && matchedBytes >= PartialMatchShare * versionBytes
            ? new SightingMatch("partial", matched.Count, matchedBytes, versionBytes)
            : null;
    }

    /// <summary>The regulator confirms (→ confirmed, the developer marked) or rejects a pending sighting.</summary>
    public static Result<string> Decide(string status, bool confirm) => status == ViolationStatus.Pending
        ? confirm ? ViolationStatus.Confirmed : ViolationStatus.Rejected
        : ProtocolError.Violation(Rule, $"only a pending sighting is confirmed or rejected; this one is {status}");

    /// <summary>A confirmed violation is disputed once (who may dispute is the access table's: the developer it marks).</summary>
    public static ProtocolError? Dispute(string status, int earlierDisputes)
    {
        if (status != ViolationStatus.Confirmed)
        {
            return ProtocolError.Violation(Rule, $"only a confirmed violation is disputed; this one is {status}");
        }
        return earlierDisputes > 0 ? ProtocolError.Violation(Rule, "this violation was already disputed; a violation is disputed once") : null;
    }

    /// <summary>The regulator decides an open dispute: upheld → overturned (no longer marks); rejected → the violation stands.</summary>
    public static Result<string> DecideDispute(string status, bool hasOpenDispute, string? outcome)
    {
        if (outcome is not ("upheld" or "rejected"))
        {
            return ProtocolError.Validation($"outcome '{outcome}' must be 'upheld' or 'rejected'");
        }
        if (status != ViolationStatus.Confirmed || !hasOpenDispute)
        {
            return ProtocolError.Violation(Rule, "there is no open dispute of this violation to decide");
        }
        return outcome == "upheld" ? ViolationStatus.Overturned : ViolationStatus.Confirmed;
    }

    /// <summary>A mark is lifted only from an organisation that is marked (who may lift it is the access table's).</summary>
    public static ProtocolError? LiftMark(int standingViolations) => standingViolations == 0
        ? ProtocolError.Violation(Rule, "the organisation is not marked; there is no mark to lift")
        : null;

    /// <summary>A reason, statement or source: 1–<paramref name="max"/> characters, no control characters except line breaks and tabs.</summary>
    public static Result<string> Text(string? value, string member, int max = MaxText)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 0 || text.Length > max)
        {
            return ProtocolError.Validation($"{member} must be 1–{max} characters");
        }
        return text.Any(c => char.IsControl(c) && c is not ('\n' or '\t'))
            ? ProtocolError.Validation($"{member} must not contain control characters")
            : text;
    }
}
