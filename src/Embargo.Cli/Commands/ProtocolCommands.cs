using System.CommandLine;
using Spectre.Console;
using Embargo.Cli.Infrastructure;
using Embargo.Protocol.Certificates;
using Embargo.Contracts;
using Embargo.Weights;
using static Embargo.Cli.Infrastructure.Common;
using Embargo.Text;

namespace Embargo.Cli.Commands;

/// <summary>One verb per protocol step, each a thin call to the server's API.</summary>
public static class ProtocolCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Organisations();
        yield return Models();
        yield return Cases();
        yield return Disclosures();
        yield return Mitigations();
        yield return Certify();
        yield return Release();
        yield return Violations();
    }

    private static Command Organisations()
    {
        var name = new Argument<string>("name");
        var org = Required("--org", "organisation id (org_…), or its exact name");
        var principalName = Required("--name", "principal name");
        var role = Required("--role", "developer | evaluator | regulator | affected-party | certifier");
        var key = new Option<string>("--signing-key") { Description = "certifier's Ed25519 public key PEM file" };
        var principalId = new Argument<string>("principal-id");
        var encryptionKey = new Option<string>("--encryption-key") { Description = "X25519 public key file (`embargo weights keygen`), to receive sealed weights keys" };
        return Group("org", "organisations and their principals (admin)",
            Verb("create", "create an organisation", [name],
                async (r, c, ct) => await c.Admin.CreateOrganisationAsync(new CreateOrganisationRequest { Name = r.GetValue(name)! }, ct)),
            Verb("add-principal", "create a principal with a role; prints its API token once", [org, principalName, role, key, encryptionKey],
                async (r, c, ct) => await c.Admin.CreatePrincipalAsync(new CreatePrincipalRequest
                {
                    OrganisationId = await OrganisationIdAsync(c, "--org", r.GetValue(org)!, ct), Name = r.GetValue(principalName)!, Role = r.GetValue(role)!,
                    SigningKeyPem = r.GetValue(key) is { } path ? ReadFile(path, "public key") : null,
                    EncryptionKey = r.GetValue(encryptionKey) is { } encPath ? ReadFile(encPath, "encryption key") : null,
                }, ct)),
            Verb("rotate-token", "give a principal a new API token (printed once); the old one stops working", [principalId],
                async (r, c, ct) => await c.Admin.RotateTokenAsync(r.GetValue(principalId)!, ct)),
            Verb("revoke", "revoke a principal's API token", [principalId],
                async (r, c, ct) => (await c.Admin.RevokeTokenAsync(r.GetValue(principalId)!, ct)).Principal),
            Verb("list", "list organisations (public)", [],
                async (r, c, ct) => await c.Organisations.ListAsync(ct)),
            Verb("bad-actors", "organisations publicly marked as bad actors", [],
                async (r, c, ct) => await c.Organisations.BadActorsAsync(ct)));
    }

    private static Command Models()
    {
        var name = new Argument<string>("name");
        var model = new Argument<string>("model-id");
        var version = Required("--version", "version label, e.g. 1.0");
        var weights = Required("--weights", "the model directory (hashed here; only the manifest is sent)");
        var refName = new Argument<string>("name");
        var versionId = new Argument<string>("model-version-id");
        var conditionName = Required("--name", "condition name, unique per version (e.g. ft-cyber)");
        var kind = Required("--kind", "base | fine-tuned | tool-augmented | assisted");
        var conditionUrl = Required("--model-url", "the OpenAI-compatible base URL it is served at");
        var conditionModel = Required("--model-name", "the model name at that endpoint");
        var strength = new Option<double>("--strength") { Description = "capability score; higher is stronger", Required = true };
        var modelOrName = new Argument<string>("model") { Description = "model id (mdl_…) or, if unique among the models you can see, its name" };
        var withdrawId = new Argument<string>("model-version-id");
        var reason = new Option<string>("--reason") { Description = "why (public: it goes on the ledger)" };
        return Group("model", "models, versions and reference models",
            Verb("register", "register a model (developer)", [name],
                async (r, c, ct) => await c.Models.RegisterAsync(new RegisterModelRequest { Name = r.GetValue(name)! }, ct)),
            Verb("list", "list the models you can see (your organisation's, and those of cases you take part in)", [],
                async (r, c, ct) => await c.Models.ListAsync(ct)),
            Verb("versions", "list a model's versions: label, id, weights digest, when registered, used by a case, withdrawn", [modelOrName],
                async (r, c, ct) =>
                {
                    var versions = await c.Models.VersionsAsync(await ModelIdAsync(c, r.GetValue(modelOrName)!, ct), ct);
                    return r.GetValue(Json) ? versions : versions.Select(VersionRow).ToList();
                }),
            Verb("withdraw", "withdraw a version no case has used (developer); its label and weights may be registered again", [withdrawId, reason],
                async (r, c, ct) =>
                {
                    var withdrawn = await c.Models.WithdrawVersionAsync(r.GetValue(withdrawId)!, new WithdrawVersionRequest { Reason = r.GetValue(reason) }, ct);
                    return r.GetValue(Json) ? withdrawn : VersionRow(withdrawn);
                }),
            Verb("add-version", "register a version by its weights manifest (developer)", [model, version, weights],
                async (r, c, ct) =>
                {
                    var path = WeightsPath(r.GetValue(weights)!);
                    var manifest = await BuildManifestAsync(path, ct);
                    return await c.Models.RegisterVersionAsync(r.GetValue(model)!, new RegisterVersionRequest
                    {
                        Version = r.GetValue(version)!,
                        ManifestDigest = manifest.Digest,
                        Files = manifest.Files.Select(f => new WeightsFileDto { Path = f.Path, Bytes = f.Bytes, Sha256 = f.Sha256 }).ToList(),
                        Fingerprints = ScanCommand.FingerprintDtos(FingerprintsOf(path, ct)),
                    }, ct);
                }),
            Verb("add-condition", "register a condition the version is evaluated as: base, a fine-tune, tool-augmented, assisted (developer)",
                [versionId, conditionName, kind, conditionUrl, conditionModel],
                async (r, c, ct) => await c.Models.RegisterConditionAsync(r.GetValue(versionId)!, new RegisterModelConditionRequest
                {
                    Name = r.GetValue(conditionName)!, Kind = r.GetValue(kind)!, Endpoint = PublicEndpoint(r.GetValue(conditionUrl)!), ModelName = r.GetValue(conditionModel)!,
                }, ct)),
            Verb("conditions", "list a version's registered conditions", [versionId],
                async (r, c, ct) => await c.Models.ConditionsAsync(r.GetValue(versionId)!, ct)),
            Verb("add-reference", "register a reference model; stronger ones flag older certificates (regulator)", [refName, strength],
                async (r, c, ct) => await c.Models.RegisterReferenceAsync(new RegisterReferenceModelRequest { Name = r.GetValue(refName)!, Strength = r.GetValue(strength) }, ct)),
            Verb("references", "list reference models, strongest first (a case opens with the strongest; rule 5)", [],
                async (r, c, ct) => await c.Models.ReferencesAsync(ct)));
    }

    /// <summary>
    /// An organisation given where its id is expected: an id (org_…) as is; otherwise the one organisation with exactly that
    /// name (the public list), said on stderr; no such name, or several, is a one-line error naming the option.
    /// </summary>
    public static async Task<string> OrganisationIdAsync(EmbargoClient client, string option, string given, CancellationToken ct)
    {
        if (given.StartsWith("org_", StringComparison.Ordinal))
        {
            return given;
        }
        var all = await client.Organisations.ListAsync(ct);
        var named = all.Where(o => o.Name == given).ToList();
        if (named.Count == 0)
        {
            named = all.Where(o => string.Equals(o.Name, given, StringComparison.OrdinalIgnoreCase)).ToList();
        }
        switch (named.Count)
        {
            case 1:
                Output.Note($"{option} '{given}' is organisation {named[0].Id}");
                return named[0].Id;
            case 0:
                throw new UserInputException($"{option} '{given}' is neither an organisation id (org_…) nor an organisation's name; embargo org list shows them");
            default:
                throw new UserInputException($"{option} '{given}' names {named.Count} organisations ({string.Join(", ", named.Select(o => o.Id))}); give the id");
        }
    }

    private static async Task<List<string>> OrganisationIdsAsync(EmbargoClient client, string option, IEnumerable<string> given, CancellationToken ct)
    {
        var ids = new List<string>();
        foreach (var one in given)
        {
            ids.Add(await OrganisationIdAsync(client, option, one, ct));
        }
        return ids;
    }

    /// <summary>One version as a table row: the label and id first, then what a developer checks before withdrawing it.</summary>
    private static object VersionRow(ModelVersionDto v) => new
    {
        Version = v.Version,
        Id = v.Id,
        Weights = v.ManifestDigest,
        Registered = v.RegisteredAt?.ToString("yyyy-MM-dd HH:mm'Z'", System.Globalization.CultureInfo.InvariantCulture) ?? "—",
        UsedBy = v.UsedByCases is { Count: > 0 } cases ? string.Join(", ", cases) : "—",
        Withdrawn = v.WithdrawnAt is { } at
            ? at.ToString("yyyy-MM-dd HH:mm'Z'", System.Globalization.CultureInfo.InvariantCulture) + (v.WithdrawalReason is { } why ? $" ({why})" : "")
            : "no",
    };

    /// <summary>A model id as given, or the id of the one visible model with that name; several or none is a one-line error.</summary>
    private static async Task<string> ModelIdAsync(EmbargoClient client, string given, CancellationToken ct)
    {
        if (given.StartsWith("mdl_", StringComparison.Ordinal))
        {
            return given;
        }
        var named = (await client.Models.ListAsync(ct)).Where(m => m.Name == given).ToList();
        return named.Count switch
        {
            1 => named[0].Id,
            0 => throw new UserInputException($"no model you can see is named or has the id '{given}' (embargo model list shows them)"),
            _ => throw new UserInputException($"{named.Count} models are named '{given}' ({string.Join(", ", named.Select(m => m.Id))}); give its id"),
        };
    }

    /// <summary>
    /// A --weights path for registration: a model directory, or a single weights file (safetensors or GGUF). A single
    /// other file (a config, a README, a tokenizer) is refused before anything is hashed or registered.
    /// </summary>
    public static string WeightsPath(string path)
    {
        if (File.Exists(path) && ManifestBuilder.DetectFormat(path) == "other")
        {
            throw new UserInputException($"--weights '{path}' is a single file that is not a weights file (safetensors or GGUF); give the model's directory or its .safetensors/.gguf file");
        }
        return path;
    }

    /// <summary>
    /// Endpoint URLs become public records: user info and the query string (where credentials hide) are removed
    /// before sending; credentials are given with --api-key-env where the endpoint is called.
    /// </summary>
    public static string PublicEndpoint(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
        {
            throw new UserInputException($"--model-url '{url}' is not an http(s) URL");
        }
        var stripped = Embargo.Protocol.EndpointUrls.Strip(parsed);
        if (stripped.AbsoluteUri != parsed.AbsoluteUri)
        {
            Console.Error.WriteLine("note: user info and query string removed from --model-url (they would be public); give credentials with --api-key-env");
        }
        return stripped.ToString();
    }

    /// <summary>The fingerprint of every float tensor under <paramref name="path"/>, from its values (streaming).</summary>
    public static IReadOnlyList<FingerprintedTensor> FingerprintsOf(string path, CancellationToken ct)
    {
        var fingerprints = Fingerprints.Compute(path, ct);
        return fingerprints.IsOk ? fingerprints.Value : throw new UserInputException(fingerprints.Error!.ToString());
    }

    public static async Task<WeightsManifest> BuildManifestAsync(string path, CancellationToken ct)
    {
        // Progress on stderr: a bar on a terminal, plain lines for large weights when redirected.
        var manifest = await WeightsCommands.WithProgress("hashing", p => ManifestBuilder.BuildAsync(path, p, ct));
        return manifest.IsOk ? manifest.Value : throw new UserInputException(manifest.Error!.ToString());
    }

    private static Command Cases()
    {
        var id = new Argument<string>("case-id");
        var version = Required("--version", "model version id");
        var tier = Required("--tier", "requested tier");
        var regulator = Required("--regulator", "regulator organisation id (org_…), or its exact name");
        var reference = Required("--reference", "reference model id");
        var evaluators = new Option<string[]>("--evaluator") { Description = "evaluator organisation id (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var to = Required("--to", "the next phase");
        var capability = Required("--capability", "capability name, e.g. cyber-phishing");
        var description = Required("--description", "what the threat is");
        var affected = new Option<string[]>("--affected") { Description = "affected-party organisation ids", Required = true, AllowMultipleArgumentsPerToken = true };
        var steps = new Option<string[]>("--step") { Description = "a misuse step (repeatable)" };
        var expression = new Argument<string>("expression");
        var threat = Required("--threat-model", "threat model id");
        var evaluation = Required("--evaluation", "evaluation id (the evidence)");
        var title = Required("--title", "finding title");
        var reason = Required("--reason", "why");
        var threatId = new Argument<string>("threat-model-id");
        var stateFilter = new Option<string>("--state") { Description = "only cases in this phase" };
        var referenceUrl = Required("--reference-url", "the reference model's OpenAI-compatible base URL");
        var referenceName = Required("--reference-name", "the reference model's name");
        var apiKeyEnv = new Option<string>("--api-key-env") { Description = "environment variable holding the reference model's API key" };
        var draftCapability = Required("--capability", "capability name, e.g. cyber-phishing");
        var draftDescription = Required("--description", "what the threat is");
        var acceptAffected = new Option<string[]>("--affected") { Description = "affected-party organisation ids", Required = true, AllowMultipleArgumentsPerToken = true };
        var editedSteps = new Option<string[]>("--step") { Description = "replace the drafted steps (repeatable)" };
        var margin = new Option<double?>("--margin") { Description = "δ, the smallest uplift that matters for this capability (0–1, default 0.05): a verdict 'not-novel' needs the one-sided 95% upper bound below it" };
        var summary = new Argument<string>("summary-json") { Description = "a SubmitEvaluationRequest JSON file (what `embargo eval run --case` sends)" };
        var logEvaluation = new Argument<string>("evaluation-id");
        var logOut = Required("--out", "where to write the run's log (it holds transcripts: keep it private)");
        var runLog = new Option<string>("--log") { Description = "the run's log file: uploaded to the case first and cited by its sha256 (the server records only what it recomputes from a log)" };
        var strongerReference = Required("--reference", "the stronger reference model id (the strongest registered)");
        var liftReason = Required("--reason", "why the denial no longer holds (logged publicly)");
        return Group("case", "release cases",
            Verb("open", "open a case for a model version (developer)", [version, tier, regulator, reference, evaluators],
                async (r, c, ct) => await c.Cases.OpenAsync(new OpenCaseRequest
                {
                    ModelVersionId = r.GetValue(version)!, RequestedTier = r.GetValue(tier)!, RegulatorOrganisationId = await OrganisationIdAsync(c, "--regulator", r.GetValue(regulator)!, ct), ReferenceModelId = r.GetValue(reference)!,
                    EvaluatorOrganisationIds = await OrganisationIdsAsync(c, "--evaluator", r.GetValue(evaluators)!, ct),
                }, ct)),
            Verb("list", "list cases, newest first", [stateFilter],
                async (r, c, ct) => await c.Cases.ListAsync(r.GetValue(stateFilter), ct)),
            Verb("show", "show a case and what still blocks its certificate", [id],
                async (r, c, ct) => await c.Cases.GetAsync(r.GetValue(id)!, ct)),
            Verb("advance", "move a case to its next phase", [id, to],
                async (r, c, ct) => await c.Cases.AdvanceAsync(r.GetValue(id)!, new AdvanceCaseRequest { To = r.GetValue(to)! }, ct)),
            Verb("threat-model", "add a threat model with its affected parties", [id, capability, description, affected, steps, margin],
                async (r, c, ct) => await c.Cases.AddThreatModelAsync(r.GetValue(id)!, new AddThreatModelRequest
                {
                    Capability = r.GetValue(capability)!, Description = r.GetValue(description)!, AffectedParties = await OrganisationIdsAsync(c, "--affected", r.GetValue(affected)!, ct), Steps = r.GetValue(steps) ?? [],
                    Margin = r.GetValue(margin),
                }, ct)),
            Verb("draft-threat-model", "ask the reference model for misuse steps and store them as a draft (never accepted automatically)",
                [id, draftCapability, draftDescription, referenceUrl, referenceName, apiKeyEnv, margin],
                async (r, c, ct) =>
                {
                    if (!Uri.TryCreate(r.GetValue(referenceUrl), UriKind.Absolute, out var url))
                    {
                        throw new UserInputException($"--reference-url '{r.GetValue(referenceUrl)}' is not a URL");
                    }
                    var key = r.GetValue(apiKeyEnv) is { } variable ? Environment.GetEnvironmentVariable(variable) : null;
                    var reference = Embargo.Evaluation.ChatClientFactory.Create(new Embargo.Evaluation.ModelEndpoint { Url = url, Name = r.GetValue(referenceName)!, ApiKey = key });
                    var draft = await Embargo.Evaluation.ThreatModelDrafter.DraftAsync(reference, r.GetValue(draftCapability)!, r.GetValue(draftDescription)!, ct);
                    return await c.Cases.DraftThreatModelAsync(r.GetValue(id)!, new DraftThreatModelRequest
                    {
                        Capability = r.GetValue(draftCapability)!, Description = r.GetValue(draftDescription)!, Steps = draft.Steps, ReferenceModel = r.GetValue(referenceName)!,
                        Margin = r.GetValue(margin),
                    }, ct);
                }),
            Verb("accept-threat-model", "accept a draft threat model, naming its affected parties, optionally with edited steps (evaluator)",
                [id, threatId, acceptAffected, editedSteps, margin],
                async (r, c, ct) => await c.Cases.AcceptThreatModelAsync(r.GetValue(id)!, r.GetValue(threatId)!, new AcceptThreatModelRequest
                {
                    AffectedParties = await OrganisationIdsAsync(c, "--affected", r.GetValue(acceptAffected)!, ct), Steps = r.GetValue(editedSteps) is { Length: > 0 } s ? s : null,
                    Margin = r.GetValue(margin),
                }, ct)),
            Verb("commit", "add an if-then commitment, e.g. 'uplift(\"x\") >= 0.1 and p(\"x\") < 0.05 => max_tier(hosted)'", [id, expression],
                async (r, c, ct) => await c.Cases.AddCommitmentAsync(r.GetValue(id)!, new AddCommitmentRequest { Expression = r.GetValue(expression)! }, ct)),
            Verb("submit-eval", "submit an evaluation result file with its run log", [id, summary, runLog],
                async (r, c, ct) =>
                {
                    var request = ReadJson<SubmitEvaluationRequest>(r.GetValue(summary)!, "evaluation summary");
                    if (r.GetValue(runLog) is { } logPath)
                    {
                        var uploaded = await c.Cases.UploadEvaluationLogAsync(r.GetValue(id)!, ReadBytes(logPath, "run log"), ct);
                        request = request with { LogSha256 = uploaded.Sha256 };
                    }
                    return await c.Cases.SubmitEvaluationAsync(r.GetValue(id)!, request, ct);
                }),
            Verb("eval-log", "download an evaluation's run log (the case's regulator, or its certifier in certification); check it with certify --logs", [logEvaluation, logOut],
                async (r, c, ct) =>
                {
                    var bytes = await c.Evaluations.LogAsync(r.GetValue(logEvaluation)!, ct);
                    await File.WriteAllBytesAsync(r.GetValue(logOut)!, bytes, ct);
                    return new { Evaluation = r.GetValue(logEvaluation)!, Log = r.GetValue(logOut)!, Bytes = bytes.Length, Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) };
                }),
            Verb("finding", "record a finding backed by an evaluation", [id, threat, evaluation, title],
                async (r, c, ct) => await c.Cases.RecordFindingAsync(r.GetValue(id)!, new RecordFindingRequest
                {
                    ThreatModelId = r.GetValue(threat)!, EvaluationId = r.GetValue(evaluation)!, Title = r.GetValue(title)!,
                }, ct)),
            Verb("deny", "deny the requested tier (regulator)", [id, reason],
                async (r, c, ct) => await c.Cases.DenyAsync(r.GetValue(id)!, new DenyRequest { Reason = r.GetValue(reason)! }, ct)),
            Verb("reevaluate", "move a case to a stronger reference model; it re-enters testing (developer or the case's regulator; rule 5)", [id, strongerReference],
                async (r, c, ct) => await c.Cases.ReevaluateAsync(r.GetValue(id)!, new ReevaluateCaseRequest { ReferenceModelId = r.GetValue(strongerReference)! }, ct)),
            Verb("lift-denial", "lift a denial of this case's version and tier, with a reason (the regulator that denied; rule 11)", [id, liftReason],
                async (r, c, ct) => await c.Cases.LiftDenialAsync(r.GetValue(id)!, new LiftDenialRequest { Reason = r.GetValue(liftReason)! }, ct)),
            SafetyCase(id));
    }

    /// <summary>`embargo case safety-case ID`: the case's safety case now, or with --certificate the exact one a certificate names.</summary>
    private static Command SafetyCase(Argument<string> id)
    {
        var tier = new Option<string>("--tier") { Description = "the tier to argue (default: the case's requested tier)" };
        var format = new Option<string>("--format") { Description = "json (the exact canonical bytes a certificate's digest is of), svg (a GSN-style diagram) or md", DefaultValueFactory = _ => "json" };
        format.AcceptOnlyFromAmong("json", "svg", "md");
        var certificate = new Option<string>("--certificate") { Description = "the safety case this certificate was issued on (instead of the case's current one)" };
        var output = new Option<string>("--out") { Description = "write it here (default: standard output)" };
        var command = new Command("safety-case", "the case's safety case: one claim per threat model, each argued by inability, control, containment or mitigation, with its evidence or what is missing")
            { id, tier, format, certificate, output, Common.Server, TokenEnv };
        command.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            var document = r.GetValue(certificate) is { } certificateId
                ? await client.Certificates.SafetyCaseAsync(certificateId, r.GetValue(format)!, ct)
                : await client.Cases.SafetyCaseAsync(r.GetValue(id)!, r.GetValue(tier), r.GetValue(format)!, ct);
            await WriteDocumentAsync(document, r.GetValue(output), ct);
            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>A document fetched as bytes: written to <paramref name="path"/> (a one-line error if it cannot be), else to standard output.</summary>
    private static async Task WriteDocumentAsync(byte[] document, string? path, CancellationToken ct)
    {
        if (path is null)
        {
            await using var stdout = Console.OpenStandardOutput();
            await stdout.WriteAsync(document, ct);
            return;
        }
        try
        {
            await File.WriteAllBytesAsync(path, document, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot write '{path}': {e.Message}");
        }
        Output.Note($"wrote {path}");
    }

    public static T ReadJson<T>(string path, string what)
    {
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<T>(ReadFile(path, "JSON file"), EmbargoClient.Json)
                ?? throw new UserInputException($"{path} is empty");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new UserInputException($"{path} is not a valid {what}: {JsonErrorText.Describe(e)}");
        }
    }

    private static Command Disclosures()
    {
        var finding = new Argument<string>("finding-id");
        var title = Required("--title", "public advisory title (no reproduction detail)");
        var summary = Required("--summary", "public advisory summary (no reproduction detail)");
        var disclosure = new Argument<string>("disclosure-id");
        var detail = new Option<string>("--detail") { Description = "a file of private detail, sealed here to every X25519 key of every recipient organisation (the server sees only ciphertext)", Required = true };
        var identity = Required("--identity", "your X25519 private key file (`embargo weights keygen`)");
        var output = new Option<string>("--out") { Description = "write the opened detail here (default: standard output)" };
        var unacknowledged = new Option<bool>("--unacknowledged") { Description = "only disclosures a recipient has not acknowledged yet" };
        return Group("disclosure", "disclose findings and acknowledge them",
            Verb("create", "disclose a finding to the regulator and its affected parties", [finding, title, summary, detail],
                async (r, c, ct) => await c.Disclosures.DiscloseAsync(r.GetValue(finding)!, new DiscloseRequest
                {
                    AdvisoryTitle = r.GetValue(title)!, AdvisorySummary = r.GetValue(summary)!,
                    Sealed = await DisclosureSealing.SealForRecipientsAsync(c, r.GetValue(finding)!, await ReadBytesAsync(r.GetValue(detail)!, ct), ct),
                }, ct)),
            OpenDetail(disclosure, identity, output),
            Export(disclosure),
            Verb("ack", "acknowledge a disclosure addressed to your organisation", [disclosure],
                async (r, c, ct) => await c.Disclosures.AcknowledgeAsync(r.GetValue(disclosure)!, ct)),
            InboxList(unacknowledged),
            Verb("advisories", "public advisories", [],
                async (r, c, ct) => await c.Disclosures.AdvisoriesAsync(ct)));
    }

    /// <summary>`disclosure list [--unacknowledged]`: the caller's inbox as a table whose ids stay on one line (`--json`: every member).</summary>
    private static Command InboxList(Option<bool> unacknowledged)
    {
        var command = new Command("list", "your disclosures (a recipient: those addressed to it; the regulator: every recipient of its cases; the disclosing side: what it sent), unacknowledged first, then by deadline")
        {
            unacknowledged, Common.Server, TokenEnv, Json,
        };
        command.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            var items = await client.Disclosures.ListAsync(r.GetValue(unacknowledged), ct);
            if (r.GetValue(Json))
            {
                Output.Write(items, json: true);
                return CliApp.Ok;
            }
            static string Day(DateTimeOffset? at) => at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) : "—";
            var table = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.Rounded)
                .AddColumn(new Spectre.Console.TableColumn("disclosure").NoWrap())
                .AddColumn(new Spectre.Console.TableColumn("case").NoWrap())
                .AddColumn("recipient").AddColumn("ack").AddColumn("deadline").AddColumn("reminded").AddColumn("capability");
            foreach (var i in items)
            {
                table.AddRow(new[] { i.DisclosureId, i.CaseId, i.RecipientName, i.Acknowledged ? "yes" : "no", Day(i.Deadline), Day(i.RemindedAt), i.Capability }
                    .Select(text => Spectre.Console.Markup.Escape(Output.Safe(text))).ToArray());
            }
            Spectre.Console.AnsiConsole.Write(table);
            return CliApp.Ok;
        });
        return command;
    }

    /// <summary>`disclosure export ID --format csaf [--out FILE]`: the public CSAF 2.0 advisory, the server's exact bytes (no token needed).</summary>
    private static Command Export(Argument<string> disclosure)
    {
        var format = new Option<string>("--format") { Description = "csaf (CSAF 2.0 csaf_security_advisory, TLP:CLEAR)", DefaultValueFactory = _ => "csaf" };
        format.AcceptOnlyFromAmong("csaf");
        var output = new Option<string>("--out") { Description = "write the advisory here (default: standard output)" };
        var command = new Command("export", "the public advisory of a disclosure as a CSAF 2.0 document (no reproduction detail)") { disclosure, format, output, Common.Server, TokenEnv };
        command.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            var document = await client.Disclosures.CsafAsync(r.GetValue(disclosure)!, ct);
            await WriteDocumentAsync(document, r.GetValue(output), ct);
            return CliApp.Ok;
        });
        return command;
    }

    private static Command OpenDetail(Argument<string> disclosure, Option<string> identity, Option<string> output)
    {
        var command = new Command("open", "fetch and open the private detail sealed to your organisation") { disclosure, identity, output, Common.Server, TokenEnv };
        command.SetAction(async (r, ct) =>
        {
            using var client = Client(r);
            var plaintext = await DisclosureSealing.OpenAsync(client, r.GetValue(disclosure)!, r.GetValue(identity)!, ct);
            if (r.GetValue(output) is { } path)
            {
                await File.WriteAllBytesAsync(path, plaintext, ct);
            }
            else
            {
                Console.Out.Write(System.Text.Encoding.UTF8.GetString(plaintext));
            }
            return CliApp.Ok;
        });
        return command;
    }

    private static async Task<byte[]> ReadBytesAsync(string path, CancellationToken ct)
    {
        try
        {
            return await File.ReadAllBytesAsync(path, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"cannot read '{path}': {e.Message}");
        }
    }

    private static Command Mitigations()
    {
        var id = new Argument<string>("mitigation-id");
        var due = new Option<DateTimeOffset>("--due") { Description = "deadline (ISO 8601)", Required = true };
        var description = Required("--description", "what was done");
        var evaluation = Required("--evaluation", "the verification run's evaluation id");
        var amount = new Option<decimal>("--amount") { Required = true };
        var currency = Required("--currency", "ISO 4217 code");
        var reason = Required("--reason", "why");
        return Group("mitigation", "mitigations, deadlines, escalations and fines",
            Verb("deadline", "set or change a deadline (regulator only)", [id, due],
                async (r, c, ct) => await c.Mitigations.SetDeadlineAsync(r.GetValue(id)!, new SetDeadlineRequest { DueAt = r.GetValue(due) }, ct)),
            Verb("report", "report a mitigation done (its affected party)", [id, description],
                async (r, c, ct) => await c.Mitigations.ReportAsync(r.GetValue(id)!, new ReportMitigationRequest { Description = r.GetValue(description)! }, ct)),
            Verb("verify", "verify with a re-run against the mitigated system (evaluator)", [id, evaluation],
                async (r, c, ct) => await c.Mitigations.VerifyAsync(r.GetValue(id)!, new VerifyMitigationRequest { EvaluationId = r.GetValue(evaluation)! }, ct)),
            Verb("fine", "fine the party of an escalated mitigation (regulator)", [id, amount, currency, reason],
                async (r, c, ct) => await c.Mitigations.FineAsync(r.GetValue(id)!, new FineRequest { Amount = r.GetValue(amount), Currency = r.GetValue(currency)!, Reason = r.GetValue(reason)! }, ct)),
            Verb("escalate", "escalate every overdue mitigation now (regulator)", [],
                async (r, c, ct) => await c.Mitigations.EscalateAsync(ct)));
    }

    private static Command Certify()
    {
        var id = new Argument<string>("case-id");
        var tier = Required("--tier", "the tier to certify");
        var key = Required("--key", "the certifier's Ed25519 private key PEM (never sent)");
        var output = new Option<string>("--out") { Description = "write the DSSE certificate here" };
        var weights = new Option<string>("--weights") { Description = "the weights directory: the statement's subject and files must match these files on disk" };
        var logs = new Option<string>("--logs") { Description = "a directory of the case's run logs (GET /api/evaluations/{id}/log): every evaluation's figures are recomputed from its log (matched by sha256) and must equal what the server recorded" };
        var omsKey = new Option<string>("--oms-key") { Description = "also write an OpenSSF Model Signing v1.0 bundle for the certified weights, signed with this ECDSA P-256 private key PEM (`embargo keygen --type ecdsa-p256`)" };
        var omsOut = new Option<string>("--oms-out") { Description = "where the OMS bundle goes (default: model.sig)", DefaultValueFactory = _ => "model.sig" };
        return Verb("certify", "approve a case, check the drafted statement, sign it locally and submit it (certifier)", [id, tier, key, output, weights, logs, omsKey, omsOut],
            async (r, c, ct) =>
            {
                using var signingKey = LoadSigningKey(r.GetValue(key)!);
                // The OMS key is read before anything is asked of the server: a wrong key changes nothing.
                using var oms = r.GetValue(omsKey) is { } omsPath ? LoadOmsKey(omsPath) : null;
                // What is about to be signed goes to stdout, or to stderr when stdout carries JSON.
                var report = r.GetValue(Json) ? Console.Error : Console.Out;
                var certificate = await CertifyAsync(c, r.GetValue(id)!, r.GetValue(tier)!, signingKey, r.GetValue(weights), r.GetValue(logs), report, ct);
                var path = r.GetValue(output);
                if (path is not null)
                {
                    await File.WriteAllTextAsync(path, certificate.Envelope + "\n", ct);
                }
                if (oms is not null)
                {
                    var modelName = r.GetValue(weights) is { } dir ? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir))) : certificate.Id;
                    await WriteOmsAsync(certificate.Envelope!, modelName, oms, r.GetValue(omsOut)!, ct);
                    report.WriteLine($"OpenSSF Model Signing bundle for the certified weights: {r.GetValue(omsOut)} (verify: embargo verify --oms {r.GetValue(omsOut)} --oms-key PUB.pem --weights DIR)");
                }
                // Scripts get the whole certificate; a person gets what was certified and where the envelope is
                // (plain lines: a digest or a path in a table cell would be wrapped).
                if (r.GetValue(Json))
                {
                    return certificate;
                }
                Console.Out.WriteLine(Output.Safe($"certificate {certificate.Id} {certificate.Status}: case {certificate.CaseId}, tier {certificate.Tier}"
                    + (certificate.IssuedIndex is { } leaf ? $", ledger leaf {leaf}" : "")));
                Console.Out.WriteLine(Output.Safe($"  weights  {certificate.ManifestDigest}"));
                Console.Out.WriteLine(Output.Safe(path is not null
                    ? $"  written  {Path.GetFullPath(path)}"
                    : "  not saved: give --out FILE to keep the envelope (embargo verify reads it)"));
                return Output.AlreadyPrinted.Instance;
            });
    }

    /// <summary>An ECDSA private key PEM on a curve OMS allows (P-256 is what `embargo keygen --type ecdsa-p256` writes).</summary>
    public static System.Security.Cryptography.ECDsa LoadOmsKey(string path)
    {
        var key = System.Security.Cryptography.ECDsa.Create();
        try
        {
            key.ImportFromPem(ReadFile(path, "OMS private key"));
        }
        catch (Exception e) when (e is ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            key.Dispose();
            throw new UserInputException($"{path}: not an ECDSA private key PEM");
        }
        if (OpenModelSigning.HashFor(key) is null)
        {
            key.Dispose();
            throw new UserInputException($"{path}: an OMS key must be ECDSA on P-256, P-384 or P-521");
        }
        return key;
    }

    /// <summary>Writes the OMS v1.0 bundle for the weights the certificate names.</summary>
    public static async Task WriteOmsAsync(string certificateEnvelope, string modelName, System.Security.Cryptography.ECDsa key, string path, CancellationToken ct)
    {
        var bundle = OpenModelSigning.SignCertified(certificateEnvelope, modelName, key);
        if (!bundle.IsOk)
        {
            throw new CommandFailedException($"cannot write the OMS bundle: {bundle.Error!.Message}");
        }
        await File.WriteAllTextAsync(path, bundle.Value, ct);
    }

    public static SigningKey LoadSigningKey(string path)
    {
        var key = SigningKey.FromPem(ReadFile(path, "private key"));
        return key.IsOk ? key.Value : throw new UserInputException($"{path}: {key.Error!.Message}");
    }

    public static Task<CertificateDto> CertifyAsync(EmbargoClient client, string caseId, string tier, SigningKey key, CancellationToken ct) =>
        CertifyAsync(client, caseId, tier, key, weightsDirectory: null, report: null, ct);

    /// <summary>
    /// The certifier's side of certification. It reads the case and the version's registered weights, checks the
    /// weights on disk against them (when given) before asking for anything, asks for the approval naming the key it
    /// will sign with (the server refuses any other key, logging nothing), then checks the drafted statement —
    /// subject digest, files, case, tier, certifier key — prints what it is about to sign, and signs only when all
    /// hold. A mismatch is a one-line refusal and nothing is signed or submitted; the approval is reused next time.
    /// </summary>
    public static Task<CertificateDto> CertifyAsync(EmbargoClient client, string caseId, string tier, SigningKey key, string? weightsDirectory, TextWriter? report, CancellationToken ct) =>
        CertifyAsync(client, caseId, tier, key, weightsDirectory, logsDirectory: null, report, ct);

    /// <summary>The same, and with <paramref name="logsDirectory"/> every evaluation is first recomputed from its log (see <see cref="CheckLogsAsync"/>).</summary>
    public static async Task<CertificateDto> CertifyAsync(EmbargoClient client, string caseId, string tier, SigningKey key, string? weightsDirectory, string? logsDirectory,
        TextWriter? report, CancellationToken ct)
    {
        var @case = await client.Cases.GetAsync(caseId, ct);
        var version = await client.Models.GetVersionAsync(@case.ModelVersionId, ct);
        var registered = new WeightsEvidence(version.ManifestDigest, version.Files.Select(f => (f.Path, f.Sha256)).ToList());
        if (!string.Equals(@case.ManifestDigest, version.ManifestDigest, StringComparison.OrdinalIgnoreCase))
        {
            throw Refuse($"subject digest: case {caseId} names {@case.ManifestDigest}, its version's registered manifest is {version.ManifestDigest}");
        }
        WeightsEvidence? onDisk = null;
        if (weightsDirectory is not null)
        {
            var manifest = await BuildManifestAsync(weightsDirectory, ct);
            onDisk = new(manifest.Digest, manifest.Files.Select(f => (f.Path, f.Sha256)).ToList());
            if (!string.Equals(manifest.Digest, version.ManifestDigest, StringComparison.OrdinalIgnoreCase))
            {
                throw Refuse($"weights: {weightsDirectory} has manifest digest {manifest.Digest}, the version's registered manifest is {version.ManifestDigest}");
            }
        }

        if (logsDirectory is not null)
        {
            await CheckLogsAsync(@case, logsDirectory, report, ct);
        }

        var draft = await client.Certificates.ApproveAsync(caseId,
            new CertificationRequest { Tier = tier, KeyId = key.PublicKey.KeyId }, ct);
        byte[] statementBytes;
        try
        {
            statementBytes = Convert.FromBase64String(draft.Statement);
        }
        catch (FormatException)
        {
            throw Refuse("statement: the drafted statement is not base64");
        }
        var checkedStatement = DraftCheck.Check(draft.PayloadType, statementBytes, new DraftExpectation
        {
            CaseId = caseId, Tier = tier, Registered = registered, OnDisk = onDisk, KeyId = key.PublicKey.KeyId,
        });
        if (!checkedStatement.IsOk)
        {
            throw Refuse(checkedStatement.Error!.Message);
        }
        if (report is not null)
        {
            Describe(report, checkedStatement.Value, draft);
        }
        if (draft.Status == "issued")
        {
            // A repeat of an approval already signed: the certificate stands; it is checked, not signed again.
            var existing = await client.Certificates.GetAsync(draft.CertificateId, ct);
            var envelope = DsseEnvelope.Parse(existing.Envelope ?? "");
            if (!envelope.IsOk || envelope.Value.Payload != draft.Statement || !envelope.Value.Verify(key.PublicKey).IsOk)
            {
                throw Refuse($"certificate {draft.CertificateId} is issued but its envelope is not this statement signed by this key");
            }
            return existing;
        }
        var signed = DsseEnvelope.Sign(statementBytes, draft.PayloadType, key);
        return await client.Certificates.SignAsync(draft.CertificateId, new SubmitCertificateRequest { Envelope = signed.ToJson() }, ct);
    }

    /// <summary>
    /// The certifier's own recomputation: every evaluation of the case is matched by sha256 to a log in
    /// <paramref name="directory"/>, its figures recomputed from the log's per-sample records with the engine, and compared
    /// with what the server recorded. A figure that differs, or an evaluation whose log is not there, refuses to sign
    /// (naming the evaluation and the figure), before anything is approved.
    /// </summary>
    public static async Task CheckLogsAsync(CaseDto @case, string directory, TextWriter? report, CancellationToken ct)
    {
        if (!Directory.Exists(directory))
        {
            throw new UserInputException($"--logs: {directory} is not a directory");
        }
        var bySha = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(directory, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            bySha.TryAdd(Convert.ToHexStringLower(await System.Security.Cryptography.SHA256.HashDataAsync(stream, ct)), file);
        }
        var missing = new List<string>();
        foreach (var e in @case.Evaluations)
        {
            if (e.LogSha256 is not { } sha || !bySha.TryGetValue(sha.ToLowerInvariant(), out var file))
            {
                missing.Add($"{e.Id} ({e.Capability}, log sha256 {e.LogSha256 ?? "not recorded"})");
                continue;
            }
            if (!Embargo.Evaluation.Running.LogEvidence.TryRead(await File.ReadAllBytesAsync(file, ct), out var log, out var problem)
                || !Embargo.Evaluation.Running.LogEvidence.TryRecompute(log, Embargo.Evaluation.Statistics.Verdicts.DefaultMargin, out var summary, out problem))
            {
                throw Refuse($"evaluation {e.Id}: its log {file} is not a whole run: {problem}");
            }
            if (EvidenceFigures.FirstDifference(EvidenceFigures.Of(e), Demo.EvalSubmission.Figures(summary)) is { } d)
            {
                throw Refuse($"evaluation {e.Id}: {d.Member} is recorded as {d.Claimed} but its log {Path.GetFileName(file)} gives {d.Actual}");
            }
        }
        if (missing.Count > 0)
        {
            throw Refuse($"logs: {directory} has no log for evaluation {string.Join("; ", missing)}");
        }
        report?.WriteLine($"recomputed {@case.Evaluations.Count} evaluations from their logs in {Output.Safe(directory)}: every figure matches what the server recorded");
    }

    private static byte[] ReadBytes(string path, string what)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new UserInputException($"cannot read {what} '{path}': {e.Message}");
        }
    }

    private static CommandFailedException Refuse(string what) => new($"refusing to sign: {Output.Safe(what)}");

    private static void Describe(TextWriter report, InTotoStatement s, CertificationDraftDto draft)
    {
        var p = s.Predicate;
        report.WriteLine($"about to sign certificate {Output.Safe(draft.CertificateId)} (certification event at ledger index {draft.CertificationIndex}):");
        report.WriteLine($"  model     {Output.Safe(s.Subject[0].Name)} ({Output.Safe(p.Model)}, developer {Output.Safe(p.Developer)})");
        report.WriteLine($"  digest    sha256:{Output.Safe(s.Subject[0].Digest["sha256"])} ({p.Weights.Count} files)");
        report.WriteLine($"  tier      {Output.Safe(p.Tier)}");
        report.WriteLine($"  case      {Output.Safe(p.Case)}");
        report.WriteLine($"  reference {Output.Safe(p.ReferenceModel)}");
        report.WriteLine($"  findings  {(p.Findings.Count == 0 ? "none" : p.Findings.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))}");
        foreach (var f in p.Findings)
        {
            var mitigations = f.Mitigations.Count == 0 ? "no mitigations" : string.Join(", ", f.Mitigations.Select(m => $"{Output.Safe(m.Id)} {Output.Safe(m.Status)}"));
            report.WriteLine($"    {Output.Safe(f.Id)} {Output.Safe(f.Capability)}: {(f.Novel ? "novel" : "not novel")}; {mitigations}; \"{Output.Safe(f.Title)}\"");
        }
    }

    private static Command Release()
    {
        var version = new Argument<string>("model-version-id");
        var tier = Required("--tier", "the tier to release at");
        return Verb("release", "release a model version at a tier (needs a valid certificate)", [version, tier],
            async (r, c, ct) => await c.Releases.ReleaseAsync(new ReleaseRequest { ModelVersionId = r.GetValue(version)!, Tier = r.GetValue(tier)! }, ct));
    }

    private static Command Violations()
    {
        var weights = new Option<string>("--weights") { Description = "the weights seen (hashed here; the scan is sent as evidence)" };
        var evidence = new Option<string>("--evidence") { Description = "a scan result as JSON ({manifestDigest, files:[{path, bytes, sha256}], tensors?}) instead of --weights" };
        var tier = Required("--tier", "the tier they were seen at (e.g. open)");
        var source = Required("--source", "where they were seen: a URL or a description");
        var id = new Argument<string>("violation-id");
        var reason = Required("--reason", "why (logged)");
        var statement = Required("--statement", "the developer's statement (public, logged)");
        var uphold = new Option<bool>("--uphold") { Description = "uphold the dispute: the violation is overturned, the mark lifted if nothing else stands" };
        var reject = new Option<bool>("--reject") { Description = "reject the dispute: the violation stands" };
        var status = new Option<string>("--status") { Description = "pending | rejected | confirmed | overturned | lifted" };
        var org = new Option<string>("--org") { Description = "only this developer organisation's" };
        var orgId = new Argument<string>("organisation-id");
        return Group("violation", "rule 4: sightings of weights released without a certificate, and due process",
            Verb("report", "report a sighting with its evidence; it stays pending (nobody marked) until a regulator confirms it", [weights, evidence, tier, source],
                async (r, c, ct) => await c.Violations.ReportAsync(new ReportViolationRequest
                {
                    ObservedTier = r.GetValue(tier)!, Source = r.GetValue(source)!, Evidence = await SightingEvidenceAsync(r.GetValue(weights), r.GetValue(evidence), ct),
                }, ct)),
            Verb("list", "sightings and violations you may see (public ones without a token)", [status, org],
                async (r, c, ct) => await c.Violations.ListAsync(r.GetValue(status), r.GetValue(org), ct)),
            Verb("show", "one sighting or violation with its evidence, decisions and disputes", [id],
                async (r, c, ct) => await c.Violations.GetAsync(r.GetValue(id)!, ct)),
            Verb("confirm", "confirm a pending sighting: a public violation, the developer marked (regulator of the version's cases)", [id, reason],
                async (r, c, ct) => await c.Violations.ConfirmAsync(r.GetValue(id)!, new ViolationDecisionRequest { Reason = r.GetValue(reason)! }, ct)),
            Verb("reject", "reject a pending sighting: nobody is marked (regulator of the version's cases)", [id, reason],
                async (r, c, ct) => await c.Violations.RejectAsync(r.GetValue(id)!, new ViolationDecisionRequest { Reason = r.GetValue(reason)! }, ct)),
            Verb("dispute", "dispute a confirmed violation, once (the marked developer)", [id, statement],
                async (r, c, ct) => await c.Violations.DisputeAsync(r.GetValue(id)!, new DisputeViolationRequest { Statement = r.GetValue(statement)! }, ct)),
            Verb("decide", "decide a dispute: --uphold or --reject, with --reason (regulator of the version's cases)", [id, uphold, reject, reason],
                async (r, c, ct) =>
                {
                    if (r.GetValue(uphold) == r.GetValue(reject))
                    {
                        throw new UserInputException("give exactly one of --uphold and --reject");
                    }
                    return await c.Violations.DecideDisputeAsync(r.GetValue(id)!, new DecideDisputeRequest
                    {
                        Outcome = r.GetValue(uphold) ? "upheld" : "rejected", Reason = r.GetValue(reason)!,
                    }, ct);
                }),
            Verb("lift-mark", "lift an organisation's bad-actor mark, with a reason (regulator of its violations' cases)", [orgId, reason],
                async (r, c, ct) => await c.Organisations.LiftMarkAsync(r.GetValue(orgId)!, new LiftMarkRequest { Reason = r.GetValue(reason)! }, ct)));
    }

    /// <summary>The evidence a sighting carries: from weights on disk (hashed here) or a scan result saved as JSON.</summary>
    private static async Task<SightingEvidenceDto> SightingEvidenceAsync(string? weights, string? evidenceFile, CancellationToken ct)
    {
        if ((weights is null) == (evidenceFile is null))
        {
            throw new UserInputException("give exactly one of --weights DIR and --evidence FILE: a sighting needs the scan of the weights seen");
        }
        if (weights is not null)
        {
            return ScanCommand.Evidence(await BuildManifestAsync(weights, ct), FingerprintsOf(weights, ct));
        }
        try
        {
            return System.Text.Json.JsonSerializer.Deserialize<SightingEvidenceDto>(ReadFile(evidenceFile!, "evidence"), EmbargoClient.Json)
                   ?? throw new UserInputException($"{evidenceFile}: not a scan result");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new UserInputException($"{evidenceFile}: not a scan result: {JsonErrorText.Describe(e)}");
        }
    }
}
