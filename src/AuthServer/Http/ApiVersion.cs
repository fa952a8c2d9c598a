namespace AuthServer.Http;

/// `X-Supabase-Api-Version` selects the error shape (errors.md §1.1).
internal static class ApiVersion
{
    public const string Header = "X-Supabase-Api-Version";
    public static readonly DateOnly V20240101 = new(2024, 1, 1);

    /// The requested version, or null for the "initial" one (missing or unparseable header).
    public static DateOnly? Requested(HttpRequest request)
    {
        var value = request.Headers[Header].ToString();
        return DateOnly.TryParseExact(value, "yyyy-MM-dd", out var date) ? date : null;
    }
}
