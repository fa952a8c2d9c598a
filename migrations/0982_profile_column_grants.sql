-- 0982: /profile writes are decided by the database's privileges (review M-3).
--
-- The server now runs POST and PATCH /profile as the `authenticated` role with the caller's JWT claims
-- set for the transaction, as PostgREST does. 0003 granted `authenticated` UPDATE on the whole table,
-- which covers every column an application adds later (`plan`, `credits`, `is_admin`…). Here the
-- table-wide INSERT/UPDATE become column grants on the shipped columns only, and users may insert their
-- own row. An application exposes a column of its own with
--     grant update (my_column) on public.users to authenticated;   -- and insert (my_column) for POST
-- Revoking the table-wide privilege also drops column grants an application made before this migration
-- on an adopted database; re-run them after upgrading (README "Profiles").
--
-- The server's role must be able to SET ROLE authenticated (a superuser can; any other role needs
-- membership, granted here when allowed, otherwise one NOTICE and /profile writes answer 500 naming it).

do $$
declare
    shaped boolean := exists (
        select 1 from information_schema.columns
        where table_schema = 'public' and table_name = 'users' and column_name = 'id' and data_type = 'uuid')
        and exists (
        select 1 from information_schema.columns
        where table_schema = 'public' and table_name = 'users' and column_name = 'display_name');
begin
    if not shaped then
        raise notice 'public.users exists with another shape: profile column grants not installed';
        return;
    end if;
    if not exists (select 1 from pg_roles where rolname = 'authenticated') then
        raise notice 'role authenticated does not exist: /profile writes fail until it does (see 0002)';
        return;
    end if;

    if has_table_privilege('authenticated', 'public.users', 'UPDATE') then
        revoke update on table public.users from authenticated;
    end if;
    if has_table_privilege('authenticated', 'public.users', 'INSERT') then
        revoke insert on table public.users from authenticated;
    end if;
    grant select on table public.users to authenticated;
    grant update (display_name, avatar_url, updated_at) on table public.users to authenticated;
    grant insert (id, display_name, avatar_url, created_at, updated_at) on table public.users to authenticated;

    if not exists (select 1 from pg_policies where schemaname = 'public' and tablename = 'users'
                   and policyname = 'Users can create own profile') then
        create policy "Users can create own profile" on public.users for insert to authenticated
            with check (auth.uid() = id);
    end if;

    -- PostgreSQL 16 separates membership from the SET option that SET ROLE needs.
    if not (case when current_setting('server_version_num')::int >= 160000
                 then pg_has_role(current_user, 'authenticated', 'SET')
                 else pg_has_role(current_user, 'authenticated', 'MEMBER') end) then
        begin
            execute format('grant authenticated to %I', current_user);
        exception when others then
            raise notice 'could not grant authenticated to %: %; /profile writes fail until it is granted',
                current_user, sqlerrm;
        end;
    end if;
end
$$;
