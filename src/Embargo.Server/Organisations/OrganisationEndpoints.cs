using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Organisations;

public static class OrganisationEndpoints
{
    public static RouteGroupBuilder MapOrganisations(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/api/admin").WithTags("Administration").RequireAuthorization();
        admin.MapPost("/organisations", CreateOrganisation);
        admin.MapPost("/principals", CreatePrincipal);
        admin.MapPost("/principals/{id}/token", (string id, HttpContext http, LedgerWriter writer, CancellationToken ct) => ReplaceToken(id, rotate: true, http, writer, ct));
        admin.MapPost("/principals/{id}/revoke", (string id, HttpContext http, LedgerWriter writer, CancellationToken ct) => ReplaceToken(id, rotate: false, http, writer, ct));

        var open = app.MapGroup("/api").WithTags("Organisations");
        open.MapGet("/me", (HttpContext http) => TypedResults.Ok(Caller.From(http.User))).RequireAuthorization();
        open.MapGet("/organisations", ListOrganisations).AllowAnonymous();
        open.MapGet("/public/bad-actors", BadActors).AllowAnonymous();
        return admin;
    }

    internal static OrganisationDto ToDto(OrganisationEntity o) => new() { Id = o.Id, Name = o.Name, BadActor = o.BadActor, BadActorReason = o.BadActorReason };

