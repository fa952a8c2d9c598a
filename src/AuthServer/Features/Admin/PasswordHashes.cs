using AuthServer.Http;

namespace AuthServer.Features.Admin;

/// `password_hash` on `POST /admin/users`: an existing hash imported as-is (api.md "Admin users").
internal static class PasswordHashes
{
    /// Accepts what Go's `bcrypt.Cost` accepts (`$2a$`, `$2b$`, `$2y$`… with a cost of 4–31 and the
    /// full 60-character length), which is what GoTrue checks before storing a bcrypt hash.
    /// GoTrue answers a malformed hash with 500 "Error creating user"; a client mistake deserves a 400.
    /// argon2 and Firebase scrypt hashes are parsed as GoTrue's `NewUserWithPasswordHash` parses them.
    public static string ValidateImport(string hash)
    {
        if (Security.ImportedPasswordHashes.IsImported(hash))
            return Security.ImportedPasswordHashes.Problem(hash) is { } complaint
                ? throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid password hash: " + complaint)
                : hash;
        string? problem = null;
        if (hash.Length < 59) problem = "crypto/bcrypt: hashedSecret too short to be a bcrypted password";
        else if (hash[0] != '$' || hash[1] != '2') problem = "not a bcrypt hash ($2a$, $2b$ or $2y$)";
        else
        {
            // Go bcrypt `decodeVersion`/`decodeCost`: an optional minor letter, then a two-digit cost.
            var n = hash[2] == '$' ? 3 : 4;
            if (n == 4 && hash[3] != '$') problem = "not a bcrypt hash ($2a$, $2b$ or $2y$)";
            else if (!int.TryParse(hash.AsSpan(n, 2), System.Globalization.NumberStyles.None, null, out var cost) || hash[n + 2] != '$')
                problem = "the cost is not two digits";
            else if (cost is < 4 or > 31)
                problem = $"crypto/bcrypt: cost {cost} is outside allowed inclusive range 4..31";
            else if (hash.Length != n + 3 + 53)
                problem = "salt and hash must be 53 characters";
        }
        return problem is null ? hash : throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invalid password hash: " + problem);
    }
}
