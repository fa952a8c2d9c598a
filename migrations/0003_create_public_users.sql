-- 0003: public.users, a per-user profile row that applications may read and edit through RLS.
--
-- One row per auth.users row, created by a trigger when the auth user is inserted and removed with it
-- (on delete cascade). Users see and update only their own row (auth.uid() = id). Policies target the
-- `authenticated` role when it exists (see 0002), otherwise PUBLIC.

create table public.users (
    id           uuid primary key references auth.users (id) on delete cascade,
    display_name text,
    avatar_url   text,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

comment on table public.users is
    'Public profile of each auth user; created by trigger on_auth_user_created on auth.users.';

alter table public.users enable row level security;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        create policy "Users can view own profile" on public.users
            for select to authenticated
            using (auth.uid() = id);
        create policy "Users can update own profile" on public.users
            for update to authenticated
            using (auth.uid() = id)
            with check (auth.uid() = id);
    else
        create policy "Users can view own profile" on public.users
            for select to public
            using (auth.uid() = id);
        create policy "Users can update own profile" on public.users
            for update to public
            using (auth.uid() = id)
            with check (auth.uid() = id);
    end if;
end
$$;

do $$
begin
    if exists (select 1 from pg_roles where rolname = 'authenticated') then
        grant select, update on table public.users to authenticated;
    end if;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant select, insert, update, delete on table public.users to service_role;
    end if;
end
$$;

-- Runs as the owner of public.users (the migrating role), so the insert neither needs privileges of
-- whoever inserts the auth user nor is subject to the RLS policies above. Empty search_path: every name
-- is schema-qualified, so nothing can be shadowed.
create function public.handle_new_user() returns trigger
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

revoke all on function public.handle_new_user() from public;

create trigger on_auth_user_created
    after insert on auth.users
    for each row execute function public.handle_new_user();
