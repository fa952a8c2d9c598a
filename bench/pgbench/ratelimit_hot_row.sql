-- The rate limiter's bucket take (src/AuthServer/RateLimits/RateLimitQueries.cs TakeAsync, asynchronous commit)
-- over :keys client keys; keys=1 is every request from one IP (an SSR app, or a proxy whose address is the key).
-- Not a floor of any flow: RESULTS.md §9 uses it for the one-row ceiling (-D keys=1 vs -D keys=10000).
\set k random(1, :keys)
insert into authserver.rate_limit_buckets as r (key, tokens, allowed, updated_at, expires_at)
select 'token:ip' || :k, 1e9 - 1, true, now(), now() + interval '1 hour'
from (select set_config('synchronous_commit', 'off', true)) as async_commit
on conflict (key) do update set
    allowed = least(1e9, r.tokens + greatest(0, extract(epoch from (now() - r.updated_at))::float8) * 1e6) >= 1,
    tokens = least(1e9, r.tokens + greatest(0, extract(epoch from (now() - r.updated_at))::float8) * 1e6)
        - case when least(1e9, r.tokens + greatest(0, extract(epoch from (now() - r.updated_at))::float8) * 1e6) >= 1 then 1 else 0 end,
    updated_at = greatest(r.updated_at, now()),
    expires_at = greatest(r.updated_at, now()) + interval '1 hour'
returning allowed, tokens;
