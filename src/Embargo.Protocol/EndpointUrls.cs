namespace Embargo.Protocol;

/// <summary>
/// Endpoint URLs end up in public records (the ledger, condition lists), so they carry no secrets: no user info
/// (user:password@) and no query string (where API keys hide) or fragment. Credentials come from --api-key-env.
/// </summary>
public static class EndpointUrls
{
    public const int MaxLength = 2000;

    /// <summary>The server's check: an http(s) URL without user info, query or fragment, or a 400 naming <paramref name="member"/>.</summary>
    public static Result<string> Check(string? text, string member)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Length > MaxLength
            || !Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            return ProtocolError.Validation($"{member} is not an http(s) URL of at most {MaxLength} characters");
        }
        if (url.UserInfo.Length > 0)
        {
            return ProtocolError.Validation($"{member} carries user info (user:password@); endpoint URLs are public records, give credentials with --api-key-env");
        }
        if (url.Query.Length > 0 || url.Fragment.Length > 0 || text.Contains('?', StringComparison.Ordinal) || text.Contains('#', StringComparison.Ordinal))
        {
            return ProtocolError.Validation($"{member} carries a query string or fragment; endpoint URLs are public records, give API keys with --api-key-env");
        }
        return url.ToString();
    }

    /// <summary>What a client sends: the URL with user info, query and fragment removed.</summary>
    public static Uri Strip(Uri url) =>
        new UriBuilder(url) { UserName = "", Password = "", Query = "", Fragment = "" }.Uri;
}
