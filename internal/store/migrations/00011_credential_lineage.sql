-- Credential lineage (issue 7 rows 3 and 15): every credential derived from
-- a sign-in carries the IdP binding, acr, amr and auth_time of that sign-in,
-- so that step-up is judged on every credential type and a derived
-- credential can never be stronger than the session it came from.
--
-- api_tokens.parent_id names the credential (API token, oauth token family
-- or session) that minted the token; revoking the parent revokes it, and
-- its expiry never passes the parent's. break_glass marks the first-start
-- platform-admin token and the tokens minted from it: no IdP stands behind
-- them, so step-up does not apply. Tokens issued before this migration are
-- not break-glass unless they never expire (only the first-start token
-- does): their origin is unknown, so sensitive operations refuse them.
--
-- device_authorizations and oauth_tokens record the approving session's
-- acr, amr (JSON array) and auth_time; a refresh keeps them.

-- +goose Up
ALTER TABLE api_tokens ADD COLUMN parent_id TEXT;
ALTER TABLE api_tokens ADD COLUMN idp_binding_id TEXT;
ALTER TABLE api_tokens ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_tokens ADD COLUMN auth_time BIGINT;
ALTER TABLE api_tokens ADD COLUMN break_glass BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE api_tokens SET break_glass = TRUE WHERE expires_at IS NULL;
CREATE INDEX api_tokens_parent ON api_tokens (parent_id);

ALTER TABLE device_authorizations ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE device_authorizations ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE device_authorizations ADD COLUMN auth_time BIGINT;

ALTER TABLE oauth_tokens ADD COLUMN acr TEXT NOT NULL DEFAULT '';
ALTER TABLE oauth_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
ALTER TABLE oauth_tokens ADD COLUMN auth_time BIGINT;

-- +goose Down
ALTER TABLE oauth_tokens DROP COLUMN auth_time;
ALTER TABLE oauth_tokens DROP COLUMN amr;
ALTER TABLE oauth_tokens DROP COLUMN acr;
ALTER TABLE device_authorizations DROP COLUMN auth_time;
ALTER TABLE device_authorizations DROP COLUMN amr;
ALTER TABLE device_authorizations DROP COLUMN acr;
DROP INDEX api_tokens_parent;
ALTER TABLE api_tokens DROP COLUMN break_glass;
ALTER TABLE api_tokens DROP COLUMN auth_time;
ALTER TABLE api_tokens DROP COLUMN amr;
ALTER TABLE api_tokens DROP COLUMN acr;
ALTER TABLE api_tokens DROP COLUMN idp_binding_id;
ALTER TABLE api_tokens DROP COLUMN parent_id;
