-- The spine: platform, identities and API tokens, relation tuples, tenancy,
-- labels and the audit chains. Portable SQL for SQLite and PostgreSQL: TEXT
-- ids (UUIDv7), BIGINT Unix-microsecond times, TEXT JSON.

-- +goose Up
CREATE TABLE platform (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Server-side secrets (cursor HMAC key, pseudonym pepper), each sealed with
-- the master key; never stored in plaintext.
CREATE TABLE server_keys (
    name        TEXT PRIMARY KEY,
    sealed      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE identities (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    domain_id     TEXT,
    display_name  TEXT NOT NULL,
    issuer        TEXT,
    subject       TEXT,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    identity_id     TEXT NOT NULL REFERENCES identities (id),
    env_prefix      TEXT NOT NULL,
    display_prefix  TEXT NOT NULL,
    secret_hash     TEXT NOT NULL UNIQUE,
    prev_hash       TEXT UNIQUE,
    prev_not_after  BIGINT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT,
    last_used_at    BIGINT,
    rotated_at      BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_tokens_identity ON api_tokens (identity_id, id);

CREATE TABLE relation_tuples (
    id                TEXT PRIMARY KEY,
    resource_type     TEXT NOT NULL,
    resource_id       TEXT NOT NULL,
    relation          TEXT NOT NULL,
    subject_type      TEXT NOT NULL,
    subject_id        TEXT NOT NULL,
    subject_relation  TEXT NOT NULL DEFAULT '',
    domain_id         TEXT,
    project_id        TEXT,
    created_at        BIGINT NOT NULL,
    UNIQUE (resource_type, resource_id, relation, subject_type, subject_id, subject_relation)
);
CREATE INDEX relation_tuples_subject ON relation_tuples (subject_type, subject_id, relation);
CREATE INDEX relation_tuples_project ON relation_tuples (project_id);

CREATE TABLE domains (
    id                 TEXT PRIMARY KEY,
    slug               TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    region             TEXT NOT NULL DEFAULT '',
    mesh_cidr          TEXT NOT NULL,
    heartbeat_interval TEXT NOT NULL,
    stale_after        TEXT NOT NULL,
    unreachable_after  TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    domain_id       TEXT NOT NULL REFERENCES domains (id),
    slug            TEXT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    sub_range_cidr  TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (domain_id, slug)
);
CREATE INDEX projects_slug ON projects (slug, id);

CREATE TABLE resources (
    id            TEXT PRIMARY KEY,
    project_id    TEXT NOT NULL REFERENCES projects (id),
    domain_id     TEXT NOT NULL REFERENCES domains (id),
    kind          TEXT NOT NULL,
    external_ref  TEXT NOT NULL DEFAULT '',
    origin        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX resources_project ON resources (project_id, id);

CREATE TABLE label_definitions (
    id                     TEXT PRIMARY KEY,
    scope                  TEXT NOT NULL,
    scope_id               TEXT NOT NULL,
    local_key              TEXT NOT NULL,
    qualified_key          TEXT NOT NULL UNIQUE,
    value_schema           TEXT NOT NULL,
    applicable_kinds       TEXT NOT NULL,
    on_delete              TEXT NOT NULL,
    cardinality            INTEGER NOT NULL,
    immutable              BOOLEAN NOT NULL,
    required               BOOLEAN NOT NULL,
    default_value          TEXT NOT NULL DEFAULT '',
    cloud_tag_propagation  BOOLEAN NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    created_by             TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    UNIQUE (scope, scope_id, local_key)
);

CREATE TABLE label_assignments (
    object_kind    TEXT NOT NULL,
    object_id      TEXT NOT NULL,
    definition_id  TEXT NOT NULL REFERENCES label_definitions (id),
    value          TEXT NOT NULL,
    assigned_by    TEXT NOT NULL,
    assigned_at    BIGINT NOT NULL,
    PRIMARY KEY (object_kind, object_id, definition_id, value)
);
CREATE INDEX label_assignments_definition ON label_assignments (definition_id);

CREATE TABLE audit_chains (
    chain_id   TEXT PRIMARY KEY,
    last_seq   BIGINT NOT NULL,
    last_hash  TEXT NOT NULL
);

CREATE TABLE audit_entries (
    chain_id           TEXT NOT NULL,
    seq                BIGINT NOT NULL,
    occurred_at        BIGINT NOT NULL,
    action             TEXT NOT NULL,
    outcome            TEXT NOT NULL,
    reason             TEXT NOT NULL,
    subject_pseudonym  TEXT NOT NULL,
    identity_id_ref    TEXT NOT NULL DEFAULT '',
    relation           TEXT NOT NULL,
    object_type        TEXT NOT NULL,
    object_id          TEXT NOT NULL,
    decision_result    TEXT NOT NULL,
    caveat_names       TEXT NOT NULL,
    correlation_id     TEXT NOT NULL,
    ip                 TEXT NOT NULL DEFAULT '',
    user_agent         TEXT NOT NULL DEFAULT '',
    prev_hash          TEXT NOT NULL,
    entry_hash         TEXT NOT NULL,
    PRIMARY KEY (chain_id, seq)
);
CREATE INDEX audit_entries_correlation ON audit_entries (chain_id, correlation_id);

-- +goose Down
DROP TABLE audit_entries;
DROP TABLE audit_chains;
DROP TABLE label_assignments;
DROP TABLE label_definitions;
DROP TABLE resources;
DROP TABLE projects;
DROP TABLE domains;
DROP TABLE relation_tuples;
DROP TABLE api_tokens;
DROP TABLE identities;
DROP TABLE server_keys;
DROP TABLE platform;
