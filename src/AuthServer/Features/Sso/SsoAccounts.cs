using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Features.Identity;
using AuthServer.Http;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Sso;

/// The user an assertion signs in (GoTrue `createAccountFromExternalIdentity` with provider `sso:<id>`). An
/// SSO provider is its own linking domain (`GetAccountLinkingDomain`): its identities never join accounts of
/// other providers and its users are `is_sso_user` (so their emails need not be unique).
internal static class SsoAccounts
{
    /// GoTrue `SAMLAssertion.Process`: each mapped key takes the first name (Name, then Names) with a non-empty
    /// value (all of its values with `array`), else its `default`.
    public static JsonObject MapAttributes(VerifiedAssertion assertion, JsonObject mapping)
    {
        var result = new JsonObject();
        if (mapping["keys"] is not JsonObject keys) return result;
        foreach (var (key, node) in keys)
        {
            if (node is not JsonObject mapper) continue;
            var names = new List<string>();
            if (mapper["name"] is JsonValue name && name.TryGetValue<string>(out var n) && n.Length > 0) names.Add(n);
            if (mapper["names"] is JsonArray list)
                names.AddRange(list.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var s) ? s : null).OfType<string>());
            var array = mapper["array"] is JsonValue a && a.TryGetValue<bool>(out var isArray) && isArray;
            var set = false;
            foreach (var candidate in names)
            {
                var values = Values(assertion, candidate).Where(v => v.Length > 0).ToList();
                if (values.Count == 0) continue;
                set = true;
                result[key] = array ? new JsonArray([.. values.Select(v => (JsonNode)JsonValue.Create(v))]) : values[0];
                break;
            }
            if (!set && mapper["default"] is { } fallback) result[key] = fallback.DeepClone();
        }
        return result;
    }

    /// GoTrue `SAMLAssertion.Attribute`: values of attributes whose Name or FriendlyName is <paramref name="name"/>.
    public static IEnumerable<string> Values(VerifiedAssertion assertion, string name) =>
        assertion.Attributes.Where(a => a.Name == name || a.FriendlyName == name).SelectMany(a => a.Values);

    /// GoTrue `SAMLAssertion.UserID`: the `subject-id` attribute, else a NameID that is not transient.
    public static string? UserId(VerifiedAssertion assertion)
    {
        if (Values(assertion, "urn:oasis:names:tc:SAML:attribute:subject-id").FirstOrDefault() is { } subjectId) return subjectId;
        if (string.IsNullOrEmpty(assertion.NameId)) return null;
        if (assertion.NameIdFormat == Saml.EmailNameId) return assertion.NameId.Trim().ToLowerInvariant();
        return assertion.NameIdFormat == Saml.TransientNameId ? null : assertion.NameId;
    }

    /// GoTrue `SAMLAssertion.Email`: the usual email attributes, else an emailAddress NameID.
    public static string? Email(VerifiedAssertion assertion)
    {
        foreach (var name in new[]
                 {
                     "urn:oid:0.9.2342.19200300.100.1.3", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                     "http://schemas.xmlsoap.org/claims/EmailAddress", "mail", "Mail", "email",
                 })
            if (Values(assertion, name).FirstOrDefault(v => v.Length > 0) is { } value) return value;
        return assertion.NameIdFormat == Saml.EmailNameId && !string.IsNullOrEmpty(assertion.NameId) ? assertion.NameId : null;
    }

    /// identity_data as GoTrue builds it: mapped keys that are standard claims stay top-level, the rest go to
    /// `custom_claims`; `iss` is the IdP's EntityID, `sub` the user ID, the email always verified.
    public static ExternalUser ToExternalUser(string userId, string entityId, string email, JsonObject mapped)
    {
        var data = new JsonObject();
        var custom = new JsonObject();
        foreach (var (key, value) in mapped)
        {
            if (key is "iss" or "sub" or "email" or "email_verified" or "phone_verified") continue;
            if (ExternalUser.StandardStrings.Contains(key) && value is JsonValue v && v.TryGetValue<string>(out var text))
            {
                if (text.Length > 0) data[key] = text;
            }
            else custom[key] = value?.DeepClone();
        }
        data["iss"] = entityId;
        data["sub"] = userId;
        data["email"] = email;
        data["email_verified"] = true;
        data["phone_verified"] = false;
        if (custom.Count > 0) data["custom_claims"] = custom;
        return new ExternalUser(userId, email, true, data);
    }

    /// Returns the user and whether this call created it. Runs in the caller's transaction.
    public static async Task<(Guid UserId, bool Created)> ResolveAsync(NpgsqlConnection conn, ExternalUser data, string provider,
        string aud, AuthOptions auth, JwtOptions jwt, string ip, DateTime now, CancellationToken ct)
    {
        var email = data.Email!.Trim().ToLowerInvariant();
        await conn.ExecuteAsync(new CommandDefinition("select pg_advisory_xact_lock(hashtextextended(@key, 0))",
            new { key = $"external:{provider}:{data.Subject}" }, cancellationToken: ct));

        Guid userId;
        Guid identityId;
        var created = false;
        if (await IdentityQueries.FindAsync(conn, data.Subject, provider, ct) is { } existing)
        {
            userId = existing.UserId;
            identityId = existing.Id;
            await IdentityQueries.RefreshAsync(conn, existing.Id, userId, data.IdentityData, now, ct);
            await IdentityQueries.UpdateProvidersAsync(conn, userId, now, ct);
        }
        else if ((await IdentityQueries.FindByEmailAsync(conn, email, ct)).FirstOrDefault(i => i.Provider == provider) is { } sameDomain)
        {
            // LinkAccount within the provider's own linking domain.
            userId = sameDomain.UserId;
            identityId = await IdentityQueries.LinkAsync(conn, userId, provider, data.Subject, data.IdentityData, now, ct);
        }
        else
        {
            if (auth.DisableSignup)
                throw ApiError.Unprocessable(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
            userId = Guid.NewGuid();
            await Hooks.UserCreation.BeforeAsync(userId, aud, email, null, provider, data.IdentityData, ct);
            await IdentityQueries.CreateUserAsync(conn, userId, aud, jwt.DefaultGroupName, email, provider, data.IdentityData,
                now, ct, ssoUser: true);
            identityId = await IdentityQueries.InsertAsync(conn, userId, provider, data.Subject, data.IdentityData, now, ct);
            created = true;
        }

        var user = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value.User;
        if (user.IsBanned(new DateTimeOffset(now, TimeSpan.Zero)))
            throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");
        if (user.EmailConfirmedAt is null)
        {
            // The IdP vouches for the email: confirm, as GoTrue does for a verified provider email.
            await IdentityQueries.RemoveUnconfirmedIdentitiesAsync(conn, userId, identityId, data.IdentityData, now, ct);
            await AuditLog.WriteAsync(conn, user, AuditAction.UserSignedUp, ip, now, ct, new JsonObject { ["provider"] = provider });
            await IdentityQueries.ConfirmEmailAsync(conn, userId, now, ct);
        }
        return (userId, created);
    }
}
