-- Enrolment and signing: bootstrap tokens, nodes (with their NSK kept as a
-- digest for authentication and sealed for secret delivery) and the
-- per-Domain Ed25519 signing keys (private halves sealed with the master
-- key). Portable SQL for SQLite and PostgreSQL. No foreign keys to the
-- tenancy tables: revoked nodes, spent tokens and retired keys outlive the
-- rows they name, and tenancy deletes stay guarded by their own counts.

-- +goose Up
CREATE TABLE bootstrap_tokens (
    id                 TEXT PRIMARY KEY,
    lookup             TEXT NOT NULL UNIQUE,
    project_id         TEXT NOT NULL,
    domain_id          TEXT NOT NULL,
    kind               TEXT NOT NULL,
    env_prefix         TEXT NOT NULL,
    secret_hash        TEXT NOT NULL,
    labels             TEXT NOT NULL DEFAULT '{}',
    max_uses           INTEGER NOT NULL,
    uses               INTEGER NOT NULL DEFAULT 0,
    issued_by_user_id  TEXT NOT NULL,
    issued_at          BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    consumed_at        BIGINT,
    revoked_at         BIGINT
);
CREATE INDEX bootstrap_tokens_project ON bootstrap_tokens (project_id, id);

CREATE TABLE nodes (
    id                 TEXT PRIMARY KEY,
    domain_id          TEXT NOT NULL,
    project_id         TEXT NOT NULL,
    resource_id        TEXT NOT NULL,
    token_id           TEXT NOT NULL,
    nonce              TEXT NOT NULL DEFAULT '',
    kind               TEXT NOT NULL,
    name               TEXT NOT NULL DEFAULT '',
    public_key         TEXT NOT NULL,
    mesh_ip            TEXT,
    nsk_digest         TEXT NOT NULL UNIQUE,
    nsk_sealed         TEXT NOT NULL,
    labels             TEXT NOT NULL DEFAULT '{}',
    binary_version     TEXT NOT NULL DEFAULT '',
    architecture       TEXT NOT NULL DEFAULT '',
    last_heartbeat_at  BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    revoked_at         BIGINT
);
CREATE UNIQUE INDEX nodes_public_key ON nodes (public_key) WHERE revoked_at IS NULL;
CREATE UNIQUE INDEX nodes_mesh_ip ON nodes (domain_id, mesh_ip);
CREATE INDEX nodes_domain ON nodes (domain_id, id);
CREATE INDEX nodes_project ON nodes (project_id);
CREATE INDEX nodes_token ON nodes (token_id, public_key);
CREATE UNIQUE INDEX nodes_nonce ON nodes (project_id, nonce) WHERE nonce <> '';

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    domain_id       TEXT NOT NULL,
    algorithm       TEXT NOT NULL,
    public_key      TEXT NOT NULL,
    private_sealed  TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    not_after       BIGINT
);
CREATE UNIQUE INDEX signing_keys_active ON signing_keys (domain_id) WHERE status = 'active';
CREATE INDEX signing_keys_domain ON signing_keys (domain_id, created_at);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE nodes;
DROP TABLE bootstrap_tokens;
