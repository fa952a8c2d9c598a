-- 0501: database connections for the Auth0/Faable-style POST /dbconnections/signup.
--
-- Connections are data: each names the clients allowed to sign up through it, whether public sign-up
-- is open, its password policy and its email settings. The server seeds one default connection from
-- configuration at start-up (only if no connection of that name exists); after that this table is the
-- truth and the service_role routes (/connections) manage it. Users themselves live in auth.users
-- like every other user: a connection is a sign-up policy, not a separate user store.

create table authserver.db_connections (
    id                           uuid primary key,
    name                         text not null,
    enabled_clients              text[] not null default '{}',
    disable_signup               boolean not null default false,
    password_min_length          integer not null default 6 check (password_min_length between 6 and 72),
    password_required_characters text[] not null default '{}',
    verify_email_auto_send       boolean not null default true,
    welcome_email_enabled        boolean not null default false,
    created_at                   timestamptz not null,
    updated_at                   timestamptz not null,
    constraint db_connections_name_key unique (name)
);

-- "Which connections may this client use?" is the sign-up lookup.
create index db_connections_enabled_clients_idx on authserver.db_connections using gin (enabled_clients);

comment on table authserver.db_connections is
    'Database connections for POST /dbconnections/signup (client allow-list, disable_signup, password policy, email settings).';
