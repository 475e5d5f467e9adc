-- The event plane (node-protocol §6.3): one durable, append-only log per
-- node, written in the transaction of the change that caused it (outbox),
-- and each node's head: the last sequence number handed out (never reused,
-- L2) and whether its next heartbeat must ask for a reconcile (L5).
-- Portable SQL for SQLite and PostgreSQL: BIGINT Unix-microsecond times,
-- TEXT JSON.

-- +goose Up
CREATE TABLE event_heads (
    node_id    TEXT PRIMARY KEY,
    last_seq   BIGINT NOT NULL,
    reconcile  BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE event_log (
    node_id     TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    payload     TEXT NOT NULL,
    domain_id   TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    void_after  BIGINT,
    PRIMARY KEY (node_id, seq)
);
CREATE INDEX event_log_event ON event_log (event_id);
CREATE INDEX event_log_created ON event_log (created_at);

-- +goose Down
DROP TABLE event_log;
DROP TABLE event_heads;
