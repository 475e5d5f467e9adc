-- The event plane (node-protocol §6.3): one durable, append-only log per
-- node, written in the transaction of the change that caused it (outbox),
-- and each node's head: the last sequence number handed out (never reused,
-- L2) and whether its next heartbeat must ask for a reconcile (L5). Also
-- what agents report through the agent endpoints (§5.2, §9).
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

-- What agents report about themselves (§5.2, §9.4), one row per node:
-- liveness from heartbeat arrival times, the last heartbeat body as sent,
-- the highest protocol level announced (N4), the capability manifest and
-- the last drift report.
CREATE TABLE node_agents (
    node_id            TEXT PRIMARY KEY,
    last_heartbeat_at  BIGINT,
    heartbeat          TEXT NOT NULL DEFAULT '{}',
    protocol_level     INTEGER NOT NULL DEFAULT 1,
    capabilities       TEXT,
    capabilities_at    BIGINT,
    drift              TEXT,
    drift_at           BIGINT
);

-- Node-reported entries (§5.2 report, §12.8): last writer wins per key.
CREATE TABLE node_reports (
    node_id       TEXT NOT NULL,
    report_key    TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    version       BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (node_id, report_key)
);

-- +goose Down
DROP TABLE node_reports;
DROP TABLE node_agents;
DROP TABLE event_log;
DROP TABLE event_heads;
