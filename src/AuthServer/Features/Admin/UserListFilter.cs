using AuthServer.Http;

namespace AuthServer.Features.Admin;

/// The `GET /admin/users` query: GoTrue's `filter` (a substring of the email or `full_name`), and ours, for
/// the admin console (docs/console.md): `phone` (a substring of the phone, a leading `+` ignored as phones
/// are stored without it) and `unconfirmed`, `anonymous`, `banned`, `sso` = `true` to keep only such users.
/// Without them the list is GoTrue's.
internal sealed record UserListFilter(string Text, string Phone, bool Unconfirmed, bool Anonymous, bool Banned, bool Sso)
{
    public static UserListFilter Parse(HttpRequest request) => new(
        request.Query["filter"].ToString(),
        request.Query["phone"].ToString().TrimStart('+'),
        Flag(request, "unconfirmed"),
        Flag(request, "anonymous"),
        Flag(request, "banned"),
        Flag(request, "sso"));

    static bool Flag(HttpRequest request, string name) => request.Query[name].ToString() switch
    {
        "" or "false" => false,
        "true" => true,
        var other => throw ApiError.BadRequest(ErrorCode.ValidationFailed,
            $"Bad filter parameter: {name} must be true or false, not '{other}'"),
    };
}
