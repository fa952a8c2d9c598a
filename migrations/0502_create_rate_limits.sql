-- 0502: rate-limit state shared by every server instance.
--
-- One row per bucket (e.g. `dbconnections_signup:203.0.113.7`) holding the GCRA "theoretical arrival
-- time": a request is allowed when pushing `tat` forward by one emission interval keeps it within one
-- period of now. The check-and-advance is a single INSERT … ON CONFLICT DO UPDATE … WHERE, so
-- concurrent requests on any instance serialise on the row and never over-admit.

create table authserver.rate_limits (
    bucket text primary key,
    tat    timestamptz not null
);

create index rate_limits_tat_idx on authserver.rate_limits (tat);
