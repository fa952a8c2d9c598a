using System.Text.RegularExpressions;

namespace AuthServer.Http;

/// Email and phone normalisation and validation with GoTrue's rules and messages.
internal static partial class Identifiers
{
    /// Lower-cased, trimmed email, or a 400 `validation_failed` with GoTrue's message.
    public static string ValidateEmail(string email)
    {
        email = email.Trim().ToLowerInvariant();
        if (email.Length > 255)
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "An email address is too long");
        // GoTrue's pattern accepts a dotless domain (`a@b`); no such address receives mail on the internet
        // (security-tests B4★), so we also require a dot.
        if (!EmailFormat().IsMatch(email) || !email[(email.IndexOf('@') + 1)..].Contains('.'))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Unable to validate email address: invalid format");
        return email;
    }

    /// Digits only, no `+` (how GoTrue stores phones), or 400 `validation_failed`.
    public static string ValidatePhone(string phone)
    {
        var normalized = NormalizePhone(phone);
        if (!E164().IsMatch(normalized))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid phone number format (E.164 required)");
        return normalized;
    }

    public static string NormalizePhone(string phone) => phone.Trim().TrimStart('+').Replace(" ", "");

    // GoTrue: internal/api/mail.go `emailRegex` (HTML5 spec form).
    [GeneratedRegex(@"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")]
    private static partial Regex EmailFormat();

    [GeneratedRegex(@"^[1-9][0-9]{1,14}$")]
    private static partial Regex E164();
}