    private static async Task<Results<Created<OrganisationDto>, ProblemHttpResult>> CreateOrganisation(
        CreateOrganisationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<OrganisationDto>(caller, async (uow, token) =>
        {
            if (Access.Decide(ProtocolAction.Administer, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            var name = request.Name?.Trim() ?? "";
            if (name.Length is 0 or > 200)
            {
                return ProtocolError.Validation("name must be 1–200 characters");
            }
            if (await uow.Db.Organisations.AnyAsync(o => o.Name == name, token))
            {
                return ProtocolError.Validation($"an organisation named '{name}' already exists");
            }
            var entity = new OrganisationEntity { Id = Ids.New("org"), Name = name, CreatedAt = uow.Now };
            uow.Db.Organisations.Add(entity);
            uow.Append("organisation.created", new JsonObject { ["organisation"] = entity.Id, ["name"] = name });
            return ToDto(entity);
        }, ct);
        return ApiResults.Created(result, o => $"/api/organisations/{o.Id}");
    }

    private static async Task<Results<Created<PrincipalCreatedDto>, ProblemHttpResult>> CreatePrincipal(
        CreatePrincipalRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var result = await writer.ExecuteAsync<PrincipalCreatedDto>(caller, async (uow, token) =>
        {
            if (Access.Decide(ProtocolAction.Administer, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            var role = Roles.Parse(request.Role);
            if (!role.IsOk)
            {
                return role.Error!;
            }
            if (role.Value == Role.Admin)
            {
                return ProtocolError.Validation("admin principals come from configuration, not the API");
            }
            if (!await uow.Db.Organisations.AnyAsync(o => o.Id == request.OrganisationId, token))
            {
                return ProtocolError.NotFound($"organisation {request.OrganisationId}");
            }
            string? keyPem = null;
            if (request.SigningKeyPem is not null)
            {
                var key = VerifyingKey.FromPem(request.SigningKeyPem);
                if (!key.IsOk)
                {
                    return key.Error!;
                }
                keyPem = key.Value.Pem;
            }
            string? encryptionKey = null;
            if (request.EncryptionKey is not null)
            {
                var parsed = Embargo.Weights.KeyFiles.ParseArmored(request.EncryptionKey, Embargo.Weights.KeyFiles.PublicLabel, "encryptionKey");
                if (!parsed.IsOk)
                {
                    return ProtocolError.Validation(parsed.Error!.ToString());
                }
                encryptionKey = Convert.ToBase64String(parsed.Value);
            }
            if (role.Value == Role.Certifier && keyPem is null)
            {
                return ProtocolError.Validation("a certifier needs signingKeyPem (an Ed25519 public key) to sign certificates");
            }
            var token2 = Ids.NewToken();
            var entity = new PrincipalEntity
            {
                Id = Ids.New("prn"),
                OrganisationId = request.OrganisationId,
                Name = request.Name,
                Role = role.Value.Name(),
                TokenHash = Ids.HashToken(token2),
                SigningKeyPem = keyPem,
                EncryptionKey = encryptionKey,
                CreatedAt = uow.Now,
            };
            uow.Db.Principals.Add(entity);
            var data = new JsonObject { ["principal"] = entity.Id, ["organisation"] = entity.OrganisationId, ["role"] = entity.Role };
            if (keyPem is not null)
            {
                data["signingKeyId"] = VerifyingKey.FromPem(keyPem).Value.KeyId;
            }
            if (encryptionKey is not null)
            {
                data["encryptionKeyId"] = Embargo.Weights.KeyFiles.KeyId(Convert.FromBase64String(encryptionKey));
            }
            uow.Append("principal.created", data);
            return new PrincipalCreatedDto
            {
                Principal = new PrincipalDto { Id = entity.Id, OrganisationId = entity.OrganisationId, Name = entity.Name, Role = entity.Role },
                Token = token2,
            };
        }, ct);
        return ApiResults.Created(result, p => $"/api/principals/{p.Principal.Id}");
    }

    /// <summary>
    /// Rotating gives the principal a new token (shown once); revoking replaces the stored hash with that of a
    /// random secret nobody holds. Either way the old token stops working at once, and the ledger says so.
    /// </summary>
    private static async Task<Results<Ok<PrincipalCreatedDto>, ProblemHttpResult>> ReplaceToken(string id, bool rotate, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<PrincipalCreatedDto>(caller, async (uow, token) =>
        {
            if (Access.Decide(ProtocolAction.Administer, caller.Actor, Subject.None) is { } denied)
            {
                return denied;
            }
            var principal = await uow.Db.Principals.FirstOrDefaultAsync(p => p.Id == id, token);
            if (principal is null)
            {
                return ProtocolError.NotFound($"principal {id}");
            }
            var fresh = Ids.NewToken();
            principal.TokenHash = Ids.HashToken(fresh);
            uow.Append(rotate ? "principal.token-rotated" : "principal.revoked", new JsonObject { ["principal"] = id, ["organisation"] = principal.OrganisationId });
            return new PrincipalCreatedDto
            {
                Principal = new PrincipalDto { Id = principal.Id, OrganisationId = principal.OrganisationId, Name = principal.Name, Role = principal.Role },
                Token = rotate ? fresh : "",
            };
        }, ct));
    }

    private static async Task<Results<Ok<List<OrganisationDto>>, ProblemHttpResult>> ListOrganisations(EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        Paging.SetHeaders(http, await db.Organisations.CountAsync(ct), page, "offset");
        return TypedResults.Ok((await db.Organisations.AsNoTracking().OrderBy(o => o.Name).ThenBy(o => o.Id)
            .Skip((int)Math.Min(page.Offset, int.MaxValue)).Take(page.Limit).ToListAsync(ct)).Select(ToDto).ToList());
    }

    /// <summary>Each marked organisation with the violations behind its mark, their disputes and the regulator's decisions.</summary>
    private static async Task<Results<Ok<List<BadActorDto>>, ProblemHttpResult>> BadActors(EmbargoDb db, HttpContext http, string? limit, string? offset, CancellationToken ct)
    {
        if (!Paging.TryParse(limit, offset, out var page, out var badPage))
        {
            return badPage;
        }
        Paging.SetHeaders(http, await db.Organisations.CountAsync(o => o.BadActor, ct), page, "offset");
        return TypedResults.Ok(await Violations.ViolationEndpoints.BadActorsAsync(db, ct, page));
    }
}
