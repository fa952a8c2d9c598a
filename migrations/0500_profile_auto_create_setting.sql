-- 0500: GOTRUE_PROFILE_AUTO_CREATE for the public.users profile layer (0003).
--
-- The row-per-user guarantee stays in the database: the AFTER INSERT trigger on auth.users from 0003
-- keeps creating the profile in the inserting transaction, whichever code path inserts the user. It
-- now first reads a one-row setting that the server writes at start-up from GOTRUE_PROFILE_AUTO_CREATE,
-- so turning the variable off leaves registration to POST /profile. No row (or a NULL) means on, the
-- default, so a database migrated by an older server behaves as before.

create table authserver.profile_settings (
    singleton   boolean primary key default true check (singleton),
    auto_create boolean not null default true,
    updated_at  timestamptz not null default now()
);

comment on table authserver.profile_settings is
    'One row, written at start-up from GOTRUE_PROFILE_AUTO_CREATE; read by authserver.handle_new_user().';

insert into authserver.profile_settings (singleton, auto_create) values (true, true);

-- Same function as 0003 (security definer, empty search_path), plus the setting check and two more
-- metadata sources for the display name: Auth0-style given_name/family_name and `user_name`.
create or replace function authserver.handle_new_user() returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    if not coalesce((select s.auto_create from authserver.profile_settings s where s.singleton), true) then
        return new;
    end if;
    insert into public.users (id, display_name, avatar_url)
    values (
        new.id,
        coalesce(
            nullif(new.raw_user_meta_data ->> 'full_name', ''),
            nullif(new.raw_user_meta_data ->> 'name', ''),
            nullif(trim(concat_ws(' ', new.raw_user_meta_data ->> 'given_name',
                                       new.raw_user_meta_data ->> 'family_name')), ''),
            nullif(new.raw_user_meta_data ->> 'user_name', '')
        ),
        nullif(new.raw_user_meta_data ->> 'avatar_url', '')
    )
    on conflict (id) do nothing;
    return new;
end
$$;

revoke all on function authserver.handle_new_user() from public;
