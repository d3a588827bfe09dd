using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Embargo.Protocol;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Server.Auth;
using Embargo.Server.Cases;
using Embargo.Server.Infrastructure;
using Embargo.Server.Ledger;
using Embargo.Server.Models;
using Embargo.Server.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Embargo.Server.Certificates;

public static class CertificateStatus
{
    public const string Pending = "pending";
    public const string Issued = "issued";
    public const string Flagged = "flagged";
    public const string Revoked = "revoked";
    /// <summary>An approval never signed and replaced by a later approval of the same case (another tier or certifier).</summary>
    public const string Withdrawn = "withdrawn";
}

/// <summary>
/// Certification in two logged steps: the certifier's decision (whose ledger index the certificate names),
/// then the certificate itself, signed by the certifier's own key outside the server and checked here.
/// </summary>
public static class CertificateEndpoints
{
    public static RouteGroupBuilder MapCertificates(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Certificates").RequireAuthorization();
        group.MapPost("/cases/{id}/certification", Approve);
        group.MapPost("/certificates/{id}/signature", Submit);
        app.MapGet("/api/certificates/{id}", Get).WithTags("Certificates").AllowAnonymous();
        return group;
    }

    public static async Task<Tier?> HighestValidTierAsync(EmbargoDb db, string modelVersionId, CancellationToken ct)
    {
        var tiers = await db.Certificates.AsNoTracking()
            .Where(c => c.ModelVersionId == modelVersionId && c.Status == CertificateStatus.Issued)
            .Select(c => c.Tier).ToListAsync(ct);
        return tiers.Count == 0 ? null : tiers.Select(t => Tiers.Parse(t).Value).Max();
    }

