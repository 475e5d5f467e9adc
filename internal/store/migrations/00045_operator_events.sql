-- The operator event stream (api.md §3 "Operator stream", issue 13,
-- internal/opevents): one bounded log per Domain, written in the
-- transaction of the change it reports (outbox), with the Domain's head
-- (the last sequence number handed out, never reused); and the last
-- reachability state announced per node, so that one replica announces
-- each change once. Portable SQL for SQLite and PostgreSQL.

-- +goose Up
CREATE TABLE operator_event_heads (
    domain_id  TEXT PRIMARY KEY,
    last_seq   BIGINT NOT NULL
);

CREATE TABLE operator_events (
    domain_id    TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    event_type   TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    project_id   TEXT NOT NULL DEFAULT '',
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (domain_id, seq)
);
CREATE INDEX operator_events_created ON operator_events (created_at);

CREATE TABLE operator_reachability (
    node_id    TEXT PRIMARY KEY,
    domain_id  TEXT NOT NULL,
    state      TEXT NOT NULL
);

-- +goose Down
DROP TABLE operator_reachability;
DROP TABLE operator_events;
DROP TABLE operator_event_heads;
