-- Mediated access (issue 12, internal/access, docs/design/0008-access.md):
-- sessions with the claims their token is re-signed from (the token itself
-- is never stored), the denylist of revoked token ids, the append-only
-- activity nodes report, and ssh recordings stored in chunks. Portable SQL
-- for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE access_sessions (
    id                    TEXT PRIMARY KEY,
    domain_id             TEXT NOT NULL,
    project_id            TEXT NOT NULL,
    resource_id           TEXT NOT NULL,
    node_id               TEXT NOT NULL,
    identity_id           TEXT NOT NULL,
    kind                  TEXT NOT NULL,
    target                TEXT NOT NULL,
    claims                TEXT NOT NULL,
    kid                   TEXT NOT NULL,
    status                TEXT NOT NULL,
    idempotency_key       TEXT NOT NULL DEFAULT '',
    issued_at             BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    last_active_at        BIGINT NOT NULL,
    idle_timeout_seconds  INTEGER NOT NULL DEFAULT 0,
    revoked_at            BIGINT,
    revoke_reason         TEXT NOT NULL DEFAULT '',
    connected_at          BIGINT,
    disconnected_at       BIGINT
);
CREATE INDEX access_sessions_project ON access_sessions (project_id, issued_at, id);
CREATE INDEX access_sessions_domain_live ON access_sessions (domain_id, status, expires_at);
CREATE INDEX access_sessions_node ON access_sessions (node_id, status);
CREATE UNIQUE INDEX access_sessions_idempotency ON access_sessions (identity_id, idempotency_key) WHERE idempotency_key <> '';

CREATE TABLE access_denylist (
    jti         TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE access_activity (
    session_id   TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    body         TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE access_recordings (
    session_id  TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    final       BOOLEAN NOT NULL DEFAULT FALSE,
    truncated   BOOLEAN NOT NULL DEFAULT FALSE,
    sha256      TEXT NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL
);

CREATE TABLE access_recording_chunks (
    session_id  TEXT NOT NULL,
    byte_offset BIGINT NOT NULL,
    data        BYTEA NOT NULL,
    PRIMARY KEY (session_id, byte_offset)
);

-- +goose Down
DROP TABLE access_recording_chunks;
DROP TABLE access_recordings;
DROP TABLE access_activity;
DROP TABLE access_denylist;
DROP TABLE access_sessions;
