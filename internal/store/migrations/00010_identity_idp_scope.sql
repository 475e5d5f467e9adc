-- Identities keyed per binding scope (issue 7 row 8). A user identity used
-- to be global by (issuer, subject): the first Domain a subject signed into
-- owned it, and any Domain admin could bind another Domain's issuer (with a
-- discovery_url of their choosing) and squat or reach its users. Now a
-- sign-in resolves only identities created through a binding of the same
-- scope: idp_scope is the binding's scope_key (its Domain id, or '' for a
-- platform binding). One active binding per issuer and scope makes this
-- "per binding", and replacing a binding inside its scope keeps its users.
--
-- SQLite cannot drop the old UNIQUE (issuer, subject) table constraint
-- without rebuilding identities, which other tables reference, so the key
-- moves to new columns and the old ones are cleared (never written again).
--
-- Existing rows: the scope is that of the binding of the identity's latest
-- session with its issuer, else of a binding of its own Domain with its
-- issuer, else the platform's.

-- +goose Up
ALTER TABLE identities ADD COLUMN idp_scope TEXT;
ALTER TABLE identities ADD COLUMN idp_issuer TEXT;
ALTER TABLE identities ADD COLUMN idp_subject TEXT;
UPDATE identities SET
    idp_issuer = issuer,
    idp_subject = subject,
    idp_scope = COALESCE(
        (SELECT b.scope_key FROM sessions s JOIN idp_bindings b ON b.id = s.idp_binding_id
            WHERE s.identity_id = identities.id AND b.issuer = identities.issuer
            ORDER BY s.created_at DESC LIMIT 1),
        (SELECT b.scope_key FROM idp_bindings b
            WHERE b.issuer = identities.issuer AND b.scope_key = COALESCE(identities.domain_id, '')
            LIMIT 1),
        '')
WHERE issuer IS NOT NULL AND subject IS NOT NULL;
UPDATE identities SET issuer = NULL, subject = NULL WHERE issuer IS NOT NULL OR subject IS NOT NULL;
CREATE UNIQUE INDEX identities_idp_key ON identities (idp_scope, idp_issuer, idp_subject);

-- +goose Down
DROP INDEX identities_idp_key;
UPDATE identities SET issuer = idp_issuer, subject = idp_subject WHERE idp_issuer IS NOT NULL;
ALTER TABLE identities DROP COLUMN idp_subject;
ALTER TABLE identities DROP COLUMN idp_issuer;
ALTER TABLE identities DROP COLUMN idp_scope;
