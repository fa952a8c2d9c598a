-- Beyond GoTrue: a SAML assertion is accepted by POST /sso/saml/acs once, on every instance.
-- Keyed by the SHA-256 of the IdP's EntityID and the assertion ID; a row lives until the assertion's
-- Conditions NotOnOrAfter (plus the allowed clock skew), after which it would be refused anyway.
create table if not exists authserver.used_saml_assertions (
    assertion_sha256 text primary key,
    expires_at       timestamptz not null
);
create index if not exists used_saml_assertions_expires_at_idx on authserver.used_saml_assertions (expires_at);
