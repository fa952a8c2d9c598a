-- GoTrue GET /user (internal/api/auth.go maybeLoadUserOrSession): user + eager identities and factors,
-- session + eager AMR claims. 5 round trips.
\set n random(1, :users)
SELECT * FROM auth.users WHERE id = md5('u' || :n)::uuid AND instance_id = '00000000-0000-0000-0000-000000000000' LIMIT 1;
SELECT * FROM auth.identities WHERE user_id = md5('u' || :n)::uuid;
SELECT * FROM auth.mfa_factors WHERE user_id = md5('u' || :n)::uuid;
SELECT * FROM auth.sessions WHERE id = md5('s' || :n)::uuid LIMIT 1;
SELECT * FROM auth.mfa_amr_claims WHERE session_id = md5('s' || :n)::uuid;
