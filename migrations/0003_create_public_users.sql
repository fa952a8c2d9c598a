-- 0003: public.users, a per-user profile row that applications may read and edit through RLS.
--
-- One row per auth.users row, created by a trigger when the auth user is inserted and removed with it
-- (on delete cascade). Users see and update only their own row (auth.uid() = id). Policies target the
-- `authenticated` role when it exists (see 0002), otherwise PUBLIC.
--
-- Safe on an adopted Supabase database: the function and trigger carry AuthServer's own names (Supabase
-- projects often already have `public.handle_new_user` / `on_auth_user_created` from the docs' profile
-- example), an existing public.users of another shape is left alone with a notice, and users that
-- already exist get their row (backfill).

create table if not exists public.users (
    id           uuid primary key references auth.users (id) on delete cascade,
    display_name text,
    avatar_url   text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

-- Runs as the owner of public.users (the migrating role), so the insert neither needs privileges of
-- whoever inserts the auth user nor is subject to the RLS policies below. Empty search_path: every name
-- is schema-qualified, so nothing can be shadowed.
create function authserver.handle_new_user() returns trigger
    language plpgsql
    security definer
    set search_path = ''
as $$
begin
    insert into public.users (id, display_name, avatar_url)
    values (
        new.id,
        coalesce(nullif(new.raw_user_meta_data ->> 'full_name', ''), nullif(new.raw_user_meta_data ->> 'name', '')),
        nullif(new.raw_user_meta_data ->> 'avatar_url', '')
    )
    on conflict (id) do nothing;
    return new;
end
$$;

revoke all on function authserver.handle_new_user() from public;

do $$
declare
    shaped boolean := exists (
        select 1 from information_schema.columns
        where table_schema = 'public' and table_name = 'users' and column_name = 'id' and data_type = 'uuid')
        and exists (
        select 1 from information_schema.columns
        where table_schema = 'public' and table_name = 'users' and column_name = 'display_name');
    grantee text := case when exists (select 1 from pg_roles where rolname = 'authenticated')
                         then 'authenticated' else 'public' end;
begin
    if not shaped then
        raise notice 'public.users exists with another shape: the profile layer (trigger, policies) is not installed';
        return;
    end if;

    comment on table public.users is
        'Public profile of each auth user; created by trigger authserver_on_auth_user_created on auth.users.';
    alter table public.users enable row level security;

    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'users'
                   and policyname = 'Users can view own profile') then
        execute format('create policy "Users can view own profile" on public.users for select to %I using (auth.uid() = id)', grantee);
    end if;
    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'users'
                   and policyname = 'Users can update own profile') then
        execute format('create policy "Users can update own profile" on public.users for update to %I '
                       'using (auth.uid() = id) with check (auth.uid() = id)', grantee);
    end if;
    if grantee = 'authenticated' then
        grant select, update on table public.users to authenticated;
    end if;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant select, insert, update, delete on table public.users to service_role;
    end if;

    create trigger authserver_on_auth_user_created
        after insert on auth.users
        for each row execute function authserver.handle_new_user();

    -- Users that existed before this migration (an adopted database) get their row too.
    insert into public.users (id, display_name, avatar_url)
    select u.id,
           coalesce(nullif(u.raw_user_meta_data ->> 'full_name', ''), nullif(u.raw_user_meta_data ->> 'name', '')),
           nullif(u.raw_user_meta_data ->> 'avatar_url', '')
    from auth.users u
    on conflict (id) do nothing;
end
$$;