    private static async Task<Results<Ok<CertificationDraftDto>, ProblemHttpResult>> Approve(string id, CertificationRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await CaseEndpoints.OnCase<CertificationDraftDto>(writer, caller, id, async (uow, snap, token) =>
        {
            if (snap.Decide(ProtocolAction.ApproveCertification, caller) is { } dependent)
            {
                return dependent;
            }
            var tier = Tiers.Parse(request.Tier);
            if (!tier.IsOk)
            {
                return tier.Error!;
            }
            var blockers = Rules.CertificationBlockers(snap.Facts(), tier.Value);
            if (blockers.Count > 0)
            {
                return blockers[0];
            }
            var certifier = await uow.Db.Principals.FirstAsync(p => p.Id == caller.PrincipalId, token);
            var key = VerifyingKey.FromPem(certifier.SigningKeyPem);
            if (!key.IsOk)
            {
                return ProtocolError.Validation("the certifier has no signing key registered");
            }
            if (request.KeyId is { } keyId && !string.Equals(keyId, key.Value.KeyId, StringComparison.OrdinalIgnoreCase))
            {
                return ProtocolError.Violation("certificate-signature",
                    $"keyId: the key given ({Short(keyId)}) is not the certifier's registered signing key ({Short(key.Value.KeyId)}); nothing was approved");
            }
            // One approval per case and tier, one signable certificate per case: a repeat is answered with the
            // approval already made (no second leaf); an approval at another tier or by another certifier withdraws
            // the unsigned one it replaces; once a certificate is issued the case takes no other.
            var open = await uow.Db.Certificates
                .Where(c => c.CaseId == id && (c.Status == CertificateStatus.Pending || c.Status == CertificateStatus.Issued))
                .OrderBy(c => c.CertificationIndex).ToListAsync(token);
            var same = open.FirstOrDefault(c => c.Tier == tier.Value.Name() && c.CertifierPrincipalId == caller.PrincipalId && SignedBy(c) == key.Value.KeyId);
            if (open.FirstOrDefault(c => c.Status == CertificateStatus.Issued) is { } issued)
            {
                return issued == same
                    ? Draft(issued)
                    : ProtocolError.Violation("case-phase", $"the case already has certificate {issued.Id} issued at {issued.Tier}; a case has one certificate");
            }
            if (same is not null)
            {
                return Draft(same);
            }
            var certificateId = Ids.New("cert");
            foreach (var replaced in open)
            {
                replaced.Status = CertificateStatus.Withdrawn;
                replaced.FlagReason = $"replaced by approval {certificateId} at {tier.Value.Name()} before it was signed";
                uow.Append("certification.withdrawn", new JsonObject
                {
                    ["certificate"] = replaced.Id, ["case"] = id, ["tier"] = replaced.Tier, ["replacedBy"] = certificateId,
                });
            }
            var model = await uow.Db.Models.FirstAsync(m => m.Id == snap.Version.ModelId, token);
            var developer = await uow.Db.Organisations.FirstAsync(o => o.Id == snap.Case.DeveloperOrganisationId, token);
            var certifierOrg = await uow.Db.Organisations.FirstAsync(o => o.Id == caller.OrganisationId, token);
            var signer = http.RequestServices.GetRequiredService<LedgerSigner>();
            // The argument the certificate rests on (every claim supported, or the blockers above would have refused).
            var safetyCase = snap.SafetyCase(tier.Value);
            var safetyCaseBytes = SafetyCases.Serialize(safetyCase);
            var safetyCaseDigest = Sha256Digest.Of(safetyCaseBytes).ToString();
            var index = uow.Append("certification.approved", new JsonObject
            {
                ["certificate"] = certificateId, ["case"] = id, ["manifestDigest"] = snap.Version.ManifestDigest, ["tier"] = tier.Value.Name(),
                ["certifier"] = caller.PrincipalId, ["certifierKeyId"] = key.Value.KeyId,
            });
            var statement = new InTotoStatement
            {
                Type = InTotoStatement.StatementType,
                Subject = [new StatementSubject
                {
                    Name = $"{developer.Name}/{model.Name}@{snap.Version.Version}",
                    Digest = new Dictionary<string, string> { ["sha256"] = Sha256Digest.Parse(snap.Version.ManifestDigest).Value.Hex },
                }],
                PredicateType = ReleasePredicate.Type,
                Predicate = new ReleasePredicate
                {
                    Tier = tier.Value.Name(),
                    Case = id,
                    Model = $"{model.Name}@{snap.Version.Version}",
                    Developer = developer.Name,
                    Weights = ModelEndpoints.Files(snap.Version).Select(f => new CertifiedFile { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
                    Findings = snap.Findings.Select(f => new CertifiedFinding
                    {
                        Id = f.Id,
                        Capability = f.Capability,
                        Title = f.Title,
                        Novel = f.Novel,
                        Uplift = snap.Evaluations.FirstOrDefault(e => e.Id == f.EvaluationId)?.Uplift,
                        P = snap.Evaluations.FirstOrDefault(e => e.Id == f.EvaluationId)?.P,
                        Mitigations = snap.Mitigations.Where(m => m.FindingId == f.Id).Select(m => new CertifiedMitigation
                        {
                            Id = m.Id, Party = m.PartyOrganisationId, Status = m.Status, Verification = m.VerificationEvaluationId,
                        }).ToList(),
                    }).ToList(),
                    ReferenceModel = snap.Reference.Name,
                    Certifier = new CertifierIdentity { Organisation = certifierOrg.Name, Principal = caller.PrincipalId, KeyId = key.Value.KeyId },
                    Ledger = new LedgerReference { Origin = signer.Origin, CertificationIndex = index },
                    IssuedAt = uow.Now,
                    SafetyCase = new SafetyCaseReference { Digest = safetyCaseDigest, MediaType = SafetyCase.MediaType },
                },
            };
            var bytes = Statements.Serialize(statement);
            uow.Db.Certificates.Add(new CertificateEntity
            {
                Id = certificateId,
                CaseId = id,
                ModelVersionId = snap.Version.Id,
                ManifestDigest = snap.Version.ManifestDigest,
                Tier = tier.Value.Name(),
                Status = CertificateStatus.Pending,
                StatementBase64 = Convert.ToBase64String(bytes),
                CertificationIndex = index,
                CertifierPrincipalId = caller.PrincipalId,
                CreatedAt = uow.Now,
                SafetyCaseDigest = safetyCaseDigest,
                SafetyCaseJson = System.Text.Encoding.UTF8.GetString(safetyCaseBytes),
                ControlScreensDigest = safetyCase.Claims.Any(c => c.Supported && c.Argument == SafetyCases.Control) ? snap.Gateway.ScreensDigest : null,
            });
            return new CertificationDraftDto
            {
                CertificateId = certificateId, CertificationIndex = index, Statement = Convert.ToBase64String(bytes), PayloadType = DsseEnvelope.InTotoPayloadType,
            };
        }, ct));
    }

    private static async Task<Results<Ok<CertificateDto>, ProblemHttpResult>> Submit(string id, SubmitCertificateRequest request, HttpContext http, LedgerWriter writer, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        return ApiResults.From(await writer.ExecuteAsync<CertificateDto>(caller, async (uow, token) =>
        {
            var certificate = await uow.Db.Certificates.FirstOrDefaultAsync(c => c.Id == id, token);
            if (certificate is null)
            {
                return ProtocolError.NotFound($"certificate {id}");
            }
            var certified = await CaseSnapshot.LoadAsync(uow.Db, certificate.CaseId, token);
            if (certified!.Decide(ProtocolAction.SignCertificate, caller) is { } denied)
            {
                return denied;
            }
            if (certificate.CertifierPrincipalId != caller.PrincipalId)
            {
                return ProtocolError.Forbidden("only the certifier who approved the case signs its certificate", "separation-of-duties");
            }
            if (certificate.Status == CertificateStatus.Flagged)
            {
                return ProtocolError.Violation("rule-5", $"certificate {id} was flagged for re-evaluation ({certificate.FlagReason}); it cannot be signed");
            }
            var envelope = DsseEnvelope.Parse(request.Envelope);
            if (!envelope.IsOk)
            {
                return envelope.Error!;
            }
            if (certificate.Status != CertificateStatus.Pending)
            {
                // A repeat of the submission that issued it is answered with the certificate; nothing else is signed again.
                return certificate.Status == CertificateStatus.Issued && certificate.EnvelopeJson == envelope.Value.ToJson()
                    ? ToDto(certificate, (await uow.Db.Principals.FirstAsync(p => p.Id == caller.PrincipalId, token)).SigningKeyPem)
                    : ProtocolError.Violation("case-phase", $"certificate {id} is {certificate.Status}; it can no longer be signed");
            }
            if (envelope.Value.PayloadType != DsseEnvelope.InTotoPayloadType)
            {
                return ProtocolError.Validation($"the envelope's payloadType must be {DsseEnvelope.InTotoPayloadType}");
            }
            var principal = await uow.Db.Principals.FirstAsync(p => p.Id == caller.PrincipalId, token);
            var payload = envelope.Value.Verify(VerifyingKey.FromPem(principal.SigningKeyPem).Value);
            if (!payload.IsOk)
            {
                return payload.Error!;
            }
            if (Convert.ToBase64String(payload.Value) != certificate.StatementBase64)
            {
                return ProtocolError.Validation("the signed payload is not the statement the certification approved");
            }
            var @case = await uow.Db.Cases.FirstAsync(c => c.Id == certificate.CaseId, token);
            if (@case.State != CaseState.Certification.Name())
            {
                return ProtocolError.Violation("case-phase", $"the case is {@case.State}; it is no longer awaiting certification");
            }
            certificate.Status = CertificateStatus.Issued;
            certificate.EnvelopeJson = envelope.Value.ToJson();
            certificate.IssuedIndex = uow.Append("certificate.issued", new JsonObject
            {
                ["certificate"] = id, ["case"] = certificate.CaseId, ["manifestDigest"] = certificate.ManifestDigest, ["tier"] = certificate.Tier,
                ["certificationIndex"] = certificate.CertificationIndex,
                ["statementSha256"] = Convert.ToHexStringLower(SHA256.HashData(payload.Value)),
                ["signatures"] = new JsonArray(envelope.Value.Signatures.Select(s => (JsonNode?)new JsonObject { ["keyid"] = s.KeyId, ["sig"] = s.Sig }).ToArray()),
            });
            return ToDto(certificate, principal.SigningKeyPem);
        }, ct));
    }

    private static CertificationDraftDto Draft(CertificateEntity c) => new()
    {
        CertificateId = c.Id, CertificationIndex = c.CertificationIndex, Statement = c.StatementBase64, PayloadType = DsseEnvelope.InTotoPayloadType, Status = c.Status,
    };

    /// <summary>The key id the drafted statement names for its certifier.</summary>
    private static string? SignedBy(CertificateEntity c)
    {
        var statement = Statements.Parse(Convert.FromBase64String(c.StatementBase64));
        return statement.IsOk ? statement.Value.Predicate.Certifier.KeyId : null;
    }

    private static string Short(string keyId) => keyId.Length > 16 ? keyId[..16] + "…" : keyId;

    internal static CertificateDto ToDto(CertificateEntity c, string? keyPem) => new()
    {
        Id = c.Id, CaseId = c.CaseId, ManifestDigest = c.ManifestDigest, Tier = c.Tier, Status = c.Status,
        CertificationIndex = c.CertificationIndex, IssuedIndex = c.IssuedIndex, Envelope = c.EnvelopeJson, CertifierKeyPem = keyPem, FlagReason = c.FlagReason,
    };

    private static async Task<Results<Ok<CertificateDto>, ProblemHttpResult>> Get(string id, EmbargoDb db, CancellationToken ct)
    {
        var c = await db.Certificates.AsNoTracking().FirstOrDefaultAsync(x => x.Id == id, ct);
        if (c is null)
        {
            return ApiResults.Problem(ProtocolError.NotFound($"certificate {id}"));
        }
        var key = await db.Principals.AsNoTracking().Where(p => p.Id == c.CertifierPrincipalId).Select(p => p.SigningKeyPem).FirstOrDefaultAsync(ct);
        return TypedResults.Ok(ToDto(c, key));
    }
}
