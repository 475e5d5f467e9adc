-- Authorization storage (issue 3): the append-only change log that carries
-- every relation-tuple write to every replica's in-memory index, and the
-- structural flag that separates object-graph tuples (domain#platform,
-- project#domain, resource#project, the creator's grant) from role grants.

-- +goose Up
ALTER TABLE relation_tuples ADD COLUMN structural BOOLEAN NOT NULL DEFAULT FALSE;

-- relation_tuple_log_head is a one-row counter. A writer bumps it inside its
-- transaction and keeps the row lock until commit, so change sequence numbers
-- commit in order and a replica tailing "seq > last" never skips one.
CREATE TABLE relation_tuple_log_head (
    id  INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO relation_tuple_log_head (id, seq) VALUES (1, 0);

CREATE TABLE relation_tuple_changes (
    seq        BIGINT PRIMARY KEY,
    changes    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- relation_tuple_tombstones remembers deleted tuple ids and their scope, so a
-- repeated DELETE is a 404 for whoever may manage that scope and a 403 (as
-- for an id that never existed) for everyone else: no existence oracle.
CREATE TABLE relation_tuple_tombstones (
    id            TEXT PRIMARY KEY,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    project_id    TEXT,
    deleted_at    BIGINT NOT NULL
);

-- +goose Down
DROP TABLE relation_tuple_tombstones;
DROP TABLE relation_tuple_changes;
DROP TABLE relation_tuple_log_head;
ALTER TABLE relation_tuples DROP COLUMN structural;
