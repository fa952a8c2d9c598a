-- 0002: the PostgREST/Supabase API roles `anon`, `authenticated` and `service_role`.
--
-- Roles are cluster-wide, so this migration only creates the ones that are missing, and only when the
-- migrating role is allowed to (superuser, or CREATEROLE). Otherwise it raises one NOTICE and moves on:
-- a production deployment running as a plain database owner must not fail here. Later migrations check
-- for each role before granting to it or naming it in a policy.
--
-- service_role gets BYPASSRLS (as in Supabase) when the migrating role may hand it out: a superuser
-- always; a CREATEROLE role only on PostgreSQL 16+ and only if it has BYPASSRLS itself.

do $$
declare
    me      pg_roles%rowtype;
    missing text[];
    r       text;
begin
    select * into me from pg_roles where rolname = current_user;

    select array_agg(name order by ord) into missing
    from unnest(array['anon', 'authenticated', 'service_role']) with ordinality as wanted(name, ord)
    where not exists (select 1 from pg_roles where rolname = wanted.name);

    if missing is null then
        raise notice 'roles anon, authenticated and service_role already exist; none created';
        return;
    end if;

    if not (me.rolsuper or me.rolcreaterole) then
        raise notice 'skipped creating role(s) %: current role % is neither superuser nor CREATEROLE',
            array_to_string(missing, ', '), current_user;
        return;
    end if;

    foreach r in array missing loop
        begin
            if r = 'service_role'
               and (me.rolsuper
                    or (me.rolbypassrls and current_setting('server_version_num')::int >= 160000)) then
                execute 'create role service_role nologin noinherit bypassrls';
            elsif r = 'service_role' then
                execute 'create role service_role nologin noinherit';
                raise notice 'created role service_role without BYPASSRLS: current role % may not grant it',
                    current_user;
            else
                execute format('create role %I nologin noinherit', r);
            end if;
        exception when insufficient_privilege then
            raise notice 'skipped creating role %: %', r, sqlerrm;
        end;
    end loop;
end
$$;

-- Let the API roles resolve auth.uid() & co. in RLS policies. No table privileges on auth.* are granted:
-- those tables belong to the server alone.
do $$
declare
    r text;
begin
    foreach r in array array['anon', 'authenticated', 'service_role'] loop
        if exists (select 1 from pg_roles where rolname = r) then
            begin
                execute format('grant usage on schema auth to %I', r);
                execute format('grant execute on function auth.uid(), auth.role(), auth.email(), auth.jwt() to %I', r);
            exception when insufficient_privilege then
                -- An adopted Supabase database: the auth schema belongs to another role that already
                -- granted these; not being allowed to repeat the grant is not an error.
                raise notice 'skipped grants on schema auth to %: current role % may not grant them', r, current_user;
            end;
        end if;
    end loop;
end
$$;
