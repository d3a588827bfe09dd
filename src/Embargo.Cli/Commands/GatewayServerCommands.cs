using System.CommandLine;
using Embargo.Cli.Infrastructure;
using Embargo.Contracts;
using static Embargo.Cli.Infrastructure.Common;

namespace Embargo.Cli.Commands;

/// <summary>The server's gateway: keys for a version released at hosted/api, and screens attached to a version.</summary>
public static class GatewayServerCommands
{
    /// <summary>The verbs under `embargo gateway` that talk to the server (the standalone gateway is `embargo gateway --config`).</summary>
    public static IEnumerable<Command> Verbs()
    {
        yield return Grant();
        yield return Screen();
    }

    public static Command Grant()
    {
        var version = new Argument<string>("model-version-id");
        var principal = Required("--principal", "the grantee principal id");
        var rpm = new Option<int>("--rpm") { Description = "requests per minute (a token bucket of that size, refilled continuously)", Required = true };
        var tokens = new Option<long?>("--tokens-per-day") { Description = "usage tokens a day (as the upstream reports them)" };
        return Verb("grant", "issue a gateway key for a version released at hosted or api; the key is shown once (developer)", [version, principal, rpm, tokens],
            async (r, c, ct) => await c.Gateway.GrantAsync(r.GetValue(version)!, new GatewayGrantRequest
            {
                PrincipalId = r.GetValue(principal)!, RequestsPerMinute = r.GetValue(rpm), TokensPerDay = r.GetValue(tokens),
            }, ct));
    }

    public static Command Screen()
    {
        var version = new Argument<string>("model-version-id");
        var name = Required("--name", "the screen's name (letters, digits, - _ .)");
        var applyTo = new Option<string[]>("--apply-to") { Description = "input and/or output (repeatable)", Required = true, AllowMultipleArgumentsPerToken = true };
        var keywords = new Option<string[]>("--keyword") { Description = "a phrase to block, matched case-folded and NFKC-normalised (repeatable)" };
        var regex = new Option<string[]>("--regex") { Description = "a .NET regular expression to block (repeatable)" };
        var maxMatch = new Option<int?>("--max-match") { Description = "longest text a regex may match (default 256): the stream window" };
        var classifierUrl = new Option<string?>("--classifier-url") { Description = "an OpenAI-compatible classifier endpoint (…/v1)" };
        var classifierModel = new Option<string?>("--classifier-model") { Description = "the classifier's model name" };
        var classifierKind = new Option<string?>("--classifier-kind") { Description = "moderation (OpenAI /moderations shape) or chat (answers safe/unsafe)" };
        var timeout = new Option<int?>("--classifier-timeout-ms") { Description = "fail closed after this long (default 500)" };
        var mitigation = new Option<string?>("--mitigation") { Description = "the mitigation (mit_…) this screen implements" };
        return Verb("screen", "attach a screen to a version, enforced by the server's gateway from then on; screens are only ever added (developer, the case's regulator, an affected party)",
            [version, name, applyTo, keywords, regex, maxMatch, classifierUrl, classifierModel, classifierKind, timeout, mitigation],
            async (r, c, ct) =>
            {
                var url = r.GetValue(classifierUrl);
                if (url is null && (r.GetValue(classifierModel) is not null || r.GetValue(classifierKind) is not null))
                {
                    throw new UserInputException("--classifier-model and --classifier-kind need --classifier-url");
                }
                return await c.Gateway.AttachScreenAsync(r.GetValue(version)!, new GatewayScreenRequest
                {
                    Name = r.GetValue(name)!, ApplyTo = r.GetValue(applyTo) ?? [], Keywords = r.GetValue(keywords) ?? [], Regex = r.GetValue(regex) ?? [],
                    MaxMatch = r.GetValue(maxMatch), MitigationId = r.GetValue(mitigation),
                    Classifier = url is null ? null : new GatewayClassifierDto
                    {
                        Url = url, Model = r.GetValue(classifierModel) ?? throw new UserInputException("--classifier-url needs --classifier-model"),
                        Kind = r.GetValue(classifierKind) ?? "moderation", TimeoutMs = r.GetValue(timeout) ?? 500,
                    },
                }, ct);
            });
    }
}
