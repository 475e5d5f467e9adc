-- Audit tamper-evidence (issue 7 row 11).
--
-- hash_version says which rule an entry's hash follows. Version 1 (every row
-- written before this migration) hashes the entry minus identity_id_ref.
-- Version 2 hashes every field shown to readers, identity_id_ref included
-- through a salted commitment: identity_ref_commit = SHA-256(label ‖
-- identity_ref_salt ‖ identity_id_ref) is hashed, so the reference cannot be
-- changed, while erasing an identity (clearing the reference and its salt)
-- still leaves the chain intact and reveals nothing about whom it named.
--
-- audit_checkpoints: signed statements "chain C had seq S with entry_hash H
-- at time T", written every N entries or T seconds. Exported off the host,
-- they let `plexsphere audit verify --checkpoints` detect a truncated tail
-- and a rewound chain head, which a hash chain alone cannot.

-- +goose Up
ALTER TABLE audit_entries ADD COLUMN hash_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_entries ADD COLUMN identity_ref_salt TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_entries ADD COLUMN identity_ref_commit TEXT NOT NULL DEFAULT '';

CREATE TABLE audit_checkpoints (
    chain_id    TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    entry_hash  TEXT NOT NULL,
    signed_at   BIGINT NOT NULL,
    kid         TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
);

-- +goose Down
DROP TABLE audit_checkpoints;
ALTER TABLE audit_entries DROP COLUMN identity_ref_commit;
ALTER TABLE audit_entries DROP COLUMN identity_ref_salt;
ALTER TABLE audit_entries DROP COLUMN hash_version;
