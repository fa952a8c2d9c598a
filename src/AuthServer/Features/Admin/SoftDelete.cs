using System.Security.Cryptography;
using System.Text;
using AuthServer.Data;
using Npgsql;

namespace AuthServer.Features.Admin;

/// `DELETE /admin/users/{id}` with `should_soft_delete` (GoTrue: models.User `SoftDeleteUser`,
/// `SoftDeleteUserIdentities`; admin.go): the row stays with `deleted_at` set, email/phone and the
/// identities' provider ids replaced by one-way hashes (so the address can sign up again), password,
/// tokens and metadata cleared; factors, passkeys and sessions are deleted (a passkey names the user by id, not
/// by an address the obfuscation would hide, so it must go too).
internal static class SoftDelete
{
    public static async Task RunAsync(NpgsqlConnection conn, UserRow user, List<IdentityRow> identities, DateTime now,
        CancellationToken ct)
    {
        var id = user.Id;
        await AdminQueries.ExecuteAsync(conn,
            """
            update auth.users set email = @email, phone = @phone, email_change = @emailChange, phone_change = @phoneChange,
                encrypted_password = null, confirmation_token = '', recovery_token = '', email_change_token_current = '',
                email_change_token_new = '', phone_change_token = '', deleted_at = @now, updated_at = @now,
                raw_user_meta_data = '{}'::jsonb, raw_app_meta_data = '{}'::jsonb
            where id = @id;
            delete from auth.one_time_tokens where user_id = @id;
            delete from auth.mfa_factors where user_id = @id;
            delete from auth.webauthn_credentials where user_id = @id;
            delete from auth.webauthn_challenges where user_id = @id;
            delete from auth.sessions where user_id = @id;
            delete from auth.refresh_tokens where user_id = @idText;
            """,
            new
            {
                id,
                idText = id.ToString(),
                now,
                email = Obfuscate(id, user.Email ?? ""),
                phone = Obfuscate(id, user.Phone ?? "")[..15],
                emailChange = Obfuscate(id, user.EmailChange ?? ""),
                phoneChange = Obfuscate(id, user.PhoneChange ?? "")[..15],
            }, ct);
        foreach (var identity in identities)
            await AdminQueries.ExecuteAsync(conn,
                "update auth.identities set identity_data = '{}'::jsonb, provider_id = @providerId, updated_at = @now where id = @identityId",
                new { identityId = identity.Id, now, providerId = Obfuscate(identity.UserId, identity.Provider + ":" + identity.ProviderId) }, ct);
    }

    /// GoTrue `obfuscateValue`: base64url (unpadded) SHA-256 of the user id followed by the value.
    internal static string Obfuscate(Guid id, string value) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(id.ToString() + value)))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
