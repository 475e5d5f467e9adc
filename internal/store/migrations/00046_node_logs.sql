-- Node logs and host audit (issue 15, internal/obs/logs): the lines and
-- audit events nodes send (§12.7 and the contract's LogLine / AuditEvent),
-- each in a Domain-scoped, append-only table of its own with a sequence
-- number per Domain (the live tail's cursor) handed out from a head row;
-- and the batches already stored per node (Idempotency-Key or content
-- hash), so that a resent batch is not stored twice; and, as the existing
-- agent resends a failed batch merged with newer records, each record's
-- content hash (rec_key) is unique per node. Times are unix
-- nanoseconds (ts, the record's own) and micros (received_at, retention).
-- Portable SQL for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE node_log_heads (
    domain_id  TEXT NOT NULL,
    stream     TEXT NOT NULL,
    last_seq   BIGINT NOT NULL,
    PRIMARY KEY (domain_id, stream)
);

CREATE TABLE node_log_lines (
    domain_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    node_id      TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    source       TEXT NOT NULL,
    unit         TEXT NOT NULL DEFAULT '',
    severity     TEXT NOT NULL DEFAULT '',
    hostname     TEXT NOT NULL DEFAULT '',
    line         TEXT NOT NULL,
    rec_key      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (domain_id, seq)
);
CREATE UNIQUE INDEX node_log_lines_rec ON node_log_lines (node_id, rec_key);
CREATE INDEX node_log_lines_ts ON node_log_lines (domain_id, ts, seq);
CREATE INDEX node_log_lines_node ON node_log_lines (node_id, ts);
CREATE INDEX node_log_lines_received ON node_log_lines (domain_id, received_at);

CREATE TABLE node_audit_events (
    domain_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    node_id      TEXT NOT NULL,
    project_id   TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    source       TEXT NOT NULL,
    action       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    hostname     TEXT NOT NULL DEFAULT '',
    line         TEXT NOT NULL,
    rec_key      TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (domain_id, seq)
);
CREATE UNIQUE INDEX node_audit_events_rec ON node_audit_events (node_id, rec_key);
CREATE INDEX node_audit_events_ts ON node_audit_events (domain_id, ts, seq);
CREATE INDEX node_audit_events_node ON node_audit_events (node_id, ts);
CREATE INDEX node_audit_events_received ON node_audit_events (domain_id, received_at);

CREATE TABLE node_log_batches (
    node_id      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    batch_key    TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (node_id, kind, batch_key)
);
CREATE INDEX node_log_batches_received ON node_log_batches (received_at);

-- +goose Down
DROP TABLE node_log_batches;
DROP TABLE node_audit_events;
DROP TABLE node_log_lines;
DROP TABLE node_log_heads;
