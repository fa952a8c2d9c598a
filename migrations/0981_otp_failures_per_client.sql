-- 0981: wrong email codes counted per (code, client) as well as per code (review M-2).
--
-- Until now the fifth wrong code voided the stored token, which is also what the mailed link carries:
-- anyone who knew an address could void its owner's pending magic, recovery or confirmation link with
-- five requests. Now a wrong code never voids anything. The code path (POST /verify with email + token)
-- closes for one client after 5 wrong codes from it, and for everyone after 10 in total
-- (authserver.otp_failures, from 0100); the link keeps working until it expires or is used.

create table authserver.otp_client_failures (
    token_hash text        not null,
    client_key text        not null,
    user_id    uuid        not null references auth.users (id) on delete cascade,
    failures   integer     not null,
    updated_at timestamptz not null,
    primary key (token_hash, client_key)
);

create index otp_client_failures_user_id_idx on authserver.otp_client_failures (user_id);
