using System.Text.Json.Nodes;
using AuthServer.Config;
using AuthServer.Data;
using AuthServer.Http;
using AuthServer.Mail;
using Dapper;
using Npgsql;

namespace AuthServer.Features.Identity;

/// The transaction must be committed, then the error returned (GoTrue `storage.CommitWithError`): the
/// confirmation state written on the way is kept.
internal sealed class CommitThenThrow(ApiError error) : Exception(error.Message, error)
{
    public ApiError Error { get; } = error;
}

/// Who the external identity signs in as: automatic linking (api.md §5.5, GoTrue
/// `createAccountFromExternalIdentity` + `models.DetermineAccountLinking`) and manual linking to a
/// signed-in user (GoTrue `linkIdentityToUser`). Runs inside the caller's transaction; no network I/O.
internal static class ExternalAccounts
{
    public const string IdentityLinked = "identity_linked"; // ours, not a GoTrue action
    public const string IdentityUnlinked = "identity_unlinked";

    /// Returns the user to sign in and whether it was created by this call. An unverified provider email gets
    /// the confirmation mail (<paramref name="mailer"/>, links to <paramref name="links"/>), queued in this
    /// transaction: the caller notifies the outbox after committing, also on <see cref="CommitThenThrow"/>.
    /// <paramref name="hasEmails"/> is false for Web3 sign-ins, which skip the email-confirmation step.
    public static async Task<(Guid UserId, bool Created)> ResolveAsync(NpgsqlConnection conn, ExternalUser data,
        string provider, string aud, AuthOptions auth, JwtOptions jwt, ExternalOptions external, string ip,
        Mailer mailer, MailLinks links, DateTime now, CancellationToken ct, bool hasEmails = true)
    {
        // GoTrue `DetermineAccountLinking`: a new account takes the primary address; an existing account is
        // joined through any address the provider verified (GitHub, GitLab and Bitbucket report several).
        var primary = data.Emails.FirstOrDefault(e => e.Primary);
        var candidate = primary?.Address.Trim().ToLowerInvariant() is { Length: > 0 } c ? c : null;
        // Autoconfirm confirms an account this identity creates or already owns, as in GoTrue. Ours (I-2, README
        // "Where we deliberately differ"): it never stands in for the provider's verification when joining an
        // existing account (GoTrue `DetermineAccountLinking` counts it): an IdP that issues unverified emails
        // would otherwise sign anyone into the account of that address.
        var verified = candidate is not null && (primary!.Verified || auth.MailerAutoconfirm);
        var linkable = data.Emails.Where(e => e.Verified).Select(e => e.Address.Trim().ToLowerInvariant())
            .Where(a => a.Length > 0).Distinct().ToArray();
        Guid userId;
        Guid identityId;
        var created = false;

        // Two first sign-ins of one new subject at once would both create a user and one would fail on the
        // email's unique index: serialise them per (provider, sub, email) for this transaction, so the second
        // finds what the first created. Emails are locked in one order, so two sign-ins sharing addresses
        // cannot deadlock.
        await conn.ExecuteAsync(new CommandDefinition(
            "select pg_advisory_xact_lock(hashtextextended(@key, 0))",
            new { key = $"external:{provider}:{data.Subject}" }, cancellationToken: ct));
        foreach (var address in linkable.Append(candidate).OfType<string>().Distinct().Order(StringComparer.Ordinal))
            await conn.ExecuteAsync(new CommandDefinition(
                "select pg_advisory_xact_lock(hashtextextended(@key, 0))",
                new { key = $"external-email:{address}" }, cancellationToken: ct));

        // The identity is keyed by (provider, sub) only: never by email (security-tests I8).
        var existing = await IdentityQueries.FindAsync(conn, data.Subject, provider, ct);
        if (existing is not null)
        {
            userId = existing.UserId;
            identityId = existing.Id;
            await IdentityQueries.RefreshAsync(conn, existing.Id, userId, data.IdentityData, now, ct);
            await IdentityQueries.UpdateProvidersAsync(conn, userId, now, ct);
        }
        else
        {
            Guid? linkTo = null;
            if (linkable.Length > 0)
            {
                // Only a verified email links to an existing account; SSO identities are their own domain.
                var similar = (await IdentityQueries.FindByEmailsAsync(conn, linkable, ct))
                    .Where(i => !i.Provider.StartsWith("sso:", StringComparison.Ordinal)).ToList();
                if (similar.Count == 0)
                {
                    var users = (await IdentityQueries.FindUserIdsByEmailsAsync(conn, linkable, ct)).Distinct().ToList();
                    if (users.Count > 1) throw MultipleAccounts();
                    if (users.Count == 1) linkTo = users[0];
                }
                else
                {
                    if (similar.Select(i => i.UserId).Distinct().Count() > 1) throw MultipleAccounts();
                    linkTo = similar[0].UserId;
                }
            }

            if (linkTo is { } target)
            {
                userId = target;
                identityId = await IdentityQueries.LinkAsync(conn, userId, provider, data.Subject, data.IdentityData, now, ct);
            }
            else
            {
                if (auth.DisableSignup)
                    throw ApiError.Unprocessable(ErrorCode.SignupDisabled, "Signups not allowed for this instance");
                var email = candidate;
                // An unverified email someone else already uses is not taken over: the user gets none.
                if (email is not null && await UserQueries.FindByEmailAsync(conn, email, aud, ct) is not null)
                    email = null;
                userId = Guid.NewGuid();
                await Hooks.UserCreation.BeforeAsync(userId, aud, email, null, provider, data.IdentityData, ct);
                await IdentityQueries.CreateUserAsync(conn, userId, aud, jwt.DefaultGroupName, email, provider,
                    data.IdentityData, now, ct);
                identityId = await IdentityQueries.InsertAsync(conn, userId, provider, data.Subject, data.IdentityData, now, ct);
                created = true;
            }
        }

        var user = (await UserQueries.FindWithIdentitiesAsync(conn, userId, ct))!.Value.User;
        if (user.IsBanned(new DateTimeOffset(now, TimeSpan.Zero)))
            throw ApiError.Forbidden(ErrorCode.UserBanned, "User is banned");

        // GoTrue `hasEmails`: a Web3 identity carries no email, so there is nothing to confirm or to clean up.
        if (hasEmails && user.EmailConfirmedAt is null)
        {
            await IdentityQueries.RemoveUnconfirmedIdentitiesAsync(conn, userId, identityId, data.IdentityData, now, ct);
            if (verified)
            {
                await AuditLog.WriteAsync(conn, user, AuditAction.UserSignedUp, ip, now, ct,
                    new JsonObject { ["provider"] = provider });
                await IdentityQueries.ConfirmEmailAsync(conn, userId, now, ct);
            }
            else
            {
                var sent = false;
                if (!string.IsNullOrEmpty(user.Email))
                {
                    // GoTrue `createAccountFromExternalIdentity`: `sendConfirmation` (implicit flow); its
                    // throttle, authorized-address and budget errors fail the sign-in and roll back.
                    var locked = (await MailQueries.LockUserAsync(conn, userId, ct))!;
                    await mailer.SendConfirmationAsync(conn, locked, pkce: false, links, now, ct);
                    sent = true;
                }
                if (!external.AllowUnverifiedEmailSignIns)
                    throw new CommitThenThrow(ApiError.Unprocessable(ErrorCode.ProviderEmailNeedsVerification, sent
                        ? $"Unverified email with {provider}. A confirmation email has been sent to your {provider} email"
                        : $"Unverified email with {provider}. Verify the email with {provider} in order to sign in"));
            }
        }
        return (userId, created);
    }

