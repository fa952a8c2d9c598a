using System.Text.Json.Nodes;
using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Identity;

/// An anonymous user becoming permanent (api.md §5.4). With `GOTRUE_MAILER_AUTOCONFIRM` an email set by
/// `PUT /user` is applied at once, like a sign-up (GoTrue `UserUpdate` → `emailChangeVerify`): the user keeps
/// its id, gets a confirmed email, an email identity, `app_metadata.provider(s)`, and `is_anonymous=false`.
internal static class AnonymousUpgrade
{
    public static async Task ApplyEmailAsync(NpgsqlConnection conn, UserRow user, string email, DateTime now,
        CancellationToken ct)
    {
        var identityData = new JsonObject
        {
            ["sub"] = user.Id.ToString(),
            ["email"] = email,
            ["email_verified"] = true,
            ["phone_verified"] = false,
        };
        await conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set email = @email, email_confirmed_at = coalesce(email_confirmed_at, @now),
                email_change = '', email_change_token_new = '', email_change_token_current = '',
                email_change_confirm_status = 0, is_anonymous = false, updated_at = @now,
                raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb
            where id = @id;
            insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            values (gen_random_uuid(), @providerId, @id, @identityData::jsonb, 'email', @now, @now, @now)
            on conflict (provider_id, provider) do update
                set identity_data = excluded.identity_data, updated_at = excluded.updated_at;
            """, new { id = user.Id, email, now, providerId = user.Id.ToString(), identityData = identityData.ToJsonString() },
            cancellationToken: ct));
        await IdentityQueries.UpdateProvidersAsync(conn, user.Id, now, ct);
    }
}
