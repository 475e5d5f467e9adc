-- Right to erasure in the audit chains (issue 16 item 6).
--
-- hash_version 3 binds an object id that names an identity (object types
-- identity, service_identity, user) through a salted commitment, as version 2
-- binds identity_id_ref: object_ref_commit = SHA-256(label ‖ object_ref_salt
-- ‖ 0 ‖ object_id) is hashed instead of the id, so erasure can clear the id
-- and its salt and the chain still verifies.
--
-- audit_pseudonym_keys: the per-(chain, identity) random nonce the subject
-- pseudonym is keyed with (HMAC(pepper, chain ‖ identity ‖ nonce)). Erasure
-- deletes it: without it nobody, the server included, can recompute the
-- pseudonym from an identity id.

-- +goose Up
ALTER TABLE audit_entries ADD COLUMN object_ref_salt TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_entries ADD COLUMN object_ref_commit TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_entries_identity ON audit_entries (identity_id_ref, chain_id, seq);
CREATE INDEX audit_entries_object ON audit_entries (object_id, chain_id, seq);

CREATE TABLE audit_pseudonym_keys (
    chain_id      TEXT NOT NULL,
    identity_ref  TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    PRIMARY KEY (chain_id, identity_ref)
);
CREATE INDEX audit_pseudonym_keys_identity ON audit_pseudonym_keys (identity_ref);

-- +goose Down
DROP TABLE audit_pseudonym_keys;
DROP INDEX audit_entries_object;
DROP INDEX audit_entries_identity;
ALTER TABLE audit_entries DROP COLUMN object_ref_commit;
ALTER TABLE audit_entries DROP COLUMN object_ref_salt;
