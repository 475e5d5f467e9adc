-- Secrets (issue 11, internal/secrets, docs/design/0007-secrets.md): a
-- Project's secret names and versions, which nodes receive each secret
-- (bindings by node id or label selector) and the sealing keys nodes
-- register for level-2 delivery. Values never live in these tables: they
-- are in OpenBao, or, for the embedded backend, in secret_values, each
-- version encrypted under its own data key wrapped by a key-encryption key
-- held outside the database. Portable SQL for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE secrets (
    id               TEXT PRIMARY KEY,
    domain_id        TEXT NOT NULL,
    project_id       TEXT NOT NULL,
    name             TEXT NOT NULL,
    current_version  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX secrets_domain ON secrets (domain_id);

CREATE TABLE secret_versions (
    secret_id     TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    destroyed_at  BIGINT,
    PRIMARY KEY (secret_id, version)
);

CREATE TABLE secret_bindings (
    id          TEXT PRIMARY KEY,
    secret_id   TEXT NOT NULL,
    project_id  TEXT NOT NULL,
    node_id     TEXT,
    selector    TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX secret_bindings_secret ON secret_bindings (secret_id);
CREATE INDEX secret_bindings_project ON secret_bindings (project_id);
CREATE INDEX secret_bindings_node ON secret_bindings (node_id);

CREATE TABLE node_sealing_keys (
    node_id     TEXT PRIMARY KEY,
    kid         TEXT NOT NULL,
    public_key  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE secret_values (
    path         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    kek_id       TEXT NOT NULL,
    wrapped_key  TEXT NOT NULL,
    ciphertext   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (path, version)
);
CREATE INDEX secret_values_kek ON secret_values (kek_id);

-- +goose Down
DROP TABLE secret_values;
DROP TABLE node_sealing_keys;
DROP TABLE secret_bindings;
DROP TABLE secret_versions;
DROP TABLE secrets;
