using System.Text.Json.Nodes;
using AuthServer.Data;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Signup;

internal static class SignupQueries
{
    /// The user and its email/phone identity in one round trip, written as GoTrue writes them: nil
    /// instance_id, `''` token columns. The identity's claims are GoTrue's `provider.Claims{Subject, Email}`
    /// map (`sub`, `email`, `email_verified: false`, `phone_verified: false`; no phone).
    /// <paramref name="asSignup"/>: `POST /signup` (and the sign-ups GoTrue routes through it: `/otp`, phone)
    /// adds the request data to the identity's claims (claims win) and, through `RemoveUnconfirmedIdentities`,
    /// makes that the user_metadata. Invite and generate_link (`signupNewUser` + `createNewIdentity`) keep
    /// user_metadata = data and the bare claims.
    public static Task CreateUserAsync(NpgsqlConnection conn, Guid id, string aud, string role, string? email,
        string? phone, string passwordHash, string provider, JsonObject data, DateTime now, CancellationToken ct,
        bool asSignup = true)
    {
        var identityData = new JsonObject { ["sub"] = id.ToString() };
        if (email is not null) identityData["email"] = email;
        identityData["email_verified"] = false;
        identityData["phone_verified"] = false;
        var userMeta = (JsonObject)data.DeepClone();
        if (asSignup)
        {
            foreach (var (key, value) in data)
                if (!identityData.ContainsKey(key)) identityData[key] = value?.DeepClone();
            userMeta = (JsonObject)identityData.DeepClone();
        }
        var appMeta = new JsonObject { ["provider"] = provider, ["providers"] = new JsonArray(provider) };

        return conn.ExecuteAsync(new CommandDefinition(
            """
            insert into auth.users (
                instance_id, id, aud, role, email, phone, encrypted_password, confirmation_token, recovery_token,
                email_change_token_new, email_change, email_change_token_current, phone_change, phone_change_token,
                reauthentication_token, raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at,
                is_anonymous)
            values (
                '00000000-0000-0000-0000-000000000000', @id, @aud, @role, @email, @phone, @passwordHash, '', '',
                '', '', '', '', '', '', @appMeta::jsonb, @userMeta::jsonb, false, @now, @now, false);
            insert into auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
            values (gen_random_uuid(), @providerId, @id, @identityData::jsonb, @provider, @now, @now, @now);
            """,
            new
            {
                id,
                aud,
                role,
                email,
                phone,
                passwordHash,
                now,
                provider,
                providerId = id.ToString(),
                appMeta = appMeta.ToJsonString(),
                userMeta = userMeta.ToJsonString(),
                identityData = identityData.ToJsonString(),
            }, cancellationToken: ct));
    }

    /// Anonymous users have no identity and `app_metadata = {}` (api.md §3 anonymous branch). The user and
    /// its `user_signedup` audit row in one round trip; returns the inserted row.
    public static async Task<UserRow> CreateAnonymousUserAsync(NpgsqlConnection conn, Guid id, string aud, string role,
        JsonObject data, DateTime now, string ip, CancellationToken ct)
    {
        var userMeta = data.ToJsonString();
        // The audit payload names the user: built from the values being inserted (no reload needed).
        var payload = AuditLog.Payload(new UserRow { Id = id, RawUserMetaData = userMeta }, AuditAction.UserSignedUp,
            new JsonObject { ["provider"] = "anonymous" });
        using var grid = await conn.QueryMultipleAsync(new CommandDefinition(
            $"""
            insert into auth.users as u (
                instance_id, id, aud, role, confirmation_token, recovery_token, email_change_token_new, email_change,
                email_change_token_current, phone_change, phone_change_token, reauthentication_token,
                raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at, is_anonymous)
            values (
                '00000000-0000-0000-0000-000000000000', @id, @aud, @role, '', '', '', '', '', '', '', '',
                jsonb_build_object(), @userMeta::jsonb, false, @now, @now, true)
            returning {UserQueries.Columns};
            {AuditLog.InsertSql};
            """, new { id, aud, role, now, userMeta, payload, ip }, cancellationToken: ct));
        return await grid.ReadSingleAsync<UserRow>();
    }

    /// GoTrue `User.Confirm` / `ConfirmPhone`: stamp the confirmation, drop pending one-time tokens; `Confirm`
    /// also sets user_metadata.email_verified, `ConfirmPhone` leaves the metadata alone.
    public static Task ConfirmAsync(NpgsqlConnection conn, Guid id, string provider, DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(provider == "email"
            ? """
              update auth.users set email_confirmed_at = @now, confirmation_token = '', updated_at = @now,
                  raw_user_meta_data = coalesce(raw_user_meta_data, '{}'::jsonb) || '{"email_verified": true}'::jsonb
              where id = @id;
              delete from auth.one_time_tokens where user_id = @id;
              """
            : """
              update auth.users set phone_confirmed_at = @now, confirmation_token = '', updated_at = @now
              where id = @id;
              delete from auth.one_time_tokens where user_id = @id;
              """, new { id, now }, cancellationToken: ct));

    public static Task SetConfirmationTokenAsync(NpgsqlConnection conn, Guid id, string tokenHash, string relatesTo,
        DateTime now, CancellationToken ct) =>
        conn.ExecuteAsync(new CommandDefinition(
            """
            update auth.users set confirmation_token = @tokenHash, confirmation_sent_at = @now, updated_at = @now
            where id = @id;
            insert into auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
            values (gen_random_uuid(), @id, 'confirmation_token', @tokenHash, @relatesTo, @now, @now)
            on conflict (user_id, token_type) do update
                set token_hash = excluded.token_hash, relates_to = excluded.relates_to, updated_at = excluded.updated_at;
            """, new { id, tokenHash, relatesTo, now }, cancellationToken: ct));
}
