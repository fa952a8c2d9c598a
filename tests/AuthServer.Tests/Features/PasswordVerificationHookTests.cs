using System.Net.Http.Json;
using AuthServer.Tests.Infrastructure;

namespace AuthServer.Tests.Features;

/// <summary>GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT as a Postgres function.</summary>
public sealed class PasswordHookFixture : AuthServerFixture
{
    protected override void Configure(IDictionary<string, string> settings)
    {
        settings["GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED"] = "true";
        settings["GOTRUE_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI"] = "pg-functions://postgres/public/password_attempt_hook";
    }
}

public sealed class PasswordVerificationHookTests(PasswordHookFixture server) : IClassFixture<PasswordHookFixture>
{
    // Records every call; rejects users whose email starts with "locked-" (and logs them out), keeps the
    // default message for "quiet-" users.
    const string HookFunction = """
        create table if not exists public.password_attempts (user_id uuid, valid boolean);
        create or replace function public.password_attempt_hook(event jsonb) returns jsonb
        language plpgsql as $$
        declare
            email text := (select u.email from auth.users u where u.id = (event->>'user_id')::uuid);
        begin
            insert into public.password_attempts values ((event->>'user_id')::uuid, (event->>'valid')::boolean);
            if email like 'locked-%' then
                return '{"decision":"reject","message":"Account locked","should_logout_user":true}'::jsonb;
            elsif email like 'quiet-%' then
                return '{"decision":"reject"}'::jsonb;
            end if;
            return '{"decision":"continue"}'::jsonb;
        end
        $$;
        """;

    [Fact]
    public async Task SignIn_HookContinues_SignsInAndSeesEachAttempt()
    {
        await server.Db.ExecuteAsync(HookFunction);
        var email = AuthServerFixture.NewEmail("open");
        var id = await server.Db.InsertEmailUserAsync(email, "right-password");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password", new { email, password = "wrong" }),
            400, "invalid_credentials", "Invalid login credentials");
        await server.SignInAsync(email, "right-password");

        Assert.Equal([false, true], await server.Db.QueryAsync<bool>("select valid from public.password_attempts where user_id = @id", new { id }));
    }

    [Fact]
    public async Task SignIn_HookRejectsWithLogout_Returns400AndEndsSessions()
    {
        await server.Db.ExecuteAsync(HookFunction);
        var email = $"locked-{Guid.NewGuid():N}@example.com";
        var id = await server.Db.InsertEmailUserAsync(email, "right-password");
        await server.Db.ExecuteAsync("insert into auth.sessions (id, user_id, created_at, updated_at, aal) values (gen_random_uuid(), @id, now(), now(), 'aal1')", new { id });

        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=password", new { email, password = "right-password" }),
            400, "invalid_credentials", "Account locked");
        Assert.Equal(0, await server.Db.ScalarAsync<long>("select count(*) from auth.sessions where user_id = @id", new { id }));
    }

    [Fact]
    public async Task SignIn_HookRejectsWithoutMessage_UsesGoTrueDefault()
    {
        await server.Db.ExecuteAsync(HookFunction);
        var email = $"quiet-{Guid.NewGuid():N}@example.com";
        await server.Db.InsertEmailUserAsync(email, "right-password");
        await server.AssertErrorBothShapesAsync(c => c.PostAsJsonAsync("/token?grant_type=password", new { email, password = "right-password" }),
            400, "invalid_credentials", "Further password verification attempts will be rejected.");
    }

    [Fact]
    public async Task SignIn_UnknownUser_DoesNotCallHook()
    {
        await server.Db.ExecuteAsync(HookFunction);
        var before = await server.Db.ScalarAsync<long>("select count(*) from public.password_attempts");
        using var client = server.CreateClient(AuthServerFixture.ApiVersion2024);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync("/token?grant_type=password",
            new { email = AuthServerFixture.NewEmail("ghost"), password = "x" }), 400, "invalid_credentials");
        Assert.Equal(before, await server.Db.ScalarAsync<long>("select count(*) from public.password_attempts"));
    }
}