    /// Manual linking: the identity joins <paramref name="target"/>; an anonymous user without email takes
    /// the identity's verified email and stops being anonymous (GoTrue `linkIdentityToUser`).
    public static async Task LinkToUserAsync(NpgsqlConnection conn, UserRow target, ExternalUser data, string provider,
        string ip, Mailer mailer, Notifications notifications, MailLinks links, DateTime now, CancellationToken ct)
    {
        await IdentityQueries.LockUserAsync(conn, target.Id, ct);
        var existing = await IdentityQueries.FindAsync(conn, data.Subject, provider, ct);
        if (existing is not null)
            throw ApiError.Unprocessable(ErrorCode.IdentityAlreadyExists, existing.UserId == target.Id
                ? "Identity is already linked"
                : "Identity is already linked to another user");
        await IdentityQueries.InsertAsync(conn, target.Id, provider, data.Subject, data.IdentityData, now, ct);

        if (string.IsNullOrEmpty(target.Email) && !string.IsNullOrEmpty(data.Email))
        {
            try
            {
                await IdentityQueries.SetEmailFromIdentitiesAsync(conn, target.Id, now, ct);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                throw ApiError.BadRequest(ErrorCode.EmailExists, "A user with this email address has already been registered");
            }
            if (!data.EmailVerified)
            {
                // GoTrue `linkIdentityToUser`: `sendConfirmation` to the address just taken from the identity.
                var locked = (await MailQueries.LockUserAsync(conn, target.Id, ct))!;
                await mailer.SendConfirmationAsync(conn, locked, pkce: false, links, now, ct);
                await IdentityQueries.UpdateProvidersAsync(conn, target.Id, now, ct);
                throw new CommitThenThrow(ApiError.Unprocessable(ErrorCode.EmailNotConfirmed,
                    $"Unverified email with {provider}. A confirmation email has been sent to your {provider} email"));
            }
            await IdentityQueries.ConfirmEmailAsync(conn, target.Id, now, ct);
            await IdentityQueries.SetNotAnonymousAsync(conn, target.Id, now, ct);
        }
        await IdentityQueries.UpdateProvidersAsync(conn, target.Id, now, ct);
        await AuditLog.WriteAsync(conn, target, IdentityLinked, ip, now, ct,
            new JsonObject { ["provider"] = provider, ["provider_id"] = data.Subject });
        await notifications.IdentityLinkedAsync(conn, target.Id, provider, ct);
    }

