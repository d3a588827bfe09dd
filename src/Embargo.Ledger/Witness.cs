using System.Globalization;

namespace Embargo.Ledger;

/// <summary>
/// A C2SP tlog-witness add-checkpoint request body: "old &lt;size&gt;\n", up to 63 base64 consistency proof lines,
/// an empty line, then the signed checkpoint.
/// </summary>
public sealed record AddCheckpointRequest(long OldSize, IReadOnlyList<byte[]> Proof, string SignedCheckpoint)
{
    /// <summary>The most consistency proof lines a client may send.</summary>
    public const int MaxProofLines = 63;

    /// <summary>The largest body a witness reads (a checkpoint with up to 100 signature lines fits well inside).</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>The body as the spec lays it out.</summary>
    public string Format() =>
        string.Create(CultureInfo.InvariantCulture, $"old {OldSize}\n")
        + string.Concat(Proof.Select(p => Convert.ToBase64String(p) + "\n"))
        + "\n" + SignedCheckpoint;

    public static LedgerResult<AddCheckpointRequest> Parse(string body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var end = body.IndexOf('\n', StringComparison.Ordinal);
        if (end < 0 || !body.StartsWith("old ", StringComparison.Ordinal))
        {
            return Malformed("the first line must be 'old <size>'");
        }

        var sizeText = body[4..end];
        if (sizeText.Length == 0 || !sizeText.All(char.IsAsciiDigit) || (sizeText.Length > 1 && sizeText[0] == '0')
            || !long.TryParse(sizeText, NumberStyles.None, CultureInfo.InvariantCulture, out var old))
        {
            return Malformed($"old size '{sizeText}' is not a decimal number without leading zeros");
        }

        var proof = new List<byte[]>();
        var at = end + 1;
        while (true)
        {
            var next = body.IndexOf('\n', at);
            if (next < 0)
            {
                return Malformed("no empty line before the checkpoint");
            }

            if (next == at)
            {
                at = next + 1;
                break;
            }

            if (proof.Count == MaxProofLines)
            {
                return Malformed($"more than {MaxProofLines} consistency proof lines");
            }

            if (!Text.TryDecodeBase64(body[at..next], out var hash) || hash.Length != MerkleHash.Size)
            {
                return Malformed($"consistency proof line {proof.Count + 1} is not base64 of a 32-byte hash");
            }

            proof.Add(hash);
            at = next + 1;
        }

        var note = body[at..];
        if (note.Length == 0)
        {
            return Malformed("no checkpoint after the empty line");
        }

        if (old == 0 && proof.Count != 0)
        {
            return Malformed("the consistency proof must be empty when the old size is 0");
        }

        return LedgerResult<AddCheckpointRequest>.Success(new AddCheckpointRequest(old, proof, note));
    }

    private static LedgerResult<AddCheckpointRequest> Malformed(string message) =>
        LedgerResult<AddCheckpointRequest>.Fail(LedgerErrorKind.Malformed, $"add-checkpoint: {message}");
}

/// <summary>What a witness holds for one log: the size and root of the latest checkpoint it cosigned.</summary>
public sealed record WitnessedTree(long Size, byte[] RootHash);

/// <summary>How a witness answers add-checkpoint (the HTTP status codes tlog-witness prescribes).</summary>
public enum WitnessVerdict
{
    /// <summary>200: cosign, after persisting the new tree.</summary>
    Cosign = 200,
    /// <summary>400: malformed request, or the old size is above the checkpoint's.</summary>
    BadRequest = 400,
    /// <summary>403: no signature verifies under a key trusted for the origin.</summary>
    Forbidden = 403,
    /// <summary>404: the origin is not a log this witness knows.</summary>
    UnknownLog = 404,
    /// <summary>409: the old size is not the size last cosigned, or the same size with another root (a fork).</summary>
    Conflict = 409,
    /// <summary>422: the consistency proof does not verify (a fork, or a bad proof).</summary>
    Inconsistent = 422,
}

/// <summary>The witness's decision: the verdict, a one-line reason, the checkpoint it read, and the size it holds.</summary>
public sealed record WitnessDecision(WitnessVerdict Verdict, string Reason, Checkpoint? Checkpoint, long KnownSize)
{
    /// <summary>True for a same-size different-root conflict or a failed proof: evidence the log may have forked.</summary>
    public bool IsForkEvidence { get; init; }
}

/// <summary>The tlog-witness add-checkpoint checks, in the spec's order, as one pure function.</summary>
public static class WitnessRules
{
    /// <param name="logs">Trusted log keys by origin (the key name is the origin).</param>
    /// <param name="known">What the witness holds for each origin (absent: never cosigned, size 0).</param>
    public static WitnessDecision Decide(AddCheckpointRequest request, IReadOnlyDictionary<string, NoteVerifier> logs, Func<string, WitnessedTree?> known)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(logs);
        ArgumentNullException.ThrowIfNull(known);
        var note = ParsedNote.Parse(request.SignedCheckpoint);
        if (!note.IsOk)
        {
            return new(WitnessVerdict.BadRequest, note.Error.Message, null, 0);
        }

        var checkpoint = Checkpoint.Parse(note.Value.Body);
        if (!checkpoint.IsOk)
        {
            return new(WitnessVerdict.BadRequest, checkpoint.Error.Message, null, 0);
        }

        var cp = checkpoint.Value;
        if (!logs.TryGetValue(cp.Origin, out var logKey))
        {
            return new(WitnessVerdict.UnknownLog, $"unknown log origin '{cp.Origin}'", cp, 0);
        }

        var opened = logKey.Open(request.SignedCheckpoint);
        if (!opened.IsOk)
        {
            return new(WitnessVerdict.Forbidden, $"the checkpoint carries no valid signature by the log's key: {opened.Error.Message}", cp, 0);
        }

        var held = known(cp.Origin);
        var heldSize = held?.Size ?? 0;
        if (request.OldSize > cp.Size)
        {
            return new(WitnessVerdict.BadRequest, $"old size {request.OldSize} is above the checkpoint size {cp.Size}", cp, heldSize);
        }

        if (request.OldSize != heldSize)
        {
            return new(WitnessVerdict.Conflict, $"old size {request.OldSize} is not the size last cosigned, {heldSize}", cp, heldSize);
        }

        if (held is null || heldSize == 0)
        {
            return new(WitnessVerdict.Cosign, "first checkpoint cosigned for this log", cp, heldSize);
        }

        if (cp.Size == heldSize)
        {
            return cp.RootHash.AsSpan().SequenceEqual(held.RootHash)
                ? new(WitnessVerdict.Cosign, "same tree as last cosigned", cp, heldSize)
                : new(WitnessVerdict.Conflict, $"a different root for size {heldSize} than the one cosigned: the log forked", cp, heldSize) { IsForkEvidence = true };
        }

        var consistent = MerkleVerifier.VerifyConsistency(heldSize, cp.Size, held.RootHash, cp.RootHash, request.Proof);
        return consistent.IsOk
            ? new(WitnessVerdict.Cosign, $"consistent with size {heldSize}", cp, heldSize)
            : new(WitnessVerdict.Inconsistent, $"the checkpoint of size {cp.Size} is not consistent with the tree of size {heldSize} this witness cosigned ({consistent.Error.Message}): the log may have forked", cp, heldSize) { IsForkEvidence = true };
    }
}
