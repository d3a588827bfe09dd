using System.Text;
using Embargo.Contracts;
using Embargo.Ledger;
using Embargo.Protocol;
using Embargo.Server.Infrastructure;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Ledger;

/// <summary>The public, read-only face of the transparency ledger. Anyone may read it; nobody may edit it.</summary>
public static class LedgerEndpoints
{
    public static IServiceCollection AddLedger(this IServiceCollection services)
    {
        services.AddSingleton<LedgerState>();
        services.AddSingleton<LedgerSigner>();
        services.AddSingleton<LedgerIntegrity>();
        services.AddSingleton<LedgerWriter>();
        services.AddSingleton<LedgerWitnesses>();
        services.AddHostedService(sp => sp.GetRequiredService<LedgerWriter>());
        return services;
    }

    public static RouteGroupBuilder MapLedger(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/ledger").WithTags("Ledger").AllowAnonymous();
        group.MapGet("/checkpoint", Checkpoint);
        group.MapGet("/key", (LedgerSigner signer) => TypedResults.Text(signer.VerifierKey + "\n"));
        group.MapGet("/leaves", Leaves);
        group.MapGet("/proofs/inclusion", Inclusion);
        group.MapGet("/proofs/consistency", Consistency);
        group.MapGet("/witnesses", (LedgerWitnesses witnesses) => TypedResults.Ok(witnesses.Status()));
        return group;
    }

    /// <summary>Signs the current tree, after checking the stored leaves against the history this server signed before (503 when they differ).</summary>
    /// <remarks>With witnesses configured, the note carries the cosignatures they returned for it (C2SP tlog-witness).</remarks>
    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> Checkpoint(EmbargoDb db, LedgerIntegrity integrity, LedgerWitnesses witnesses, LedgerSigner signer, LedgerState state, CancellationToken ct)
    {
        var signed = await integrity.SignAsync(db, ct);
        if (!signed.IsOk)
        {
            return ApiResults.Problem(signed.Error!);
        }
        var note = signed.Value;
        if (witnesses.Any && signer.Open(note) is { } checkpoint)
        {
            note = await witnesses.CosignAsync(note, checkpoint, (from, to) => state.Read(t => t.Size >= to ? t.ConsistencyProof(from, to) : null), ct);
        }
        return TypedResults.Text(note, "text/plain; charset=utf-8");
    }

    /// <summary>At most this many leaves a page unless the caller asks for fewer (or more, up to <see cref="MaxLeavesPerPage"/>).</summary>
    public const int DefaultLeavesPerPage = 1000;
    public const int MaxLeavesPerPage = 10_000;

    /// <summary>
    /// Leaves [start, start+limit) as ledger.jsonl lines, paged like every list (<see cref="Paging"/>): <c>X-Total-Count</c>
    /// is the number of committed leaves, <c>X-Next-Offset</c> and <c>Link rel="next"</c> the next page's start.
    /// </summary>
    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> Leaves(EmbargoDb db, HttpContext http, string? start, string? limit, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, start, out var page, out var badPage, DefaultLeavesPerPage, MaxLeavesPerPage, "start"))
        {
            return badPage;
        }
        var from = page.Offset;
        var to = from + page.Limit;
        var size = (await db.LedgerLeaves.MaxAsync(l => (long?)l.Index, ct) ?? -1) + 1;
        var leaves = await db.LedgerLeaves.AsNoTracking().Where(l => l.Index >= from && l.Index < to && l.Index < size).OrderBy(l => l.Index).ToListAsync(ct);
        var text = new StringBuilder();
        foreach (var leaf in leaves)
        {
            text.Append(LedgerJsonl.FormatLine(leaf.Index, leaf.Data)).Append('\n');
        }
        Paging.SetHeaders(http, size, page, "start");
        return TypedResults.Text(text.ToString(), "application/x-ndjson; charset=utf-8");
    }

    private static async Task<Results<Ok<InclusionProofResponse>, ProblemHttpResult>> Inclusion(EmbargoDb db, LedgerState state, long index, long? size, CancellationToken ct)
    {
        await state.CatchUpAsync(db, ct);
        return state.Read<Results<Ok<InclusionProofResponse>, ProblemHttpResult>>(tree =>
        {
            var treeSize = size ?? tree.Size;
            if (treeSize < 1 || treeSize > tree.Size || index < 0 || index >= treeSize)
            {
                return ApiResults.Problem(ProtocolError.Validation($"need 0 ≤ index < size ≤ {tree.Size}; got index {index}, size {treeSize}"));
            }
            return TypedResults.Ok(new InclusionProofResponse
            {
                Index = index,
                TreeSize = treeSize,
                LeafHash = Convert.ToBase64String(tree.LeafHash(index)),
                RootHash = Convert.ToBase64String(tree.RootAt(treeSize)),
                Proof = tree.InclusionProof(index, treeSize).Select(Convert.ToBase64String).ToList(),
            });
        });
    }

    private static async Task<Results<Ok<ConsistencyProofResponse>, ProblemHttpResult>> Consistency(EmbargoDb db, LedgerState state, long from, long? to, CancellationToken ct)
    {
        await state.CatchUpAsync(db, ct);
        return state.Read<Results<Ok<ConsistencyProofResponse>, ProblemHttpResult>>(tree =>
        {
            var toSize = to ?? tree.Size;
            if (from < 1 || from > toSize || toSize > tree.Size)
            {
                return ApiResults.Problem(ProtocolError.Validation($"need 1 ≤ from ≤ to ≤ {tree.Size}; got from {from}, to {toSize}"));
            }
            return TypedResults.Ok(new ConsistencyProofResponse
            {
                FromSize = from,
                ToSize = toSize,
                FromRoot = Convert.ToBase64String(tree.RootAt(from)),
                ToRoot = Convert.ToBase64String(tree.RootAt(toSize)),
                Proof = tree.ConsistencyProof(from, toSize).Select(Convert.ToBase64String).ToList(),
            });
        });
    }
}