    /// OAuth sign-in carrying an `invite_token`: the invited user gets the identity and is confirmed,
    /// provided the provider vouches for the invited address (GoTrue `processInvite`).
    public static async Task<Guid> AcceptInviteAsync(NpgsqlConnection conn, string inviteToken, ExternalUser data,
        string provider, string ip, DateTime now, CancellationToken ct)
    {
        var userId = await IdentityQueries.FindInvitedUserAsync(conn, inviteToken, ct)
            ?? throw ApiError.NotFound(ErrorCode.InviteNotFound, "Invite not found");
        var user = (await IdentityQueries.LockUserAsync(conn, userId, ct))!;
        // GoTrue `processInvite`: any address the provider reports may be the invited one.
        if (!data.Emails.Any(e => string.Equals(user.Email, e.Address.Trim(), StringComparison.OrdinalIgnoreCase)))
            throw ApiError.BadRequest(ErrorCode.ValidationFailed, "Invited email does not match emails from external provider");
        var identityId = await IdentityQueries.InsertAsync(conn, userId, provider, data.Subject, data.IdentityData, now, ct);
        await IdentityQueries.MergeUserMetadataAsync(conn, userId, data.IdentityData, now, ct);
        // An unconfirmed password or phone set by someone else must not survive (pre-account takeover).
        await IdentityQueries.RemoveUnconfirmedIdentitiesAsync(conn, userId, identityId, data.IdentityData, now, ct);
        await IdentityQueries.UpdateProvidersAsync(conn, userId, now, ct);
        await IdentityQueries.ConfirmEmailAsync(conn, userId, now, ct);
        await AuditLog.WriteAsync(conn, user, "invite_accepted", ip, now, ct, new JsonObject { ["provider"] = provider });
        return userId;
    }

    static ApiError MultipleAccounts() =>
        ApiError.Internal("Multiple accounts with the same email address in the same linking domain detected: default");
}
